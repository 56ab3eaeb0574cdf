#if canImport(Glibc)
import Glibc
#endif
import CEpoll
import Dispatch
import HiveLog
import HiveSystem
import HiveTLS
import Synchronization

/// Why the HTTP server could not start.
public enum HTTPServerError: Error, CustomStringConvertible, Sendable {
    case cannotListen(String, String)

    public var description: String {
        switch self {
        case .cannotListen(let address, let why): return "cannot listen for HTTP on \(address): \(why)"
        }
    }
}

/// An HTTP/1.1 server for honeycombd's API, dashboard and metrics: one accept thread, one OS thread per
/// connection (blocking reads with short timeouts, so slow or silent clients cost a parked thread, never a
/// stalled scheduler), keep-alive, bounded requests (`HTTPRequestParser.Limits`) and connections
/// (`ConnectionTable`: a newcomer past a cap evicts a connection that is not doing admitted work).
///
/// Each request is decided in two steps: `admit` sees its head (authentication, route, method, content type,
/// declared size) before any of its body is read, and a refusal goes out at once; if the request announced a
/// body, the connection then closes without reading it. Only an admitted request's body is read and handed to
/// `handler`.
///
/// Deadlines: a fresh connection must send its first byte within `firstByteTimeout`, a request must arrive
/// whole within `requestTimeout` of its first byte (slowloris: trickling headers does not hold a connection
/// open), an idle keep-alive connection closes after `idleTimeout`, and a client that stops reading a response
/// is dropped after `writeTimeout`. Handlers are async and run on Swift's pool; the connection thread waits.
///
/// With a `TLSServerIdentity` it serves HTTPS only: each connection's thread runs the handshake first
/// (`HTTPSHandshake`, within `firstByteTimeout`) and everything after goes through the session
/// (`ConnectionStream`); a plain HTTP request gets Go's plain-text 400, and responses carry HSTS.
public final class HTTPServer: @unchecked Sendable {
    public struct Options: Sendable, Equatable {
        public var limits = HTTPRequestParser.Limits()
        public var maxConnections = 256
        /// Connections from one address (past it, that address's idle ones are evicted, else 503).
        public var maxConnectionsPerAddress = 64
        /// How long a fresh connection may stay silent before its first request byte.
        public var firstByteTimeout = 5.0
        public var requestTimeout = 10.0
        public var idleTimeout = 60.0
        public var writeTimeout = 10.0
        /// How often an idle event stream sends a comment line (keeps proxies from closing it).
        public var keepAliveEvery = 15.0
        public init() {}
    }

    public typealias Handler = @Sendable (HTTPRequest) async -> HTTPReply
    /// Decides from a request's head alone (no body yet): nil admits it, a response refuses it.
    public typealias Admission = @Sendable (HTTPRequest) -> HTTPResponse?

    /// How long a refused request's connection keeps draining what the client still sends before it closes (so
    /// the client reads the refusal instead of a reset), and how much it drains at most.
    static let lingerTimeout = 2.0
    static let lingerBytes = 1 << 20

    public let port: Int
    /// HTTPS when set.
    public let tls: TLSServerIdentity?
    private let handshake: HTTPSHandshake?
    private let listenFD: Int32
    private let options: Options
    private let handler: Handler
    private let admission: Admission
    private let connections: ConnectionTable
    private let stopping = Atomic<Bool>(false)
    private let streams = Mutex<[ObjectIdentifier: EventStream]>([:])
    private let log = Log("http")
    private var acceptThread: OSThread?

    /// Binds `host:port` (port 0 picks one; see `port`) and starts accepting. `admit` judges each request's head
    /// before its body is read (default: admit everything).
    /// With `tls`, every connection is HTTPS with that identity's current certificate.
    public static func start(host: String, port: Int, options: Options = Options(), tls: TLSServerIdentity? = nil,
                             admit: @escaping Admission = { _ in nil },
                             handler: @escaping Handler) throws(HTTPServerError) -> HTTPServer {
        let (fd, bound) = try listen(host: host, port: port)
        let server = HTTPServer(fd: fd, port: bound, options: options, tls: tls, admit: admit, handler: handler)
        server.acceptThread = OSThread(name: "http-accept") { server.acceptLoop() }
        return server
    }

    private init(fd: Int32, port: Int, options: Options, tls: TLSServerIdentity?, admit: @escaping Admission, handler: @escaping Handler) {
        self.tls = tls
        handshake = tls.map { HTTPSHandshake(identity: $0, writeTimeout: options.writeTimeout,
                                                 firstByteTimeout: options.firstByteTimeout) }
        listenFD = fd
        self.port = port
        self.options = options
        self.handler = handler
        admission = admit
        connections = ConnectionTable(maxConnections: options.maxConnections, maxPerAddress: options.maxConnectionsPerAddress)
    }

    /// Stops accepting, ends event streams, and lets open connections finish their current response.
    public func stop() {
        guard !stopping.exchange(true, ordering: .acquiringAndReleasing) else { return }
        shutdown(listenFD, Int32(SHUT_RDWR))
        acceptThread?.join()
        close(listenFD)
        for s in streams.withLock({ Array($0.values) }) { s.close() }
    }

    /// A blocking listening socket (the accept thread waits in `accept`), backlog 1024.
    private static func listen(host: String, port: Int) throws(HTTPServerError) -> (Int32, Int) {
        do {
            let socket = try ListeningSocket.open(host: host, port: port, backlog: 1024, nonBlocking: false)
            return (socket.fd, socket.port)
        } catch {
            switch error {
            case .unresolvable(_, let reason): throw .cannotListen("\(host):\(port)", reason)
            case .cannotListen(let e): throw .cannotListen("\(host):\(port)", e.reason)
            }
        }
    }

    private func acceptLoop() {
        // One line a second at most for each: a flood of connections must not become a flood of log lines.
        let refusals = LogThrottle(intervalMillis: 1_000), evictions = LogThrottle(intervalMillis: 1_000)
        while !stopping.load(ordering: .acquiring) {
            var peer = sockaddr_storage()
            var peerLength = socklen_t(MemoryLayout<sockaddr_storage>.size)
            let fd = withUnsafeMutablePointer(to: &peer) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { accept(listenFD, $0, &peerLength) } }
            if fd < 0 {
                let e = hive_errno()
                if e == EINTR || e == ECONNABORTED { continue }
                if e == EMFILE || e == ENFILE {
                    log.warn("accept_failed", ["reason": "out of file descriptors"])
                    usleep(100_000)
                    continue
                }
                return  // shut down
            }
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
            let address = Self.address(peer, peerLength)
            let id: UInt64
            switch connections.admit(fd: fd, address: address) {
            case .failure(let refusal):
                if let suppressed = refusals.admit(now: Monotonic.now()) {
                    log.warn("connection_refused", ["address": address, "reason": refusal.description, "suppressed": suppressed])
                }
                // A plain-text 503 would be garbage to a TLS client, and a handshake here would stall the accept
                // thread: over HTTPS the refused connection just closes (the log says why).
                if tls == nil {
                    Self.setTimeout(fd, SO_SNDTIMEO, 1)
                    _ = ConnectionStream.plain(fd).write(HTTPResponse.error(503, refusal.description).serialized(keepAlive: false))
                }
                close(fd)
                continue
            case .success(let (admitted, evicted)):
                id = admitted
                if let last = evicted.last, let suppressed = evictions.admit(now: Monotonic.now()) {
                    log.warn("connections_evicted", ["count": evicted.count, "suppressed": suppressed, "last_address": last.address,
                                                     "reason": "connection cap reached (http_max_connections \(options.maxConnections), per address \(options.maxConnectionsPerAddress)); idle or unauthenticated connections make room"])
                }
            }
            OSThread(name: "http-conn") { [self] in
                Self.blockSIGPIPE()
                serve(fd, id: id, address: address)
                connections.remove(id)
                close(fd)
            }.detach()
        }
    }

    /// The peer's IP address as text (the per-address cap's key).
    private static func address(_ storage: sockaddr_storage, _ length: socklen_t) -> String {
        let host = ListeningSocket.numericHost(of: storage, length: length)
        return host.isEmpty ? "?" : host
    }

    private static func setTimeout(_ fd: Int32, _ option: Int32, _ seconds: Double) {
        var tv = timeval(tv_sec: Int(seconds), tv_usec: Int(seconds.truncatingRemainder(dividingBy: 1) * 1_000_000))
        _ = setsockopt(fd, SOL_SOCKET, option, &tv, socklen_t(MemoryLayout<timeval>.size))
    }

    /// OpenSSL writes with write(2), which raises SIGPIPE when the client has gone (a library must not count on the
    /// process ignoring it). Blocked on the connection's thread, the signal stays pending there (and dies with the
    /// thread) and the write fails with EPIPE, as `send(MSG_NOSIGNAL)` does for plain connections.
    private static func blockSIGPIPE() {
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, SIGPIPE)
        pthread_sigmask(SIG_BLOCK, &set, nil)
    }

    /// Sets the socket up, opens its stream (the TLS handshake, over HTTPS) and serves it; sends close_notify at
    /// the end. The caller closes `fd`.
    private func serve(_ fd: Int32, id: UInt64, address: String) {
        let accepted = ContinuousClock.now
        Self.setTimeout(fd, SO_RCVTIMEO, 0.25)
        Self.setTimeout(fd, SO_SNDTIMEO, options.writeTimeout)
        var one: Int32 = 1
        _ = setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        var stream = ConnectionStream.plain(fd)
        if let handshake {
            let deadline = Monotonic.after(Monotonic.now(), nanos: Monotonic.nanos(seconds: options.firstByteTimeout))
            guard let secured = handshake.open(fd: fd, address: address, deadline: deadline,
                                               stopping: { stopping.load(ordering: .relaxed) }) else { return }
            stream = secured
        }
        defer { stream.finish() }
        serve(stream, id: id, since: accepted)
    }

    /// A response's bytes on this server (HSTS over TLS).
    private func wire(_ response: HTTPResponse, keepAlive: Bool, head: Bool = false) -> [UInt8] {
        response.serialized(keepAlive: keepAlive, head: head, overTLS: tls != nil)
    }

    private func lingerClose(_ stream: ConnectionStream) {
        stream.lingerClose(timeout: Self.lingerTimeout, maxBytes: Self.lingerBytes)
    }

    /// The request loop. `since`: when the connection was accepted (a TLS handshake spends the first-byte grace).
    private func serve(_ stream: ConnectionStream, id: UInt64, since accepted: ContinuousClock.Instant) {
        var parser = HTTPRequestParser(limits: options.limits)
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        var requestStarted: ContinuousClock.Instant?
        var lastActivity = accepted
        var answered = 0
        // Whether the current request's head passed `admission` (its body may be read).
        var admitted = false
        /// After a response: the connection waits for its next request.
        func finished() {
            requestStarted = nil
            admitted = false
            answered += 1
            lastActivity = .now
            connections.set(id, .waiting)
        }
        while true {
            do {
                if !admitted, let head = try parser.head() {
                    if let refusal = admission(head) {
                        // Decided from the head: the body, if any, is never read, so the connection cannot go on.
                        guard !parser.headAnnouncesBody, let request = try parser.next() else {
                            _ = stream.write(wire(refusal, keepAlive: false, head: head.method == "HEAD"))
                            lingerClose(stream)
                            return
                        }
                        let keep = request.keepAlive && !stopping.load(ordering: .relaxed)
                        guard stream.write(wire(refusal, keepAlive: keep, head: request.method == "HEAD")), keep else { return }
                        finished()
                        continue
                    }
                    admitted = true
                    guard connections.set(id, .working) else { return }  // evicted meanwhile: do not start the work
                    if parser.headAnnouncesBody && parser.buffered == 0 && head.expectsContinue {
                        guard stream.write(Array("HTTP/1.1 100 Continue\r\n\r\n".utf8)) else { return }
                    }
                }
                if admitted, let request = try parser.next() {
                    guard respond(stream, request) else { return }
                    finished()
                    continue
                }
            } catch {
                _ = stream.write(wire(.error(error.status, error.description), keepAlive: false))
                lingerClose(stream)
                return
            }
            let now = ContinuousClock.now
            if parser.buffered > 0 || parser.inBody {
                if requestStarted == nil {
                    requestStarted = now
                    if !admitted { connections.set(id, .unauthenticated) }
                }
                if now - requestStarted! > .seconds(options.requestTimeout) {
                    _ = stream.write(wire(.error(408, "the request did not arrive within \(options.requestTimeout) s"), keepAlive: false))
                    return
                }
            } else if stopping.load(ordering: .relaxed) {
                return
            } else if answered == 0 {
                // A fresh connection that sends nothing holds a slot for nothing: short grace.
                if now - lastActivity > .seconds(options.firstByteTimeout) { return }
            } else if now - lastActivity > .seconds(options.idleTimeout) {
                return
            }
            switch buffer.withUnsafeMutableBytes({ stream.read(into: $0) }) {
            case .bytes(let n): parser.append(buffer[0..<n])
            case .nothingYet: break
            case .closed: return
            }
        }
    }

    /// Answers one request; false when the connection must close.
    private func respond(_ stream: ConnectionStream, _ request: HTTPRequest) -> Bool {
        let reply = run(request)
        switch reply {
        case .response(let response):
            let keep = request.keepAlive && !stopping.load(ordering: .relaxed)
            return stream.write(wire(response, keepAlive: keep, head: request.method == "HEAD")) && keep
        case .events(let events, let headers):
            streams.withLock { $0[ObjectIdentifier(events)] = events }
            defer {
                events.close()
                streams.withLock { $0[ObjectIdentifier(events)] = nil }
            }
            var head = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n"
            for (n, v) in SecurityHeaders.added(to: headers, overTLS: tls != nil) { head += "\(n): \(v)\r\n" }
            guard stream.write(Array((head + "\r\n").utf8)) else { return false }
            while let frames = events.take(waiting: options.keepAliveEvery) {
                let text = frames.isEmpty ? ": keep-alive\n\n" : frames.joined()
                guard stream.write(Array(text.utf8)) else { return false }
                // A client that closed its side is gone: stop producing for it.
                if stream.clientLeft() { return false }
            }
            return false
        }
    }

    /// Runs the async handler and waits for it on this (connection) thread.
    private func run(_ request: HTTPRequest) -> HTTPReply {
        final class Box: @unchecked Sendable { var reply: HTTPReply? }
        let box = Box()
        let done = DispatchSemaphore(value: 0)
        let handler = self.handler
        Task {
            box.reply = await handler(request)
            done.signal()
        }
        done.wait()
        return box.reply!
    }
}
