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

    /// Feeds `bytes` in pieces of `piece`, calling `next()` after each; the requests, or the error and how many
    /// bytes had been fed when it was thrown.
    static func feed(_ bytes: [UInt8], piece: Int, limits: HTTPRequestParser.Limits) -> (requests: [HTTPRequest], error: HTTPError?, fed: Int) {
        var p = HTTPRequestParser(limits: limits)
        var out: [HTTPRequest] = []
        var i = 0
        while i < bytes.count {
            let end = min(bytes.count, i + piece)
            p.append(bytes[i..<end])
            i = end
            do {
                while let r = try p.next() { out.append(r) }
            } catch {
                return (out, error, i)
            }
        }
        return (out, nil, i)
    }

    static func oneByteChunks(_ n: Int) -> [UInt8] {
        Array("POST /up HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n".utf8)
            + Array(repeating: Array("1\r\nx\r\n".utf8), count: n).flatMap { $0 } + Array("0\r\n\r\n".utf8)
    }

    @Test func aBodyOfOneByteChunksFedInSmallPiecesParsesInLinearTime() {
        // 1.2 MB on the wire in 7-byte reads: re-scanning the body on every read would take hours; linear takes
        // well under a second (the bound is generous for debug builds on a busy machine).
        var limits = HTTPRequestParser.Limits()
        limits.maxBodyBytes = 8 << 20
        let n = 200_000
        let start = ContinuousClock.now
        let (requests, error, _) = Self.feed(Self.oneByteChunks(n), piece: 7, limits: limits)
        let elapsed = ContinuousClock.now - start
        #expect(error == nil)
        #expect(requests.count == 1 && requests.first?.body == [UInt8](repeating: 0x78, count: n))
        #expect(elapsed < .seconds(10), "\(elapsed)")
    }

    @Test func headersTricklingInOneByteAtATimeAreScannedOnce() {
        // 90 headers of 160 bytes: near both limits (100 headers, 16 KiB).
        let line = Array("X-Pad: ".utf8) + [UInt8](repeating: 0x61, count: 151) + Array("\r\n".utf8)
        let text = Array("GET / HTTP/1.1\r\n".utf8) + Array(repeating: line, count: 90).flatMap { $0 }
            + Array("\r\n".utf8)
        let start = ContinuousClock.now
        let (requests, error, _) = Self.feed(text, piece: 1, limits: .init())
        #expect(error == nil && requests.count == 1 && requests[0].headers.count == 90)
        #expect(ContinuousClock.now - start < .seconds(5))
    }

    @Test func aChunkedBodyIsRefusedAsSoonAsItsBytesOnTheWirePassTheLimit() {
        var limits = HTTPRequestParser.Limits()
        limits.maxBodyBytes = 1000
        let bytes = Self.oneByteChunks(100_000)
        let headBytes = Array("POST /up HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n".utf8).count
        let (requests, error, fed) = Self.feed(bytes, piece: 64, limits: limits)
        #expect(requests.isEmpty && error == .bodyTooLarge(limit: 1000))
        #expect(fed <= headBytes + 1000 + 64, "refused only after \(fed) bytes")
        // A chunk whose declared size passes the limit is refused before its data arrives.
        let big = Self.feed(Array("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2000\r\n".utf8), piece: 1000, limits: limits)
        #expect(big.error == .bodyTooLarge(limit: 1000))
        #expect(error?.description.contains("http_max_body_bytes") == true)
    }

    @Test func theHeadComesOutBeforeTheBodyAndTheRequestAfterIt() throws {
        var p = HTTPRequestParser()
        p.append(Array("POST /x HTTP/1.1\r\nAuthorization: Bearer t\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n".utf8))
        let head = try p.head()
        #expect(head?.header("authorization") == "Bearer t" && head?.body == [] && head?.expectsContinue == true)
        #expect(p.headAnnouncesBody && p.inBody && p.buffered == 0)
        #expect(try p.next() == nil)
        #expect(try p.head() == head)  // the same head until the request is complete
        p.append(Array("abcdeGET /y HTTP/1.1\r\n\r\n".utf8))
        #expect(try p.next()?.body == Array("abcde".utf8))
        #expect(!p.inBody)
        #expect(try p.head()?.path == "/y" && !p.headAnnouncesBody)
        #expect(try p.next()?.path == "/y")
    }

    @Test func aDeclaredBodyOverTheLimitIsRefusedAfterItsHeadAndBeforeItsBody() throws {
        var p = HTTPRequestParser()
        p.append(Array("POST / HTTP/1.1\r\nContent-Length: 50000000\r\n\r\n".utf8))
        #expect(try p.head()?.header("content-length") == "50000000")  // the server can still answer 401 first
        #expect(throws: HTTPError.bodyTooLarge(limit: 1 << 20)) { _ = try p.next() }
    }

    @Test(arguments: ["123456789\r\n", "1 2\r\n", "1\rx\n", "\r\n", ";ext\r\n"])
    func chunkSizeLinesThatAreNotOneHexNumberAreRefused(line: String) {
        let text = "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n" + line
        #expect(throws: HTTPError.badRequest("invalid chunk size")) { _ = try Self.parse(text) }
    }
}
