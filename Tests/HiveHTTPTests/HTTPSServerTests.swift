#if canImport(Glibc)
import Glibc
#endif
import Dispatch
import Foundation
@testable import HiveHTTP
import HiveSystem
import HiveTLS
import Testing

/// A private CA and server certificate in a temporary directory, as `honeycombd tls init` makes them.
final class TestCA {
    let dir: String
    private(set) var made: TLSAuthority.Made

    init(hosts: [String]) throws {
        dir = NSTemporaryDirectory() + "hive-https-\(UUID().uuidString)"
        made = try TLSAuthority.initialize(directory: dir, hosts: hosts)
    }

    deinit { try? FileManager.default.removeItem(atPath: dir) }

    var identity: TLSServerIdentity { get throws { try TLSServerIdentity(TLSFiles(certificate: made.certificate, key: made.key)) } }

    /// Re-issues the server certificate for other hosts (the CA stays), as `tls init` run again does.
    func reissue(hosts: [String]) throws { made = try TLSAuthority.initialize(directory: dir, hosts: hosts) }
}

extension RawClient {
    /// A client that has finished a TLS handshake with the server on `port`, trusting `ca`, expecting `host`.
    static func tls(port: Int, ca: String, host: String = "localhost") throws -> RawClient {
        signal(SIGPIPE, SIG_IGN)  // the client's OpenSSL writes with write(2)
        let c = try RawClient(port: port)
        let session = try TLSContext.client(TLSFiles(ca: ca)).session(fd: c.fd, peer: "server", host: host)
        if let error = session.handshake(until: Monotonic.after(Monotonic.now(), nanos: 5_000_000_000)) { throw error }
        c.session = session
        return c
    }
}

@Suite(.serialized) struct HTTPSServerTests {
    static func echo(_ r: HTTPRequest) async -> HTTPReply { await HTTPServerTests.echo(r) }

    @Test func aTLSClientGetsItsResponsesOnAKeptAliveConnectionWithHSTS() throws {
        let ca = try TestCA(hosts: ["hive.test"])
        let server = try HTTPServer.start(host: "127.0.0.1", port: 0, tls: try ca.identity, handler: Self.echo)
        defer { server.stop() }
        let c = try RawClient.tls(port: server.port, ca: ca.made.ca, host: "hive.test")
        #expect(c.session?.negotiated.hasPrefix("TLSv1.3") == true)
        c.send("GET /a HTTP/1.1\r\nHost: x\r\n\r\n")
        let first = c.response()
        #expect(first?.status == 200 && first?.body == "GET /a 0")
        #expect(first?.headers["strict-transport-security"] == "max-age=31536000")
        #expect(first?.headers["content-security-policy"] == SecurityHeaders.contentSecurityPolicy)
        c.send("POST /b HTTP/1.1\r\nContent-Length: 3\r\nConnection: close\r\n\r\nxyz")
        let second = c.response()
        #expect(second?.body == "POST /b 3" && second?.headers["connection"] == "close")
        // The server ends the connection with close_notify (the session reads a clean close, not a truncation).
        var b = [UInt8](repeating: 0, count: 16)
        #expect(b.withUnsafeMutableBytes { c.session!.read($0.baseAddress!, $0.count) } == .closed)
        // Plain HTTP never carries HSTS (browsers ignore it there, and it would be a lie).
        let plain = try HTTPServer.start(host: "127.0.0.1", port: 0, handler: Self.echo)
        defer { plain.stop() }
        let p = try RawClient(port: plain.port)
        p.send("GET / HTTP/1.1\r\n\r\n")
        let r = p.response()
        #expect(r?.status == 200 && r?.headers["strict-transport-security"] == nil)
    }

    @Test func aPlainHTTPRequestOnTheHTTPSPortGetsGosPlainTextAnswer() throws {
        let ca = try TestCA(hosts: [])
        let server = try HTTPServer.start(host: "127.0.0.1", port: 0, tls: try ca.identity, handler: Self.echo)
        defer { server.stop() }
        let c = try RawClient(port: server.port)
        c.send("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        let text = String(decoding: c.read { _ in false }, as: UTF8.self)  // everything until the server closes
        #expect(text == "HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n")
        // TLS clients are still served.
        let t = try RawClient.tls(port: server.port, ca: ca.made.ca)
        t.send("GET /ok HTTP/1.1\r\n\r\n")
        #expect(t.response()?.status == 200)
    }

    @Test func aStalledHandshakeIsClosedAtTheFirstByteDeadlineWhileAnotherConnectionIsServed() throws {
        let ca = try TestCA(hosts: [])
        var options = HTTPServer.Options()
        options.firstByteTimeout = 2  // long enough that the other connection is served well inside it, even under load
        let server = try HTTPServer.start(host: "127.0.0.1", port: 0, options: options, tls: try ca.identity, handler: Self.echo)
        defer { server.stop() }
        let start = ContinuousClock.now
        let stalled = try RawClient(port: server.port)
        stalled.send("\u{16}\u{03}\u{01}")  // the first bytes of a ClientHello's record header, then nothing
        // Meanwhile another client handshakes and is answered.
        let t = try RawClient.tls(port: server.port, ca: ca.made.ca)
        t.send("GET /meanwhile HTTP/1.1\r\n\r\n")
        #expect(t.response()?.body == "GET /meanwhile 0")
        #expect(ContinuousClock.now - start < .seconds(2), "served while the other handshake stalls")
        #expect(stalled.closedByPeer())
        let waited = ContinuousClock.now - start
        #expect(waited >= .seconds(2) && waited < .seconds(10), "\(waited)")
        // A client that finished its handshake shares the same grace: silent, it is closed too.
        let silentStart = ContinuousClock.now
        let silent = try RawClient.tls(port: server.port, ca: ca.made.ca)
        #expect(silent.closedByPeer())
        #expect(ContinuousClock.now - silentStart < .seconds(10))
    }

    @Test func afterAReloadNewConnectionsGetTheNewCertificateAndOldOnesKeepGoing() throws {
        let ca = try TestCA(hosts: ["one.test"])
        let identity = try ca.identity
        let server = try HTTPServer.start(host: "127.0.0.1", port: 0, tls: identity, handler: Self.echo)
        defer { server.stop() }
        let before = try RawClient.tls(port: server.port, ca: ca.made.ca, host: "one.test")
        #expect(before.session?.peerIdentity?.dnsNames.contains("one.test") == true)
        try ca.reissue(hosts: ["two.test"])
        try identity.reload()
        let after = try RawClient.tls(port: server.port, ca: ca.made.ca, host: "two.test")
        let names = after.session?.peerIdentity?.dnsNames ?? []
        #expect(names.contains("two.test") && !names.contains("one.test"), "\(names)")
        after.send("GET /new HTTP/1.1\r\n\r\n")
        #expect(after.response()?.body == "GET /new 0")
        // The connection made before the reload keeps its session.
        before.send("GET /old HTTP/1.1\r\n\r\n")
        #expect(before.response()?.body == "GET /old 0")
        // And the old name no longer verifies on a new connection.
        #expect(throws: TLSError.self) { try RawClient.tls(port: server.port, ca: ca.made.ca, host: "one.test") }
    }

    @Test func aLargeResponseArrivesWholeThroughTheSession() throws {
        let ca = try TestCA(hosts: [])
        let body = (0..<(6 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 >> 13) }  // more than socket buffers hold
        let server = try HTTPServer.start(host: "127.0.0.1", port: 0, tls: try ca.identity) { _ in .response(HTTPResponse(status: 200, body: body)) }
        defer { server.stop() }
        let c = try RawClient.tls(port: server.port, ca: ca.made.ca)
        c.send("GET /big HTTP/1.1\r\n\r\n")
        let data = c.read { bytes in RawClient.headEnd(bytes).map { bytes.count >= $0 + 4 + body.count } ?? false }
        let end = try #require(RawClient.headEnd(data))
        #expect(Array(data[(end + 4)...]) == body)
    }

    @Test func anEventStreamClientThatStopsReadingIsDroppedAfterTheWriteTimeout() throws {
        let ca = try TestCA(hosts: [])
        var options = HTTPServer.Options()
        options.writeTimeout = 0.5
        let stream = EventStream(capacity: 1024)
        let closed = DispatchSemaphore(value: 0)
        stream.onClose { closed.signal() }
        let server = try HTTPServer.start(host: "127.0.0.1", port: 0, options: options, tls: try ca.identity) { _ in .events(stream) }
        defer { server.stop() }
        let c = try RawClient.tls(port: server.port, ca: ca.made.ca)
        c.send("GET /events HTTP/1.1\r\n\r\n")
        _ = c.read { RawClient.headEnd($0) != nil }
        // Far more than the socket buffers hold, and the client reads none of it.
        let start = ContinuousClock.now
        let frame = String(repeating: "x", count: 60_000)
        for _ in 0..<600 { stream.send(data: frame) }
        #expect(closed.wait(timeout: .now() + 10) == .success)
        // Not before the timeout; the upper bound is the wait above (a loaded machine stretches the drop).
        #expect(ContinuousClock.now - start >= .seconds(0.5))
    }

    @Test func anEventStreamOverTLSDeliversFramesAndEndsWhenTheClientSendsCloseNotify() throws {
        let ca = try TestCA(hosts: [])
        let stream = EventStream(capacity: 8)
        let closed = DispatchSemaphore(value: 0)
        stream.onClose { closed.signal() }
        let server = try HTTPServer.start(host: "127.0.0.1", port: 0, tls: try ca.identity) { _ in .events(stream) }
        defer { server.stop() }
        let c = try RawClient.tls(port: server.port, ca: ca.made.ca)
        c.send("GET /events HTTP/1.1\r\n\r\n")
        let head = String(decoding: c.read { RawClient.headEnd($0) != nil }, as: UTF8.self)
        #expect(head.hasPrefix("HTTP/1.1 200 OK") && head.contains("text/event-stream") && head.contains("Strict-Transport-Security: max-age=31536000"))
        stream.send(event: "task", data: "{\"a\":1}", id: "7")
        let text = String(decoding: c.read { String(decoding: $0, as: UTF8.self).contains("\"a\":1}\n\n") }, as: UTF8.self)
        #expect(text.hasSuffix("id: 7\nevent: task\ndata: {\"a\":1}\n\n"))
        // The client says goodbye in TLS but keeps its socket open: only the decrypted close_notify tells the server.
        c.session!.close()
        stream.send(data: "after")
        #expect(closed.wait(timeout: .now() + 5) == .success)
        // The server answers with its own close_notify and closes (the session, shut down, is done reading: what is
        // left on the socket is that record, then the end).
        c.session = nil
        #expect(c.read { _ in false }.count > 0)
        #expect(c.closedByPeer())
    }
}
