#if canImport(Glibc)
import Glibc
#endif
import NATSWire

/// Why a benchmark could not run.
public enum BenchError: Error, CustomStringConvertible, Sendable {
    case badURL(String)
    case connect(String, Int32)
    case io(String)
    case protocolError(String)
    case timeout(String)

    public var description: String {
        switch self {
        case .badURL(let u): return "'\(u)' is not a nats://HOST:PORT URL"
        case .connect(let a, let e): return "cannot connect to \(a): \(String(cString: strerror(e)))"
        case .io(let m): return "I/O error: \(m)"
        case .protocolError(let m): return "protocol error: \(m)"
        case .timeout(let m): return "timed out: \(m)"
        }
    }
}

/// A blocking TCP connection speaking just enough client protocol for load generation.
///
/// Deliberately not the `NATSClient` library: the benchmark measures the broker, so its client is a raw socket
/// writer/reader whose own cost is visible (the publish-only figure) and small.
final class BenchSocket {
    let fd: Int32
    var parser = ServerParser()

    init(url: String, name: String) throws(BenchError) {
        var rest = Substring(url)
        if rest.hasPrefix("nats://") { rest = rest.dropFirst(7) }
        guard let colon = rest.lastIndex(of: ":"), let port = Int(rest[rest.index(after: colon)...]) else {
            throw .badURL(url)
        }
        let host = String(rest[..<colon])
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var res: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, String(port), &hints, &res) == 0, let ai = res else { throw .badURL(url) }
        defer { freeaddrinfo(res) }
        fd = socket(ai.pointee.ai_family, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0, Glibc.connect(fd, ai.pointee.ai_addr, ai.pointee.ai_addrlen) == 0 else {
            throw .connect(url, errno)
        }
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(4))
        var big: Int32 = 4 << 20
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, socklen_t(4))
        setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &big, socklen_t(4))
        try write("CONNECT {\"verbose\":false,\"pedantic\":false,\"echo\":true,\"headers\":true,\"protocol\":1,\"name\":\"\(name)\",\"lang\":\"swift-bench\"}\r\n")
        try flushRoundTrip()
    }

    deinit { close(fd) }

    func write(_ s: String) throws(BenchError) { try write(Array(s.utf8)) }

    func write(_ array: [UInt8]) throws(BenchError) {
        let r: Result<Void, BenchError> = array.withUnsafeBytes { b in Result { () throws(BenchError) in try write(b) } }
        try r.get()
    }

    func write(_ bytes: Bytes) throws(BenchError) {
        var off = 0
        while off < bytes.count {
            let n = send(fd, bytes.baseAddress! + off, bytes.count - off, Int32(MSG_NOSIGNAL))
            if n < 0 {
                if errno == EINTR { continue }
                throw .io("send: \(String(cString: strerror(errno)))")
            }
            off += n
        }
    }

    /// Reads once into `buffer`, feeding `handler`. Returns false on EOF.
    func readOnce<H: ServerOpHandler>(_ buffer: UnsafeMutableRawBufferPointer, _ handler: H) throws(BenchError) -> Bool {
        let n = recv(fd, buffer.baseAddress, buffer.count, 0)
        if n == 0 { return false }
        if n < 0 {
            if errno == EINTR || errno == EAGAIN { return true }
            throw .io("recv: \(String(cString: strerror(errno)))")
        }
        do { try parser.parse(UnsafeRawBufferPointer(rebasing: buffer[0..<n]), handler: handler) } catch {
            throw .protocolError("\(error)")
        }
        return true
    }

    /// Sends PING and reads until the PONG (answering server PINGs and skipping INFO/+OK on the way).
    func flushRoundTrip() throws(BenchError) {
        try write("PING\r\n")
        let waiter = PongWaiter(socket: self)
        let buf = UnsafeMutableRawBufferPointer.allocate(byteCount: 64 * 1024, alignment: 8)
        defer { buf.deallocate() }
        while !waiter.gotPong {
            guard try readOnce(buf, waiter) else { throw .io("server closed the connection") }
            if let e = waiter.error { throw .protocolError("server said -ERR '\(e)'") }
        }
    }
}

/// Waits for one PONG; counts messages that arrive meanwhile.
final class PongWaiter: ServerOpHandler {
    let socket: BenchSocket
    var gotPong = false
    var error: String?
    var messages = 0
    init(socket: BenchSocket) { self.socket = socket }
    func handle(_ op: ServerOp) throws(NATSProtocolError) -> Bool {
        switch op {
        case .pong: gotPong = true
        case .ping: try? socket.write("PONG\r\n")
        case .err(let t): error = t.string
        case .msg: messages += 1
        case .info, .ok: break
        }
        return true
    }
}
