import NATSWire
import Testing

/// Header blocks (HPUB/HMSG) as bytes: encoding refuses what would forge lines, parsing reads what servers and
/// other clients send (status lines, spaces after the colon, values with colons, repeated names).
@Suite struct NATSHeadersTests {
    static func parse(_ text: String) -> NATSHeaders? {
        Array(text.utf8).withUnsafeBytes { NATSHeaders.parse($0) }
    }

    @Test func aBlockRoundTrips() throws {
        var h = NATSHeaders("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
        h.append("Hive-Span-Time", "1 2")
        h.append("Hive-Span-Time", "3 4")
        let bytes = try h.encoded()
        #expect(String(decoding: bytes, as: UTF8.self)
            == "NATS/1.0\r\ntraceparent: 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01\r\nHive-Span-Time: 1 2\r\nHive-Span-Time: 3 4\r\n\r\n")
        let back = try #require(bytes.withUnsafeBytes { NATSHeaders.parse($0) })
        #expect(back == h && back.values("Hive-Span-Time") == ["1 2", "3 4"])
    }

    @Test func statusLinesValuesWithColonsAndOddSpacing() throws {
        let h = try #require(Self.parse("NATS/1.0 503 No Responders\r\nA:b:c\r\nB:\t  spaced \r\nnocolon\r\n\r\n"))
        #expect(h.status == 503 && h.statusDescription == "No Responders")
        #expect(h["A"] == "b:c" && h["B"] == "spaced " && h.entries.count == 2)
        let bare = try #require(Self.parse("NATS/1.0 404\r\n\r\n"))
        #expect(bare.status == 404 && bare.statusDescription == nil && bare.entries.isEmpty)
        #expect(Self.parse("HTTP/1.1 200 OK\r\n\r\n") == nil)
        #expect(Self.parse("NATS/1.0\r\nX: y")?["X"] == "y")  // no final CR LF
    }

    @Test func namesAndValuesThatWouldForgeLinesAreRefused() {
        #expect(throws: NATSHeaders.EncodingError.invalidValue("a\r\nX: forged")) { try NATSHeaders("A", "a\r\nX: forged").encoded() }
        #expect(throws: NATSHeaders.EncodingError.invalidName("a b")) { try NATSHeaders("a b", "v").encoded() }
        #expect(throws: NATSHeaders.EncodingError.invalidName("a:b")) { try NATSHeaders("a:b", "v").encoded() }
    }
}
