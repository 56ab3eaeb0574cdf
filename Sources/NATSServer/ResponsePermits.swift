import HiveSystem
import NATSWire

/// The reply subjects one connection may answer under `allow_responses`: recorded when a message with a reply
/// subject is delivered to it (on any loop's thread), spent when it publishes there (on its own loop).
///
/// Bounded at `limit` entries: past it, spent and expired permits are pruned, and if every one is still live
/// the table starts over (those requesters' replies are then refused), so a flood of requests cannot grow it.
final class ResponsePermits: @unchecked Sendable {
    private struct Permit {
        var receivedAt: UInt64
        var used: Int
    }

    private let lock = PosixLock()
    private var table = ByteKeyTable<Permit>()
    private let rule: ResponsePermission
    private let limit: Int

    init(rule: ResponsePermission, limit: Int) {
        self.rule = rule
        self.limit = max(1, limit)
    }

    /// A message with reply subject `reply` was delivered at `now`: one more permit (a repeat starts it afresh).
    func record(_ reply: Bytes, now: UInt64) {
        lock.withLock {
            if table.count >= limit && table.value(for: reply) == nil {
                prune(now: now)
                if table.count >= limit { table.removeAll() }
            }
            table.set(Permit(receivedAt: now, used: 0), for: reply)
        }
    }

    /// Spends one response to `subject`; false when there is no live permit for it.
    func spend(_ subject: Bytes, now: UInt64) -> Bool {
        lock.withLock {
            guard var permit = table.value(for: subject) else { return false }
            permit.used &+= 1
            if isSpent(permit, now: now) {
                _ = table.remove(subject)
                return false
            }
            table.set(permit, for: subject)
            return true
        }
    }

    var count: Int { lock.withLock { table.count } }

    private func isSpent(_ p: Permit, now: UInt64) -> Bool {
        if rule.maxMessages > 0 && p.used > rule.maxMessages { return true }
        return rule.expiresMillis > 0
            && Monotonic.elapsed(from: p.receivedAt, to: now) > Monotonic.nanos(millis: rule.expiresMillis)
    }

    private func prune(now: UInt64) {
        // A permit already used `max` times cannot answer again.
        let dead = table.entries.filter { isSpent(Permit(receivedAt: $0.value.receivedAt, used: $0.value.used &+ 1), now: now) }
        for (key, _) in dead { key.withUnsafeBytes { _ = table.remove($0) } }
    }
}
