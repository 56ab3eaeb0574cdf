import Testing
import NATSWire

final class ServerOpRecorder: ServerOpHandler {
    var lines: [String] = []
    func handle(_ op: ServerOp) throws(NATSProtocolError) -> Bool {
        switch op {
        case .info(let j): lines.append("INFO \(j.string)")
        case .msg(let m):
            lines.append("MSG \(m.subject.string) \(m.sid.string) \(m.reply?.string ?? "-") \(m.headerLength.map(String.init) ?? "-") \(m.body.string)")
        case .ping: lines.append("PING")
        case .pong: lines.append("PONG")
        case .ok: lines.append("+OK")
        case .err(let t): lines.append("ERR \(t.string)")
        }
        return true
    }
}

@Suite struct ServerParserTests {
    static let stream = "INFO {\"server_id\":\"x\"} \r\nMSG foo 1 5\r\nhello\r\nMSG foo 2 inbox.1 0\r\n\r\n"
        + "HMSG h 3 12 14\r\nNATS/1.0\r\n\r\nhi\r\nPING\r\nPONG\r\n+OK\r\n-ERR 'Stale Connection'\r\n"

    static let expected = [
        "INFO {\"server_id\":\"x\"}", "MSG foo 1 - - hello", "MSG foo 2 inbox.1 - ", "MSG h 3 - 12 hi",
        "PING", "PONG", "+OK", "ERR Stale Connection",
    ]

    func parse(_ chunks: [[UInt8]]) throws -> [String] {
        var parser = ServerParser()
        let rec = ServerOpRecorder()
        for c in chunks {
            let r: Result<Bool, NATSProtocolError> = c.withUnsafeBytes { b in
                Result { () throws(NATSProtocolError) -> Bool in try parser.parse(b, handler: rec) }
            }
            _ = try r.get()
        }
        return rec.lines
    }

    @Test func parsesEveryServerOpAtEverySplit() throws {
        let bytes = Array(Self.stream.utf8)
        #expect(try parse([bytes]) == Self.expected)
        for cut in 0...bytes.count {
            #expect(try parse([Array(bytes[..<cut]), Array(bytes[cut...])]) == Self.expected, "cut \(cut)")
        }
        #expect(try parse(bytes.map { [$0] }) == Self.expected)
    }

    @Test func malformedServerInputIsAnError() {
        for bad in ["MSG foo\r\n", "MSG foo 1 x\r\n", "HMSG a 1 5 2\r\n", "WHAT\r\n", "MSG a 1 2\r\nabcd"] {
            #expect(throws: NATSProtocolError.self, "\(bad)") { try parse([Array(bad.utf8)]) }
        }
    }
}
