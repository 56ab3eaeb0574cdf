#if canImport(Glibc)
import Glibc
#endif
import CEpoll
import Dispatch
import HiveLog
import HiveSystem
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
/// stalled scheduler), keep-alive, bounded requests (`HTTPRequestParser.Limits`) and connections.
///
/// Deadlines: a request must arrive whole within `requestTimeout` of its first byte (slowloris: trickling
/// headers does not hold a connection open), an idle keep-alive connection closes after `idleTimeout`, and a
/// client that stops reading a response is dropped after `writeTimeout`. Handlers are async and run on Swift's
/// pool; the connection thread waits for them.
public final class HTTPServer: @unchecked Sendable {
    public struct Options: Sendable {
        public var limits = HTTPRequestParser.Limits()
        public var maxConnections = 256
        public var requestTimeout = 10.0
        public var idleTimeout = 60.0
        public var writeTimeout = 10.0
        /// How often an idle event stream sends a comment line (keeps proxies from closing it).
        public var keepAliveEvery = 15.0
        public init() {}
    }

    public typealias Handler = @Sendable (HTTPRequest) async -> HTTPReply

    public let port: Int
    private let listenFD: Int32
    private let options: Options
    private let handler: Handler
    private let open = Atomic<Int>(0)
    private let stopping = Atomic<Bool>(false)
    private let streams = Mutex<[ObjectIdentifier: EventStream]>([:])
    private let log = Log("http")
    private var acceptThread: OSThread?

    /// Binds `host:port` (port 0 picks one; see `port`) and starts accepting.
    public static func start(host: String, port: Int, options: Options = Options(), handler: @escaping Handler) throws(HTTPServerError) -> HTTPServer {
        let (fd, bound) = try listen(host: host, port: port)
        let server = HTTPServer(fd: fd, port: bound, options: options, handler: handler)
        server.acceptThread = OSThread(name: "http-accept") { server.acceptLoop() }
        return server
    }

    private init(fd: Int32, port: Int, options: Options, handler: @escaping Handler) {
        listenFD = fd
        self.port = port
        self.options = options
        self.handler = handler
    }

    /// Stops accepting, ends event streams, and lets open connections finish their current response.
    public func stop() {
        guard !stopping.exchange(true, ordering: .acquiringAndReleasing) else { return }
        shutdown(listenFD, Int32(SHUT_RDWR))
        acceptThread?.join()
        close(listenFD)
        for s in streams.withLock({ Array($0.values) }) { s.close() }
    }

    private static func listen(host: String, port: Int) throws(HTTPServerError) -> (Int32, Int) {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_flags = AI_PASSIVE
        var res: UnsafeMutablePointer<addrinfo>?
        let rc = getaddrinfo(host, String(port), &hints, &res)
        guard rc == 0, let first = res else { throw .cannotListen("\(host):\(port)", String(cString: gai_strerror(rc))) }
        defer { freeaddrinfo(res) }
        var why = "no address"
        var ai: UnsafeMutablePointer<addrinfo>? = first
        while let a = ai {
            defer { ai = a.pointee.ai_next }
            let fd = socket(a.pointee.ai_family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            guard fd >= 0 else { continue }
            var one: Int32 = 1
            _ = setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
            if bind(fd, a.pointee.ai_addr, a.pointee.ai_addrlen) != 0 || Glibc.listen(fd, 1024) != 0 {
                why = String(cString: strerror(hive_errno()))
                close(fd)
                continue
            }
            var storage = sockaddr_storage()
            var len = socklen_t(MemoryLayout<sockaddr_storage>.size)
            _ = withUnsafeMutablePointer(to: &storage) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
            let bound = withUnsafePointer(to: &storage) { p -> Int in
                if Int32(p.pointee.ss_family) == AF_INET6 {
                    return p.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { Int(UInt16(bigEndian: $0.pointee.sin6_port)) }
                }
                return p.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { Int(UInt16(bigEndian: $0.pointee.sin_port)) }
            }
            return (fd, bound)
        }
        throw .cannotListen("\(host):\(port)", why)
    }

    private func acceptLoop() {
        while !stopping.load(ordering: .acquiring) {
            let fd = accept(listenFD, nil, nil)
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
            if open.wrappingAdd(1, ordering: .relaxed).newValue > options.maxConnections {
                _ = Self.write(fd, HTTPResponse.error(503, "too many connections (\(options.maxConnections))").serialized(keepAlive: false))
                close(fd)
                open.wrappingSubtract(1, ordering: .relaxed)
                continue
            }
            OSThread(name: "http-conn") { [self] in
                serve(fd)
                close(fd)
                open.wrappingSubtract(1, ordering: .relaxed)
            }.detach()
        }
    }

    private static func setTimeout(_ fd: Int32, _ option: Int32, _ seconds: Double) {
        var tv = timeval(tv_sec: Int(seconds), tv_usec: Int(seconds.truncatingRemainder(dividingBy: 1) * 1_000_000))
        _ = setsockopt(fd, SOL_SOCKET, option, &tv, socklen_t(MemoryLayout<timeval>.size))
    }

    /// Writes everything or fails (the client left, or stopped reading for `writeTimeout`).
    static func write(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
        var sent = 0
        while sent < bytes.count {
            let n = bytes.withUnsafeBytes { send(fd, $0.baseAddress! + sent, bytes.count - sent, Int32(MSG_NOSIGNAL)) }
            if n > 0 {
                sent += n
            } else if n < 0 && hive_errno() == EINTR {
                continue
            } else {
                return false
            }
        }
        return true
    }

    private func serve(_ fd: Int32) {
        Self.setTimeout(fd, SO_RCVTIMEO, 0.25)
        Self.setTimeout(fd, SO_SNDTIMEO, options.writeTimeout)
        var one: Int32 = 1
        _ = setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        var parser = HTTPRequestParser(limits: options.limits)
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        var requestStarted: ContinuousClock.Instant?
        var lastActivity = ContinuousClock.now
        while true {
            do {
                if let request = try parser.next() {
                    requestStarted = nil
                    guard respond(fd, request) else { return }
                    lastActivity = .now
                    continue
                }
            } catch {
                _ = Self.write(fd, HTTPResponse.error(error.status, error.description).serialized(keepAlive: false))
                return
            }
            let now = ContinuousClock.now
            if parser.buffered > 0 {
                if requestStarted == nil { requestStarted = now }
                if now - requestStarted! > .seconds(options.requestTimeout) {
                    _ = Self.write(fd, HTTPResponse.error(408, "the request did not arrive within \(options.requestTimeout) s").serialized(keepAlive: false))
                    return
                }
            } else if now - lastActivity > .seconds(options.idleTimeout) || stopping.load(ordering: .relaxed) {
                return
            }
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress!, $0.count, 0) }
            if n > 0 {
                parser.append(buffer[0..<n])
            } else if n == 0 {
                return
            } else {
                let e = hive_errno()
                if e != EAGAIN && e != EWOULDBLOCK && e != EINTR { return }
            }
        }
    }

    /// Answers one request; false when the connection must close.
    private func respond(_ fd: Int32, _ request: HTTPRequest) -> Bool {
        let reply = run(request)
        switch reply {
        case .response(let response):
            let keep = request.keepAlive && !stopping.load(ordering: .relaxed)
            return Self.write(fd, response.serialized(keepAlive: keep, head: request.method == "HEAD")) && keep
        case .events(let stream, let headers):
            streams.withLock { $0[ObjectIdentifier(stream)] = stream }
            defer {
                stream.close()
                streams.withLock { $0[ObjectIdentifier(stream)] = nil }
            }
            var head = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\nConnection: close\r\n"
            for (n, v) in headers { head += "\(n): \(v)\r\n" }
            guard Self.write(fd, Array((head + "\r\n").utf8)) else { return false }
            var probe = [UInt8](repeating: 0, count: 512)
            while let frames = stream.take(waiting: options.keepAliveEvery) {
                let text = frames.isEmpty ? ": keep-alive\n\n" : frames.joined()
                guard Self.write(fd, Array(text.utf8)) else { return false }
                // A client that closed its side is gone: stop producing for it.
                let n = probe.withUnsafeMutableBytes { recv(fd, $0.baseAddress!, $0.count, Int32(MSG_DONTWAIT)) }
                if n == 0 { return false }
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
