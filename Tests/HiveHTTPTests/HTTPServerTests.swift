#if canImport(Glibc)
import Glibc
#endif
import Dispatch
import HiveTLS
import Synchronization
@testable import HiveHTTP
import Testing

/// A blocking test client on a real socket: sends bytes, reads one response at a time; over TLS once `session`
/// is set (`HTTPSServerTests`).
final class RawClient {
    let fd: Int32
    var pending: [UInt8] = []
    var session: TLSSession?

    init(port: Int) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let rc = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard rc == 0 else { throw HTTPError.badRequest("connect failed") }
        var tv = timeval(tv_sec: 5, tv_usec: 0)
        _ = setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    }

    deinit { close(fd) }

    func send(_ text: String) {
        let bytes = Array(text.utf8)
        if let session {
            _ = bytes.withUnsafeBytes { session.writeAll($0.baseAddress!, $0.count, timeoutMillis: 5_000) }
        } else {
            _ = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress!, $0.count, Int32(MSG_NOSIGNAL)) }
        }
    }

    /// One read, waiting up to 5 s: the byte count, 0 when the peer closed (TCP or close_notify), -1 otherwise.
    func receive(_ buf: UnsafeMutableRawBufferPointer) -> Int {
        guard let session else { return recv(fd, buf.baseAddress!, buf.count, 0) }
        switch session.read(buf.baseAddress!, buf.count) {
        case .bytes(let n): return n
        case .closed: return 0
        default: return -1
        }
    }

    /// Reads until `predicate` holds on what has arrived, or the peer closes / 5 s pass.
    func read(until predicate: ([UInt8]) -> Bool) -> [UInt8] {
        var buf = [UInt8](repeating: 0, count: 65536)
        while !predicate(pending) {
            let n = buf.withUnsafeMutableBytes { receive($0) }
            if n <= 0 { break }
            pending += buf[0..<n]
        }
        return pending
    }

    /// One response: status, headers (lower-cased names), body (by Content-Length).
    func response(head: Bool = false) -> (status: Int, headers: [String: String], body: String)? {
        let data = read { bytes in
            guard let end = Self.headEnd(bytes) else { return false }
            let text = String(decoding: bytes[..<end], as: UTF8.self).lowercased()
            let length = text.split(separator: "\r\n").first { $0.hasPrefix("content-length:") }.flatMap { Int($0.dropFirst(15).trimmingPrefix(" ")) } ?? 0
            return bytes.count >= end + 4 + (head ? 0 : length)
        }
        guard let end = Self.headEnd(data) else { return nil }
        let lines = String(decoding: data[..<end], as: UTF8.self).split(separator: "\r\n")
        guard let status = lines.first.flatMap({ Int($0.split(separator: " ")[1]) }) else { return nil }
        var headers: [String: String] = [:]
        for l in lines.dropFirst() {
            let kv = l.split(separator: ":", maxSplits: 1)
            headers[kv[0].lowercased()] = String(kv[1].trimmingPrefix(" "))
        }
        let length = head ? 0 : min(Int(headers["content-length"] ?? "0") ?? 0, data.count - end - 4)
        let body = String(decoding: data[(end + 4)..<(end + 4 + length)], as: UTF8.self)
        pending = Array(data[(end + 4 + length)...])
        return (status, headers, body)
    }

    /// Reads whatever has arrived without waiting; true once anything has.
    func poll() -> Bool {
        var buf = [UInt8](repeating: 0, count: 65536)
        let n = buf.withUnsafeMutableBytes { recv(fd, $0.baseAddress!, $0.count, Int32(MSG_DONTWAIT)) }
        if n > 0 { pending += buf[0..<n] }
        return !pending.isEmpty
    }

    /// Whether the server closed the connection (reads EOF within 5 s).
    func closedByPeer() -> Bool {
        var b = [UInt8](repeating: 0, count: 16)
        return b.withUnsafeMutableBytes { receive($0) } == 0
    }

    static func headEnd(_ b: [UInt8]) -> Int? {
        guard b.count >= 4 else { return nil }
        for i in 0...(b.count - 4) where b[i] == 13 && b[i + 1] == 10 && b[i + 2] == 13 && b[i + 3] == 10 { return i }
        return nil
    }
}

/// Counts from any thread.
final class Counter: Sendable {
    private let count = Atomic<Int>(0)
    var value: Int { count.load(ordering: .acquiring) }
    func add() { count.add(1, ordering: .acquiringAndReleasing) }
}

@Suite(.serialized) struct HTTPServerTests {
    static func echo(_ r: HTTPRequest) async -> HTTPReply {
        .response(.text(200, "\(r.method) \(r.path) \(r.body.count)"))
    }

    @Test func keepAliveServesRequestsInOrderOnOneConnection() throws {
        let server = try HTTPServer.start(host: "127.0.0.1", port: 0, handler: Self.echo)
        defer { server.stop() }
        let c = try RawClient(port: server.port)
        c.send("GET /a HTTP/1.1\r\nHost: x\r\n\r\nPOST /b HTTP/1.1\r\nContent-Length: 3\r\n\r\nxyz")
        #expect(c.response()?.body == "GET /a 0")
        #expect(c.response()?.body == "POST /b 3")
        c.send("HEAD /c HTTP/1.1\r\nConnection: close\r\n\r\n")
        let head = c.response(head: true)
        #expect(head?.status == 200 && head?.headers["connection"] == "close" && head?.headers["content-length"] == "9")  // "HEAD /c 0", not sent
        #expect(c.closedByPeer())
    }

    @Test func aBadRequestGetsAJSONErrorAndTheConnectionCloses() throws {
        let server = try HTTPServer.start(host: "127.0.0.1", port: 0, handler: Self.echo)
        defer { server.stop() }
        let c = try RawClient(port: server.port)
        c.send("GET / HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n")
        let r = c.response()
        #expect(r?.status == 400 && r?.headers["content-type"] == "application/json")
        #expect(r?.body.contains("\"error\":\"bad request: both Content-Length and Transfer-Encoding\"") == true)
        #expect(c.closedByPeer())
        // The server still serves others.
        let d = try RawClient(port: server.port)
        d.send("GET /ok HTTP/1.1\r\n\r\n")
        #expect(d.response()?.status == 200)
    }

    @Test func aClientTricklingItsHeadersIsCutOffAtTheRequestDeadline() throws {
        var options = HTTPServer.Options()
        options.requestTimeout = 0.5
        let server = try HTTPServer.start(host: "127.0.0.1", port: 0, options: options, handler: Self.echo)
        defer { server.stop() }
        let c = try RawClient(port: server.port)
        let start = ContinuousClock.now
        c.send("GET / HTTP/1.1\r\n")
        // One header byte every 100 ms, for up to 4 s: the deadline (0.5 s) ends it long before.
        for _ in 0..<40 where !c.poll() {
            c.send("X")
            usleep(100_000)
        }
        #expect(c.response()?.status == 408)
        #expect(ContinuousClock.now - start < .seconds(3))
    }

    /// Until `condition` holds or `seconds` pass; whether it held.
    static func eventually(within seconds: Double = 5, _ condition: () -> Bool) -> Bool {
        let deadline = ContinuousClock.now + .seconds(seconds)
        while ContinuousClock.now < deadline {
            if condition() { return true }
            usleep(10_000)
        }
        return condition()
    }

    /// Whether the server has closed `c` (EOF now, without waiting).
    static func closedNow(_ c: RawClient) -> Bool {
        var b = [UInt8](repeating: 0, count: 4096)
        let n = b.withUnsafeMutableBytes { recv(c.fd, $0.baseAddress!, $0.count, Int32(MSG_DONTWAIT)) }
        return n == 0 || (n < 0 && errno == ECONNRESET)
    }

    /// A handler whose `/events` opens a stream that stays open (admitted work that holds its connection).
    static func streams(_ r: HTTPRequest) async -> HTTPReply {
        r.path == "/events" ? .events(EventStream(capacity: 4)) : await echo(r)
    }

    @Test func pastTheCapTheOldestIdleConnectionMakesRoomForANewcomer() throws {
        var options = HTTPServer.Options()
        options.maxConnections = 3
        let server = try HTTPServer.start(host: "127.0.0.1", port: 0, options: options, handler: Self.echo)
        defer { server.stop() }
        // Three connections that never send a byte, accepted in this order (one accept thread, a FIFO backlog).
        let a = try RawClient(port: server.port), b = try RawClient(port: server.port), c = try RawClient(port: server.port)
        let d = try RawClient(port: server.port)
        d.send("GET /d HTTP/1.1\r\n\r\n")
        #expect(d.response()?.status == 200)
        // The oldest waiting for a request (a) was evicted; b and c remain.
        #expect(Self.eventually { Self.closedNow(a) })
        #expect(!Self.closedNow(b) && !Self.closedNow(c))
    }

    @Test func connectionsDoingAdmittedWorkAreNeverEvictedAndPastThemNewcomersGet503NamingTheCap() throws {
        var options = HTTPServer.Options()
        options.maxConnections = 2
        let server = try HTTPServer.start(host: "127.0.0.1", port: 0, options: options, handler: Self.streams)
        defer { server.stop() }
        let a = try RawClient(port: server.port), b = try RawClient(port: server.port)
        for s in [a, b] {
            s.send("GET /events HTTP/1.1\r\n\r\n")
            #expect(String(decoding: s.read { RawClient.headEnd($0) != nil }, as: UTF8.self).hasPrefix("HTTP/1.1 200"))
        }
        let c = try RawClient(port: server.port)
        let r = c.response()
        #expect(r?.status == 503 && r?.body.contains("http_max_connections") == true, "\(String(describing: r))")
        #expect(!Self.closedNow(a) && !Self.closedNow(b))
    }

    @Test func thePerAddressCapRefusesTheSameAddressOnceItsConnectionsAreBusy() throws {
        var options = HTTPServer.Options()
        options.maxConnections = 10
        options.maxConnectionsPerAddress = 1
        let server = try HTTPServer.start(host: "127.0.0.1", port: 0, options: options, handler: Self.streams)
        defer { server.stop() }
        let a = try RawClient(port: server.port)
        a.send("GET /events HTTP/1.1\r\n\r\n")
        _ = a.read { RawClient.headEnd($0) != nil }
        let b = try RawClient(port: server.port)
        let r = b.response()
        #expect(r?.status == 503 && r?.body.contains("http_max_connections_per_address") == true)
    }

    @Test func aSilentNewConnectionIsClosedAtTheFirstByteDeadlineWhileAKeptAliveOneStays() throws {
        var options = HTTPServer.Options()
        options.firstByteTimeout = 0.3
        let server = try HTTPServer.start(host: "127.0.0.1", port: 0, options: options, handler: Self.echo)
        defer { server.stop() }
        let silent = try RawClient(port: server.port)
        let kept = try RawClient(port: server.port)
        kept.send("GET /1 HTTP/1.1\r\n\r\n")
        #expect(kept.response()?.status == 200)
        let start = ContinuousClock.now
        #expect(silent.closedByPeer())
        #expect(ContinuousClock.now - start < .seconds(3))
        // Past the first-byte deadline, the connection that has sent a request is still served (idle timeout 60 s).
        kept.send("GET /2 HTTP/1.1\r\n\r\n")
        #expect(kept.response()?.body == "GET /2 0")
    }

    @Test func aHeadRefusedByAdmissionIsAnsweredWithoutReadingTheBodyAndTheConnectionCloses() throws {
        var options = HTTPServer.Options()
        options.limits.maxBodyBytes = 100_000_000
        let handled = Counter()
        let server = try HTTPServer.start(host: "127.0.0.1", port: 0, options: options,
                                          admit: { $0.header("Authorization") == nil ? .error(401, "who are you") : nil }) { r in
            handled.add()
            return await Self.echo(r)
        }
        defer { server.stop() }
        let c = try RawClient(port: server.port)
        c.send("POST /x HTTP/1.1\r\nContent-Length: 50000000\r\n\r\n")  // the body never comes
        #expect(c.response()?.status == 401)
        #expect(c.closedByPeer())
        // Without a body, a refusal keeps the connection.
        let d = try RawClient(port: server.port)
        d.send("GET /x HTTP/1.1\r\n\r\n")
        #expect(d.response()?.status == 401)
        d.send("GET /y HTTP/1.1\r\nAuthorization: t\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n")
        #expect(String(decoding: d.read { String(decoding: $0, as: UTF8.self).contains("100 Continue\r\n\r\n") }, as: UTF8.self)
            .hasPrefix("HTTP/1.1 100 Continue\r\n\r\n"))
        d.pending = Array(d.pending.dropFirst("HTTP/1.1 100 Continue\r\n\r\n".utf8.count))
        d.send("ok")
        #expect(d.response()?.body == "GET /y 2")
        #expect(handled.value == 1)
    }

    @Test func anEventStreamDeliversFramesAndNoticesTheClientLeaving() throws {
        let stream = EventStream(capacity: 3)
        let closed = DispatchSemaphore(value: 0)
        stream.onClose { closed.signal() }
        let server = try HTTPServer.start(host: "127.0.0.1", port: 0) { _ in .events(stream) }
        defer { server.stop() }
        var c: RawClient? = try RawClient(port: server.port)
        c!.send("GET /events HTTP/1.1\r\n\r\n")
        let head = String(decoding: c!.read { RawClient.headEnd($0) != nil }, as: UTF8.self)
        #expect(head.hasPrefix("HTTP/1.1 200 OK") && head.contains("text/event-stream"))
        stream.send(event: "task", data: "{\"a\":1}", id: "7")
        let text = String(decoding: c!.read { String(decoding: $0, as: UTF8.self).contains("\"a\":1}\n\n") }, as: UTF8.self)
        #expect(text.hasSuffix("id: 7\nevent: task\ndata: {\"a\":1}\n\n"))
        c = nil  // the browser tab closes
        stream.send(data: "after")  // the next write finds the socket gone
        stream.send(data: "after")
        #expect(closed.wait(timeout: .now() + 5) == .success)
    }

    @Test func aSlowEventReaderLosesFramesPastItsQueueAndIsTold() {
        let stream = EventStream(capacity: 2)
        for i in 0..<5 { #expect(stream.send(data: "\(i)")) }
        let text = EventStream.frame(event: nil, data: "0") + EventStream.frame(event: nil, data: "1")
            + EventStream.frame(event: "overflow", data: "{\"dropped\":3}")
        #expect(stream.take(waiting: 0)?.joined() == text)
        stream.close()
        #expect(!stream.send(data: "late"))
    }
}
