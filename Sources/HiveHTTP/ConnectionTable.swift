#if canImport(Glibc)
import Glibc
#endif
import HiveSystem

/// The HTTP server's open connections and what each is doing, for the connection caps.
///
/// A cap alone would let anyone who can connect lock everyone else out by holding idle sockets (260 that never
/// send a byte did, for the whole idle timeout). So a newcomer past a cap is not refused while some connection
/// has proved nothing: the oldest connection that is waiting for a request (fresh or kept alive), else the one
/// that has spent longest sending an unauthenticated head, is evicted (its socket shut down; its thread sees
/// EOF and leaves) and the newcomer takes its place. Only connections doing admitted work (a request whose head
/// passed authentication, a response, an event stream) are never evicted; a newcomer is refused (503, naming
/// the cap) only when every slot holds one. The per-address cap keeps one remote address from filling the
/// table; it cannot tell local users apart (every loopback client is 127.0.0.1, and a local user can pick any
/// 127/8 source), which is why eviction, not the per-address cap, is what protects them.
final class ConnectionTable: @unchecked Sendable {
    enum Phase: String, Sendable {
        /// No request bytes yet: a fresh connection, or a kept-alive one between requests.
        case waiting
        /// A request's head is arriving, or was refused (nothing of it is being acted on).
        case unauthenticated
        /// A request whose head was admitted is being read or answered (or an event stream is open).
        case working
    }

    private struct Entry {
        let fd: Int32
        let address: String
        var phase: Phase
        var since: ContinuousClock.Instant
    }

    /// Why a connection was not admitted: the cap, worded for the 503 and the log.
    enum Refusal: Error, Sendable, CustomStringConvertible {
        case total(limit: Int)
        case perAddress(address: String, limit: Int)

        var description: String {
            switch self {
            case .total(let limit):
                return "too many connections: all \(limit) (http_max_connections) are busy with admitted requests"
            case .perAddress(let address, let limit):
                return "too many connections from \(address): all \(limit) (http_max_connections_per_address) are busy with admitted requests"
            }
        }
    }

    /// A connection that made room for a newcomer.
    struct Eviction: Sendable {
        var address: String
        var phase: Phase
        var age: Duration
    }

    let maxConnections: Int
    let maxPerAddress: Int
    private let lock = PosixLock()
    private var entries: [UInt64: Entry] = [:]
    private var nextID: UInt64 = 0

    init(maxConnections: Int, maxPerAddress: Int) {
        self.maxConnections = Swift.max(1, maxConnections)
        self.maxPerAddress = Swift.max(1, maxPerAddress)
    }

    var count: Int { lock.withLock { entries.count } }

    /// Admits a new connection (in phase `waiting`), evicting another if a cap is reached and one can go.
    /// Returns its id and the connections evicted for it, or the cap that refused it.
    func admit(fd: Int32, address: String, now: ContinuousClock.Instant = .now) -> Result<(UInt64, [Eviction]), Refusal> {
        lock.withLock {
            var evicted: [Eviction] = []
            let fromAddress = entries.values.reduce(0) { $0 + ($1.address == address ? 1 : 0) }
            if fromAddress >= maxPerAddress {
                guard let e = evictOldest(now: now, where: { $0.address == address }) else {
                    return .failure(.perAddress(address: address, limit: maxPerAddress))
                }
                evicted.append(e)
            }
            if entries.count >= maxConnections {
                guard let e = evictOldest(now: now, where: { _ in true }) else { return .failure(.total(limit: maxConnections)) }
                evicted.append(e)
            }
            nextID &+= 1
            entries[nextID] = Entry(fd: fd, address: address, phase: .waiting, since: now)
            return .success((nextID, evicted))
        }
    }

    /// Records what connection `id` is doing now; false once it was evicted (its socket is shut down: whatever it
    /// was about to do must not start).
    @discardableResult
    func set(_ id: UInt64, _ phase: Phase, now: ContinuousClock.Instant = .now) -> Bool {
        lock.withLock {
            guard entries[id] != nil else { return false }
            if entries[id]!.phase != phase {
                entries[id]!.phase = phase
                entries[id]!.since = now
            }
            return true
        }
    }

    /// Forgets connection `id`. Its thread calls this before it closes the socket, so an eviction (which shuts
    /// the socket down under the same lock) never reaches a descriptor that was closed and reused.
    func remove(_ id: UInt64) {
        lock.withLock { _ = entries.removeValue(forKey: id) }
    }

    /// Shuts down the oldest evictable connection that matches (`waiting` before `unauthenticated`); call with
    /// the lock held.
    private func evictOldest(now: ContinuousClock.Instant, where matches: (Entry) -> Bool) -> Eviction? {
        var victim: (id: UInt64, entry: Entry)?
        for (id, e) in entries where e.phase != .working && matches(e) {
            guard let v = victim else {
                victim = (id, e)
                continue
            }
            let rank = e.phase == .waiting ? 0 : 1, best = v.entry.phase == .waiting ? 0 : 1
            if rank < best || (rank == best && e.since < v.entry.since) { victim = (id, e) }
        }
        guard let (id, e) = victim else { return nil }
        shutdown(e.fd, Int32(SHUT_RDWR))
        entries[id] = nil
        return Eviction(address: e.address, phase: e.phase, age: now - e.since)
    }
}
