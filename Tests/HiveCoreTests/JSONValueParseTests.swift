import Foundation
import HiveCore
import Testing

/// `JSONValue.parse` reads what `JSONDecoder` reads into a `JSONValue`, value for value, and refuses what it
/// refuses: every input here goes through both.
@Suite struct JSONValueParseTests {
    static func decoded(_ text: String) -> JSONValue? { try? JSONDecoder().decode(JSONValue.self, from: Data(text.utf8)) }

    static let accepted = [
        #"{}"#, #"[]"#, #"  {"a" : 1 , "b":[true,false,null]}  "#, "\n\t{\"x\":\r\n\"y\"}", #""plain""#, "0", "-0",
        "12.5e-3", "1E+2", "-1.25", "123456789012345678901234567890", #"{"nested":{"deep":[[[{"k":"v"}]]]}}"#,
        #""esc \" \\ \/ \b \f \n \r \t""#, #""\u00e9 \u20AC \uD83D\uDE00 é 😀""#, #"{"a":1,"a":2}"#,
        #"{"content":[{"type":"text","text":"line 1\nline 2"}],"isError":false}"#, "true", "null",
        // JSONDecoder's one leniency, kept: a trailing comma.
        "[1,]", #"{"a":1 , }"#, "[[1,],]",
    ]

    static let refused = [
        "", "   ", "{", "{a:1}", "[1 2]", "{} {}", "01", "1.", ".5", "-", "+1", "1e", "1e+",
        "NaN", "Infinity", "1e400", "[,]", "{,}", "[1,,]", "[1,]x", "tru", "nul", #""unterminated"#, "\"tab\there\"", #""\x""#, #""\u12""#,
        #""\uD83D""#, #""\uDE00""#, #""\uD83Dx""#, "[\"\u{01}\"]", #"{"a"}"#, #"{"a":}"#, "[", "]",
    ]

    @Test(arguments: accepted) func readsWhatJSONDecoderReads(_ text: String) throws {
        let expected = try #require(Self.decoded(text), "JSONDecoder refuses \(text)")
        #expect(try JSONValue.parse(Array(text.utf8)) == expected)
    }

    @Test(arguments: refused) func refusesWhatJSONDecoderRefuses(_ text: String) {
        #expect(Self.decoded(text) == nil, "JSONDecoder reads \(text)")
        #expect(throws: JSONParseError.self) { try JSONValue.parse(Array(text.utf8)) }
    }

    @Test func invalidUTF8AndDeepNestingAreRefusedNamingWhere() throws {
        for bytes: [UInt8] in [[0x22, 0xC3, 0x28, 0x22], [0x22, 0xFF, 0x22], [0x22, 0xED, 0xA0, 0x80, 0x22]] {
            #expect((try? JSONDecoder().decode(JSONValue.self, from: Data(bytes))) == nil)
            #expect(throws: JSONParseError.self) { try JSONValue.parse(bytes) }
        }
        let limit = JSONValue.maxParseDepth
        let deepest = String(repeating: "[", count: limit) + String(repeating: "]", count: limit)
        #expect(try JSONValue.parse(Array(deepest.utf8)) == Self.decoded(deepest))
        // Far past the limit: refused at the limit, without recursing further (no stack overflow).
        let tooDeep = Array((String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)).utf8)
        let e = try #require(throws: JSONParseError.self) { try JSONValue.parse(tooDeep) }
        #expect(e.offset == limit && e.description.contains("nested deeper than \(limit)"), "\(e)")
    }

    /// The shape that was slow: an MCP tool result of a few hundred kilobytes, many small objects and strings with
    /// escapes. Both readers give the same value.
    @Test func aLargeToolResultReadsAsJSONDecoderReadsIt() throws {
        let rows = (0..<3_000).map { i in
            #"{"id":\#(i),"name":"row \#(i) \"quoted\"\n","score":\#(Double(i) / 7),"tags":["a","b\u00e9"],"ok":\#(i % 2 == 0),"none":null}"#
        }
        let text = #"{"jsonrpc":"2.0","id":7,"result":{"structuredContent":{"rows":["# + rows.joined(separator: ",") + "]}}}"
        #expect(text.utf8.count > 300_000)
        let value = try JSONValue.parse(Array(text.utf8))
        #expect(value == Self.decoded(text))
    }
}
