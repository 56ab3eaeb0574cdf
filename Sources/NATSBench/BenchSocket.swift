#if canImport(Glibc)
import Glibc
#endif
import HiveSystem
import HiveJSON
import HiveTLS
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
        case .badURL(let u): return "'\(u)' is not a nats://HOST:PORT or tls://HOST:PORT URL"
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
///
/// With `tls` (or a `tls://` URL) it upgrades after INFO as NATS clients do, and then reads and writes through
/// the session on a non-blocking socket, waiting with poll where the plain socket would block.
final class BenchSocket {
    let fd: Int32
    var parser = ServerParser()
    private var session: TLSSession?

    init(url: String, name: String, tls: TLSFiles? = nil) throws(BenchError) {
        var rest = Substring(url)
        var tls = tls
        if rest.hasPrefix("nats://") { rest = rest.dropFirst(7) }
        if rest.hasPrefix("tls://") {
            rest = rest.dropFirst(6)
            if tls == nil { tls = TLSFiles() }
        }
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
        if let tls { try startTLS(tls, host: host, url: url) }
        var connect = JSONWriter()
        connect.beginObject()
        connect.field("verbose", false); connect.field("pedantic", false); connect.field("echo", true)
        connect.field("headers", true); connect.field("protocol", 1); connect.field("name", name)
        connect.field("lang", "swift-bench")
        connect.endObject()
        try write("CONNECT " + connect.text + "\r\n")
        try flushRoundTrip()
    }

    deinit { close(fd) }

    func write(_ s: String) throws(BenchError) { try write(Array(s.utf8)) }

    func write(_ array: [UInt8]) throws(BenchError) {
        let r: Result<Void, BenchError> = array.withUnsafeBytes { b in Result { () throws(BenchError) in try write(b) } }
        try r.get()
    }

    func write(_ bytes: Bytes) throws(BenchError) {
        if let session {
            guard session.writeAll(bytes.baseAddress!, bytes.count) else { throw .io("TLS write failed or stalled") }
            return
        }
        guard let base = bytes.baseAddress else { return }
        do { try Syscall.writeAll(fd, base, bytes.count) } catch { throw .io("send: \(error.reason)") }
    }

    /// Reads once into `buffer`, feeding `handler`. Returns false on EOF.
    func readOnce<H: ServerOpHandler>(_ buffer: UnsafeMutableRawBufferPointer, _ handler: H) throws(BenchError) -> Bool {
        if let session { return try readTLS(session, buffer, handler) }
        let n: Int
        switch Syscall.read(fd, buffer.baseAddress!, buffer.count) {
        case .bytes(let count): n = count
        case .wouldBlock: return true
        case .eof: return false
        case .failed(let e): throw .io("recv: \(SystemError(call: "recv", errno: e).reason)")
        }
        do { try parser.parse(UnsafeRawBufferPointer(rebasing: buffer[0..<n]), handler: handler) } catch {
            throw .protocolError("\(error)")
        }
        return true
    }

    /// Reads INFO in plain text, then runs the handshake (verifying the server for `host`).
    private func startTLS(_ files: TLSFiles, host: String, url: String) throws(BenchError) {
        var info: [UInt8] = []
        var byte: UInt8 = 0
        while info.last != 10 {  // byte by byte: nothing after INFO may be consumed before the handshake
            guard recv(fd, &byte, 1, 0) == 1 else { throw .io("no INFO from \(url)") }
            info.append(byte)
        }
        guard String(decoding: info, as: UTF8.self).contains("\"tls_required\":true") else {
            throw .protocolError("\(url) does not offer TLS (its INFO has no tls_required)")
        }
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL, 0) | O_NONBLOCK)
        do {
            let s = try TLSContext.client(files).session(fd: fd, peer: url, host: host)
            if let e = s.handshake(until: Monotonic.after(Monotonic.now(), nanos: 10_000_000_000)) { throw e }
            session = s
        } catch {
            throw .io("\(error)")
        }
    }

    /// Decrypted bytes wait inside OpenSSL: read again before polling the socket, which may stay quiet.
    var hasBufferedInput: Bool { session?.hasBufferedInput ?? false }

    /// Like one blocking `recv`: waits (poll) until some bytes decrypt, then fills `buffer` with what is
    /// available without waiting (OpenSSL hands out one record per call) and parses it once. Bytes may remain
    /// inside OpenSSL when the buffer fills: `hasBufferedInput` says so.
    private func readTLS<H: ServerOpHandler>(_ session: TLSSession, _ buffer: UnsafeMutableRawBufferPointer,
                                            _ handler: H) throws(BenchError) -> Bool {
        var filled = 0
        var closed = false
        fill: while filled < buffer.count {
            switch session.read(buffer.baseAddress! + filled, buffer.count - filled) {
            case .bytes(let n): filled += n
            case .wantRead, .wantWrite:
                if filled > 0 { break fill }
                var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
                _ = poll(&p, 1, 1_000)
            case .closed:
                closed = true
                break fill
            case .failed(let e): throw .io("\(e)")
            }
        }
        if filled == 0 { return !closed }
        do { try parser.parse(UnsafeRawBufferPointer(rebasing: buffer[0..<filled]), handler: handler) } catch {
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
