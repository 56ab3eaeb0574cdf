import Foundation
import HiveCore
import Testing
@testable import HiveMCP

struct SchemaInlinerTests {
    func json(_ s: String) throws -> JSONValue { try JSONDecoder().decode(JSONValue.self, from: Data(s.utf8)) }

    @Test func inlinesDefsAndDefinitionsKeepingSiblings() throws {
        let s = try json(##"{"type":"object","properties":{"a":{"$ref":"#/$defs/A","description":"the a"},"b":{"$ref":"#/definitions/B"}},"$defs":{"A":{"type":"string"}},"definitions":{"B":{"type":"array","items":{"$ref":"#/$defs/A"}}}}"##)
        let out = try SchemaInliner().inline(s)
        #expect(out == (try json(#"{"type":"object","properties":{"a":{"type":"string","description":"the a"},"b":{"type":"array","items":{"type":"string"}}}}"#)))
    }

    @Test func refusesCyclesExternalAndDanglingReferences() throws {
        #expect(throws: SchemaInliner.Failure.cycle("#/$defs/N")) {
            try SchemaInliner().inline(try json(##"{"$ref":"#/$defs/N","$defs":{"N":{"properties":{"next":{"$ref":"#/$defs/N"}}}}}"##))
        }
        #expect(throws: SchemaInliner.Failure.external("https://example.com/s.json")) {
            try SchemaInliner().inline(try json(#"{"properties":{"x":{"$ref":"https://example.com/s.json"}}}"#))
        }
        #expect(throws: SchemaInliner.Failure.unresolved("#/$defs/Missing")) {
            try SchemaInliner().inline(try json(##"{"properties":{"x":{"$ref":"#/$defs/Missing"}}}"##))
        }
    }

    @Test func boundsDepth() throws {
        var s = #"{"type":"string"}"#
        for _ in 0..<40 { s = #"{"type":"array","items":"# + s + "}" }
        #expect(throws: SchemaInliner.Failure.tooDeep(32)) { try SchemaInliner(maxDepth: 32).inline(try json(s)) }
    }

    /// Ten chained definitions, each naming the next a hundred times: about 30 KB written, 100^10 values inlined.
    @Test func boundsWhatReferencesMultiplyInto() throws {
        var defs: [String] = []
        for i in 0..<10 {
            let next = i == 9 ? #"{"type":"integer"}"# : ##"{"$ref":"#/$defs/D\##(i + 1)"}"##
            let props = (0..<100).map { #""p\#($0)":"# + next }.joined(separator: ",")
            defs.append(#""D\#(i)":{"type":"object","properties":{"# + props + "}}")
        }
        let s = try json(##"{"$ref":"#/$defs/D0","$defs":{"## + defs.joined(separator: ",") + "}}")
        #expect(throws: SchemaInliner.Failure.tooLarge(100_000)) { try SchemaInliner().inline(s) }
    }

    @Test func aDiamondIsNotACycle() throws {
        let s = try json(##"{"properties":{"x":{"$ref":"#/$defs/P"},"y":{"$ref":"#/$defs/P"}},"$defs":{"P":{"properties":{"q":{"$ref":"#/$defs/Q"}}},"Q":{"type":"integer"}}}"##)
        let out = try SchemaInliner().inline(s)
        #expect(!String(decoding: try JSONEncoder().encode(out), as: UTF8.self).contains("$ref"))
    }
}

struct MCPServerSpecTests {
    @Test func parsesCommandsAndURLs() throws {
        #expect(try MCPServerSpec.parse("time=mcp-server-time --local-timezone 'Europe/Oslo'")
            == MCPServerSpec(name: "time", endpoint: .stdio(argv: ["mcp-server-time", "--local-timezone", "Europe/Oslo"])))
        #expect(try MCPServerSpec.parse(#"git=mcp-server-git --repository "/srv/my repo""#).endpoint
            == .stdio(argv: ["mcp-server-git", "--repository", "/srv/my repo"]))
        #expect(try MCPServerSpec.parse("web=https://tools.example.com/mcp").endpoint == .http(URL(string: "https://tools.example.com/mcp")!))
    }

    @Test func refusesBadNamesAndCommands() {
        for bad in ["no-equals", "a.b=cmd", "=cmd", "x=", "x='unclosed", String(repeating: "n", count: 33) + "=cmd"] {
            #expect(throws: MCPSpecError.self) { try MCPServerSpec.parse(bad) }
        }
    }

    @Test func callResultsBecomeText() {
        let r = MCPClient.callResult(["content": .array([.object(["type": .string("text"), "text": .string("a")]),
                                                         .object(["type": .string("image"), "mimeType": .string("image/png"), "data": .string("AA==")])]),
                                      "isError": .bool(true)])
        #expect(r == ToolCallResult(text: "a\n[image content, image/png]", isError: true))
        let structured = MCPClient.callResult(["content": .array([]), "structuredContent": .object(["n": .number(1)])])
        #expect(structured.text == #"{"n":1}"#)
    }
}

struct HTTPRedactionTests {
    @Test func credentialsAndQueriesStayOutOfMessages() {
        #expect(HTTPExchange.redacted(URL(string: "https://user:secret@tools.example.com:8443/mcp?key=abc")) == "https://tools.example.com:8443/mcp")
        #expect(HTTPExchange.redacted(nil) == "?")
    }
}
