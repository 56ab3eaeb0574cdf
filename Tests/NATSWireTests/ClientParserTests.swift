import Testing
import NATSWire

@Suite struct ClientParserTests {
    @Test func parsesEveryOp() {
        let (ops, error) = parseClient(
            "CONNECT {\"verbose\":false}\r\nPING\r\nPONG\r\nSUB foo 1\r\nSUB foo q 2\r\nUNSUB 1\r\nUNSUB 2 5\r\n"
            + "PUB foo 5\r\nhello\r\nPUB foo bar 2\r\nhi\r\nHPUB foo 12 14\r\nNATS/1.0\r\n\r\nhi\r\nINFO {}\r\n+OK\r\n")
        #expect(error == nil)
        #expect(ops == [
            .connect("{\"verbose\":false}"), .ping, .pong,
            .sub(subject: "foo", queue: nil, sid: "1"), .sub(subject: "foo", queue: "q", sid: "2"),
            .unsub(sid: "1", max: nil), .unsub(sid: "2", max: 5),
            .pub(subject: "foo", reply: nil, header: nil, size: "5", payload: Array("hello".utf8)),
            .pub(subject: "foo", reply: "bar", header: nil, size: "2", payload: Array("hi".utf8)),
            .pub(subject: "foo", reply: nil, header: 12, size: "14", payload: Array("NATS/1.0\r\n\r\nhi".utf8)),
            .info, .ok,
        ])
    }

    @Test func opsAreCaseInsensitiveAndArgsSplitOnSpacesAndTabs() {
        let (ops, error) = parseClient("sub  foo\t \tq  9\r\npub foo\t3\r\nabc\r\nping\r\n")
        #expect(error == nil)
        #expect(ops == [.sub(subject: "foo", queue: "q", sid: "9"),
                        .pub(subject: "foo", reply: nil, header: nil, size: "3", payload: Array("abc".utf8)), .ping])
    }

    @Test func bareLineFeedEndsControlLines() {
        #expect(parseClient("PING\nSUB a 1\n").ops == [.ping, .sub(subject: "a", queue: nil, sid: "1")])
    }

    @Test func pingIgnoresTrailingText() {
        #expect(parseClient("PING xyz\r\n").ops == [.ping])
    }

    @Test func payloadIsBinarySafeAndMayContainCRLF() {
        let (ops, error) = parseClient("PUB a 6\r\n\r\nA\r\nB\r\n")
        #expect(error == nil)
        #expect(ops == [.pub(subject: "a", reply: nil, header: nil, size: "6", payload: Array("\r\nA\r\nB".utf8))])
    }

    @Test func zeroLengthPayloadAndLeadingZerosAreKeptVerbatim() {
        #expect(parseClient("PUB foo 0\r\n\r\nPUB foo 002\r\nok\r\n").ops == [
            .pub(subject: "foo", reply: nil, header: nil, size: "0", payload: []),
            .pub(subject: "foo", reply: nil, header: nil, size: "002", payload: Array("ok".utf8)),
        ])
    }

    static let pipeline = "CONNECT {\"echo\":true}\r\nSUB foo.* q 1\r\nPUB foo.bar reply 11\r\nhello world\r\n"
        + "HPUB h 22 33\r\nNATS/1.0\r\nBar: Baz\r\n\r\nHello NATS!\r\nUNSUB 1 3\r\nPING\r\n"

    @Test func splitAtEveryByteParsesIdentically() {
        let bytes = Array(Self.pipeline.utf8)
        let whole = parseClient([bytes])
        #expect(whole.error == nil)
        #expect(whole.ops.count == 6)
        for chunks in splits(bytes) {
            let split = parseClient(chunks)
            #expect(split.error == nil)
            #expect(split.ops == whole.ops, "split \(chunks.map(\.count))")
        }
    }

    @Test func manyFramesAcrossUnevenReads() {
        var text = ""
        for i in 0..<500 { text += "PUB s.\(i) \(String(i).count)\r\n\(i)\r\n" }
        let bytes = Array(text.utf8)
        for step in [1, 2, 3, 7, 13, 64, 100, 1000] {
            let chunks = stride(from: 0, to: bytes.count, by: step).map { Array(bytes[$0..<min($0 + step, bytes.count)]) }
            let r = parseClient(chunks)
            #expect(r.error == nil)
            #expect(r.ops.count == 500, "step \(step)")
            #expect(r.ops.last == .pub(subject: "s.499", reply: nil, header: nil, size: "3", payload: Array("499".utf8)))
        }
    }

    /// nats-server's TestShouldFail table, with the error each input must produce.
    @Test(arguments: [
        (" PING\r\n", NATSProtocolError.unknownOperation),
        ("POO\r\n", .unknownOperation),
        ("Px", .unknownOperation),
        ("PIx", .unknownOperation),
        ("PUBS foo 1\r\n", .unknownOperation),
        ("XYZ\r\n", .unknownOperation),
        ("\r\n", .unknownOperation),
        ("MSG foo 1 2\r\nok\r\n", .unknownOperation),
        ("UNSUB\r\n", .unknownOperation),
        ("UNSUB \r\n", .unknownOperation),
        ("CONNECT \r\n", .unknownOperation),
        ("PUB foo 2\r\nok \r\n", .unknownOperation),
        ("PUB foo 2\r\nokXX", .unknownOperation),
        ("PUB foo\r\n", .protocolViolation("PUB takes 2 or 3 arguments")),
        ("PUB foo bar baz 2\r\n", .protocolViolation("PUB takes 2 or 3 arguments")),
        ("PUB foo x\r\n", .protocolViolation("PUB size is not a number")),
        ("PUB foo -1\r\n", .protocolViolation("PUB size is not a number")),
        ("PUB foo 99999999999999999999\r\n", .protocolViolation("PUB size is not a number")),
        ("SUB foo\r\n", .protocolViolation("SUB takes 2 or 3 arguments")),
        ("SUB foo bar baz 1\r\n", .protocolViolation("SUB takes 2 or 3 arguments")),
        ("UNSUB 1 x\r\n", .protocolViolation("UNSUB max is not a number")),
        ("HPUB foo 10\r\n", .protocolViolation("HPUB takes 3 or 4 arguments")),
        ("HPUB foo 20 10\r\n", .protocolViolation("HPUB header size exceeds total size")),
        ("-ERR 'boom'\r\n", .peerError("'boom'")),
    ])
    func malformedInputFails(input: String, expected: NATSProtocolError) {
        #expect(parseClient(input).error == expected)
    }

    @Test func badOpIsRejectedBeforeTheLineEnds() {
        // nats-server rejects on the first impossible byte; we must not wait for a newline that never comes.
        #expect(parseClient([Array("XY".utf8)]).error == .unknownOperation)
        #expect(parseClient([Array("PUX".utf8)]).error == .unknownOperation)
        #expect(parseClient([Array("PU".utf8)]).error == nil)
    }

    @Test func controlLineLimitIs4096ArgumentBytes() {
        let ok = "SUB " + String(repeating: "a", count: 4094) + " 1\r\n"  // argument = 4096 bytes
        #expect(parseClient(ok).error == nil)
        let tooLong = "SUB " + String(repeating: "a", count: 4095) + " 1\r\n"
        #expect(parseClient(tooLong).error == .maxControlLineExceeded)
    }

    @Test func controlLineLimitHoldsForLinesThatNeverEnd() {
        var parser = ClientParser()
        let recorder = ClientOpRecorder()
        let chunk = Array(("SUB " + String(repeating: "a", count: 1000)).utf8)
        var failed: NATSProtocolError?
        let more = Array(repeating: UInt8(ascii: "b"), count: 1000)
        for i in 0..<10 {
            let r: Result<Bool, NATSProtocolError> = (i == 0 ? chunk : more).withUnsafeBytes { b in
                Result { () throws(NATSProtocolError) -> Bool in try parser.parse(b, handler: recorder) }
            }
            if case .failure(let e) = r { failed = e; break }
        }
        #expect(failed == .maxControlLineExceeded)
        #expect(parser.heldBytes < 8192)
    }

    @Test func payloadLimitIsCheckedOnTheControlLine() {
        #expect(parseClient([Array("PUB foo 1025\r\n".utf8)], maxPayload: 1024).error == .maxPayloadViolation)
        #expect(parseClient([Array("HPUB foo 12 1025\r\n".utf8)], maxPayload: 1024).error == .maxPayloadViolation)
        let exact = "PUB foo 1024\r\n" + String(repeating: "x", count: 1024) + "\r\n"
        #expect(parseClient([Array(exact.utf8)], maxPayload: 1024).error == nil)
    }
}
