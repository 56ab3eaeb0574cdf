import NATSWire
import Synchronization

/// One client subscription, shared between the subject index and its connection.
///
/// Immutable apart from three atomics, so publishing threads can deliver to it without locks: the delivery
/// count (for UNSUB max), the max itself, and a retired flag that makes removal from the index happen once.
final class Subscription: Sendable {
    let connection: ClientConnection
    let subject: [UInt8]
    let queue: [UInt8]?
    let sid: [UInt8]
    /// Whether the subscriber's connection negotiated headers (HMSG) when it subscribed.
    let wantsHeaders: Bool
    let delivered = Atomic<Int>(0)
    /// Auto-unsubscribe after this many deliveries; 0 means never.
    let maxMessages = Atomic<Int>(0)
    let retired = Atomic<Bool>(false)
    /// Set on a wildcard subscription of a principal with subscribe deny patterns: each delivered subject is
    /// checked against them.
    let denyFilter: CompiledPermissions?
    /// Set when the subscriber may answer what it receives (`allow_responses`): deliveries record reply subjects.
    let responsePermits: ResponsePermits?

    init(connection: ClientConnection, subject: [UInt8], queue: [UInt8]?, sid: [UInt8], wantsHeaders: Bool,
         denyFilter: CompiledPermissions? = nil, responsePermits: ResponsePermits? = nil) {
        self.connection = connection
        self.subject = subject
        self.queue = queue
        self.sid = sid
        self.wantsHeaders = wantsHeaders
        self.denyFilter = denyFilter
        self.responsePermits = responsePermits
    }

    var isRetired: Bool { retired.load(ordering: .acquiring) }

    /// Claims one delivery slot. False when the subscription is retired or already at its max; when this
    /// delivery reaches the max, `reachedMax` tells the caller to retire it after delivering.
    @inline(__always)
    func claimDelivery() -> (ok: Bool, reachedMax: Bool) {
        if retired.load(ordering: .relaxed) { return (false, false) }
        let n = delivered.wrappingAdd(1, ordering: .relaxed).newValue
        let max = maxMessages.load(ordering: .relaxed)
        if max == 0 { return (true, false) }
        if n > max { return (false, false) }
        return (true, n == max)
    }

    /// Removes the subscription from `index` exactly once, whoever calls first (UNSUB, max reached, close).
    func retire(from index: SubjectIndex<Subscription>) {
        guard retired.compareExchange(expected: false, desired: true, ordering: .acquiringAndReleasing).exchanged
        else { return }
        subject.withUnsafeBytes { s in
            if let queue {
                queue.withUnsafeBytes { q in _ = index.remove(s, queue: q, self) }
            } else {
                _ = index.remove(s, self)
            }
        }
    }
}
