#if canImport(Glibc)
import Glibc
#endif
import HiveLog
import HiveSystem
import NATSWire
import Synchronization

/// Why the broker could not start.
public enum BrokerError: Error, CustomStringConvertible, Sendable {
    case invalidConfig(String)
    case listen(ListenAddressError)
    case system(SystemError)
    /// `setPrincipals` on a broker started without principals.
    case notUsingPrincipals

    public var description: String {
        switch self {
        case .invalidConfig(let why): return "invalid broker configuration: \(why)"
        case .listen(let e): return e.description
        case .system(let e): return e.description
        case .notUsingPrincipals:
            return "this broker was started without principals (auth is a single token or user); restart it with principals to change them"
        }
    }
}

/// The embedded NATS-compatible broker: a listener and N event-loop threads.
///
/// `start` binds and returns a running broker; `shutdown` closes every connection and joins the threads.
public final class Broker: Sendable {
    private let shared: SharedBrokerState
    private let loops: [EventLoop]
    private let log = Log("broker")
    private let stopped = Atomic<Bool>(false)

    /// The TCP port actually bound (useful with port 0).
    public var port: Int { shared.port }
    public var config: BrokerConfig { shared.config }

    private init(shared: SharedBrokerState, loops: [EventLoop]) {
        self.shared = shared
        self.loops = loops
    }

    /// Validates `config`, binds its listen address and starts serving.
    public static func start(config: BrokerConfig) throws(BrokerError) -> Broker {
        if let problem = config.validate() { throw .invalidConfig(problem) }
        let socket: ListeningSocket
        do { socket = try ListeningSocket.open(config.listen) } catch { throw .listen(error) }
        let shared = SharedBrokerState(config: config, port: socket.port)
        let count = config.eventLoops > 0 ? config.eventLoops : max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
        var loops: [EventLoop] = []
        do {
            for i in 0..<count { loops.append(try EventLoop(index: i, shared: shared)) }
        } catch {
            close(socket.fd)
            throw .system(error)
        }
        loops[0].listener = socket
        loops[0].acceptTargets = loops
        for loop in loops { loop.start() }
        let broker = Broker(shared: shared, loops: loops)
        broker.log.info("listening", ["addr": ListenAddress(host: config.listen.host, port: socket.port).description,
                                      "event_loops": count, "auth": config.auth.isRequired ? "required" : "none",
                                      "max_payload": config.maxPayload])
        return broker
    }

    /// Closes the listener and every connection, then joins the event-loop threads. Idempotent.
    public func shutdown() {
        guard stopped.compareExchange(expected: false, desired: true, ordering: .acquiringAndReleasing).exchanged else { return }
        for loop in loops { loop.stopAndJoin() }
        log.info("stopped", ["connections_served": shared.stats.totalConnections.load(ordering: .relaxed)])
    }

    /// Replaces the principals: new CONNECTs authenticate against `list`; connections whose principal was removed
    /// or changed (credential or permissions) are closed with `Authorization Violation` (`hive drone revoke`).
    /// Returns once every loop has been asked; the closes happen on the loops moments later.
    public func setPrincipals(_ list: [Principal]) throws(BrokerError) {
        guard let directory = shared.principals else { throw .notUsingPrincipals }
        if let problem = Principal.problem(in: list) { throw .invalidConfig(problem) }
        directory.replace(list)
        log.info("principals_replaced", ["count": list.count])
        for loop in loops { loop.post { loop.revalidatePrincipals(directory) } }
    }

    /// A connection from inside this process (honeycombd's own control plane): one end of a Unix socket pair is
    /// adopted as a client connection — plain text even when the port requires TLS (nobody outside the process
    /// can reach it), authenticated by CONNECT like any other — and the other end returned for the caller's
    /// client to speak NATS on. The caller owns the returned descriptor.
    public func connectInProcess() throws(BrokerError) -> Int32 {
        var fds: [Int32] = [0, 0]
        guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &fds) == 0 else {
            throw .system(SystemError(call: "socketpair", errno: errno))
        }
        let (server, client) = (fds[0], fds[1])
        Syscall.setNonBlocking(server)
        let id = shared.newConnectionID()
        let loop = loops[Int(id % UInt64(loops.count))]
        shared.stats.connections.add(1, ordering: .relaxed)
        shared.stats.totalConnections.add(1, ordering: .relaxed)
        loop.post { loop.adopt(fd: server, id: id, ip: "in-process", inProcess: true) }
        return client
    }

    /// Current counters.
    public func stats() -> BrokerStats.Snapshot { shared.stats.snapshot(subscriptions: shared.index.count) }
}
