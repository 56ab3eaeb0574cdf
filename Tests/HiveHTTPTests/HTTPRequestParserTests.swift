import HiveHTTP
import Testing

/// The request parser byte by byte: framing, limits, and the refusals that keep one request from hiding another.
@Suite struct HTTPRequestParserTests {
    static func parse(_ text: String, limits: HTTPRequestParser.Limits = .init()) throws(HTTPError) -> [HTTPRequest] {
        var p = HTTPRequestParser(limits: limits)
        p.append(Array(text.utf8))
        var out: [HTTPRequest] = []
        while let r = try p.next() { out.append(r) }
        return out
    }

    @Test func aRequestWithHeadersAndABody() throws {
        let r = try Self.parse("POST /api/goals?wait=1&x=a%20b HTTP/1.1\r\nHost: h\r\nContent-Type:  application/json \r\nContent-Length: 2\r\n\r\n{}")
        #expect(r.count == 1)
        #expect(r[0].method == "POST" && r[0].path == "/api/goals" && r[0].query == ["wait": "1", "x": "a b"])
        #expect(r[0].header("content-type") == "application/json")
        #expect(r[0].body == Array("{}".utf8) && r[0].keepAlive)
    }

    @Test func pipelinedRequestsComeOutInOrder() throws {
        let r = try Self.parse("GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\nConnection: close\r\n\r\n\r\nGET /c HTTP/1.0\r\n\r\n")
        #expect(r.map(\.path) == ["/a", "/b", "/c"])
        #expect(r.map(\.keepAlive) == [true, false, false])
    }

    @Test func bytesArrivingOneAtATimeMakeTheSameRequest() throws {
        let text = "POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nWiki\r\n5;ext=1\r\npedia\r\n0\r\nTrailer: t\r\n\r\nGET /y HTTP/1.1\r\n\r\n"
        var p = HTTPRequestParser()
        var out: [HTTPRequest] = []
        for b in text.utf8 {
            p.append([b])
            while let r = try p.next() { out.append(r) }
        }
        #expect(out.map(\.path) == ["/x", "/y"])
        #expect(out[0].body == Array("Wikipedia".utf8))
        #expect(p.buffered == 0)
    }

    @Test func bareLineFeedsAreAccepted() throws {
        let r = try Self.parse("GET /lf HTTP/1.1\nHost: x\n\n")
        #expect(r.first?.path == "/lf" && r.first?.header("host") == "x")
    }

    @Test(arguments: [
        ("GET /\r\n\r\n", 400, "malformed request line"),
        ("GET / HTTP/2.0\r\n\r\n", 505, "HTTP/2.0"),
        ("GET / FTP/1.0\r\n\r\n", 400, "malformed HTTP version"),
        ("G(T / HTTP/1.1\r\n\r\n", 400, "invalid method"),
        ("GET / HTTP/1.1\r\nHost : x\r\n\r\n", 400, "invalid header name"),
        ("GET / HTTP/1.1\r\nX: a\r\n  folded\r\n\r\n", 400, "folding"),
        ("GET / HTTP/1.1\r\nNoColon\r\n\r\n", 400, "without a colon"),
        ("POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", 400, "both"),
        ("POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd", 400, "invalid Content-Length"),
        ("POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 400, "invalid Content-Length"),
        ("POST / HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n", 413, "body exceeds"),
        ("POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", 501, "transfer coding"),
        ("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400, "chunk size"),
        ("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n0\r\n\r\n", 400, "longer than its size"),
    ])
    func malformedRequestsAreRefusedWithTheirStatus(text: String, status: Int, reason: String) {
        do {
            _ = try Self.parse(text)
            Issue.record("accepted: \(text)")
        } catch {
            #expect(error.status == status, "\(text)")
            #expect(error.description.contains(reason), "\(error.description)")
        }
    }

    @Test func limitsHoldBeforeTheBytesDo() throws {
        var limits = HTTPRequestParser.Limits()
        limits.maxHeaderBytes = 200
        limits.maxBodyBytes = 10
        // Headers that never end: refused once past the limit, without waiting for the blank line.
        var p = HTTPRequestParser(limits: limits)
        p.append(Array("GET / HTTP/1.1\r\nX: ".utf8) + [UInt8](repeating: 0x61, count: 300))
        #expect(throws: HTTPError.headersTooLarge(limit: 200)) { _ = try p.next() }
        #expect(throws: HTTPError.bodyTooLarge(limit: 10)) { _ = try Self.parse("POST / HTTP/1.1\r\nContent-Length: 11\r\n\r\n", limits: limits) }
        #expect(throws: HTTPError.bodyTooLarge(limit: 10)) {
            _ = try Self.parse("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nabcdef\r\n6\r\nabcdef\r\n0\r\n\r\n", limits: limits)
        }
        limits.maxHeaderCount = 2
        #expect(throws: HTTPError.headersTooLarge(limit: 200)) { _ = try Self.parse("GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n", limits: limits) }
    }

    @Test func bytesThatCannotStartARequestAreRefusedWithoutWaiting() {
        var p = HTTPRequestParser()
        p.append([0x16, 0x03, 0x01, 0x02, 0x00, 0x01])  // a TLS hello, no line end yet
        #expect(throws: HTTPError.badRequest("not an HTTP/1.x request")) { _ = try p.next() }
    }

    @Test func anIncompleteRequestWaitsForMoreBytes() throws {
        var p = HTTPRequestParser()
        p.append(Array("POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\nab".utf8))
        #expect(try p.next() == nil)
        p.append(Array("cde".utf8))
        #expect(try p.next()?.body == Array("abcde".utf8))
    }
}
