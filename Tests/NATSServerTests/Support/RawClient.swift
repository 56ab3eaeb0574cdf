#if canImport(Glibc)
import Glibc
#endif
import Foundation
import HiveTLS
import NATSTestSupport

/// A frame as the raw test client sees it: a control line, or a MSG/HMSG line with its payload.
struct Frame: Equatable, CustomStringConvertible {
    var line: String
    var payload: [UInt8]?

    var description: String { payload.map { "\(line) + \($0.count)B" } ?? line }
    var payloadString: String { String(decoding: payload ?? [], as: UTF8.self) }
}

/// Errors from the raw client, each naming what was expected.
enum RawClientError: Error, CustomStringConvertible {
    case timeout(String)
    case closed(String)
    case unexpected(String)

    var description: String {
        switch self {
        case .timeout(let m): return "timed out: \(m)"
        case .closed(let m): return "connection closed: \(m)"
        case .unexpected(let m): return "unexpected: \(m)"
        }
    }
}

/// A blocking TCP client that reads the server's frames with its own minimal line splitter.
///
/// Deliberately independent of NATSWire's parser: a bug shared by the broker and the test's parser would
/// otherwise cancel out. Every read has a deadline, so a broken server fails a test instead of hanging it.
final class RawClient {
    let fd: Int32
    private var buffer: [UInt8] = []
    private(set) var isClosed = false
    /// Set by `startTLS`: from then on every byte goes through it (the socket is non-blocking).
    private(set) var session: TLSSession?

    init(port: Int, receiveBuffer: Int32? = nil) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        if let receiveBuffer {
            var size = receiveBuffer
            setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(4))
        }
        guard LoopbackSocket.connect(fd, port: port) else { throw RawClientError.closed("connect to \(port) failed: errno \(errno)") }
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(4))
    }

    deinit { close(fd) }

    /// Connects, reads INFO, and (unless `connect` is nil) sends CONNECT + PING and waits for the PONG.
    static func connected(port: Int, connect: String? = #"{"verbose":false,"pedantic":false}"#,
                          receiveBuffer: Int32? = nil) throws -> RawClient {
        let c = try RawClient(port: port, receiveBuffer: receiveBuffer)
        let info = try c.next()
        guard info.line.hasPrefix("INFO ") else { throw RawClientError.unexpected("first line \(info)") }
        if let connect {
            c.send("CONNECT \(connect)\r\nPING\r\n")
            try c.expect("PONG")
        }
        return c
    }

    func send(_ text: String) { send(Array(text.utf8)) }

    func send(_ bytes: [UInt8]) {
        if let session {
            _ = bytes.withUnsafeBytes { session.writeAll($0.baseAddress!, $0.count, timeoutMillis: 10_000) }
            return
        }
        var off = 0
        while off < bytes.count {
            let n = bytes[off...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { return }  // the server may already have closed us; reads will tell
            off += n
        }
    }

    /// Reads more bytes, waiting at most until `deadline`. False on EOF.
    private func fill(until deadline: Date) throws -> Bool {
        if let session { return try fillTLS(session, until: deadline) }
        let remaining = deadline.timeIntervalSinceNow
        if remaining <= 0 { throw RawClientError.timeout("no data") }
        var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        let r = poll(&p, 1, Int32(remaining * 1000) + 1)
        if r == 0 { throw RawClientError.timeout("no data within deadline") }
        var chunk = [UInt8](repeating: 0, count: 65536)
        let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        if n <= 0 {
            isClosed = true
            return false
        }
        buffer.append(contentsOf: chunk[0..<n])
        return true
    }

    func setSession(_ s: TLSSession) { session = s }
    func appendReceived(_ bytes: ArraySlice<UInt8>) { buffer.append(contentsOf: bytes) }
    func markClosed() { isClosed = true }

    /// The next frame from the server.
    func next(timeout: TimeInterval = 5) throws -> Frame {
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            if let lf = buffer.firstIndex(of: 10) {
                var end = lf
                if end > 0 && buffer[end - 1] == 13 { end -= 1 }
                let line = String(decoding: buffer[0..<end], as: UTF8.self)
                let fields = line.split(separator: " ")
                if line.hasPrefix("MSG ") || line.hasPrefix("HMSG ") {
                    guard let size = fields.last.flatMap({ Int($0) }) else { throw RawClientError.unexpected(line) }
                    while buffer.count < lf + 1 + size + 2 {
                        guard try fill(until: deadline) else { throw RawClientError.closed("inside payload of \(line)") }
                    }
                    let payload = Array(buffer[(lf + 1)..<(lf + 1 + size)])
                    buffer.removeFirst(lf + 1 + size + 2)
                    return Frame(line: line, payload: payload)
                }
                buffer.removeFirst(lf + 1)
                return Frame(line: line, payload: nil)
            }
            guard try fill(until: deadline) else {
                throw RawClientError.closed("waiting for a frame (buffered: \(String(decoding: buffer, as: UTF8.self)))")
            }
        }
    }

    /// Reads the next frame and requires its line to equal `line` (or start with it when `prefix`).
    @discardableResult
    func expect(_ line: String, prefix: Bool = false, timeout: TimeInterval = 5) throws -> Frame {
        let f = try next(timeout: timeout)
        guard prefix ? f.line.hasPrefix(line) : f.line == line else {
            throw RawClientError.unexpected("expected '\(line)', got '\(f)'")
        }
        return f
    }

    /// Sends PING and returns every frame that arrives before the PONG: the server processes a connection's
    /// ops in order, so this is the barrier that proves nothing else was (or will be) delivered for them.
    func framesUntilPong(timeout: TimeInterval = 5) throws -> [Frame] {
        send("PING\r\n")
        var frames: [Frame] = []
        while true {
            let f = try next(timeout: timeout)
            if f.line == "PONG" { return frames }
            frames.append(f)
        }
    }

    /// Reads until the server closes the connection; returns the frames seen before the close.
    func framesUntilClosed(timeout: TimeInterval = 5) throws -> [Frame] {
        var frames: [Frame] = []
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            do {
                frames.append(try next(timeout: max(0.01, deadline.timeIntervalSinceNow)))
            } catch RawClientError.closed {
                return frames
            }
        }
    }

    /// Drains and discards everything until the server closes the connection. True if it closed in time.
    func drainUntilClosed(timeout: TimeInterval = 10) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            buffer.removeAll()
            do { if try !fill(until: deadline) { return true } } catch { return false }
        }
        return false
    }
}
