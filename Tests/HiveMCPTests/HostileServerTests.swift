import ExternalTools
import Foundation
import HiveCore
@testable import HiveMCP
import Testing

/// An MCP server is untrusted: whatever it writes (a line of 100 MB, JSON nested a million deep, bytes that are not
/// UTF-8, a schema whose `$ref`s chain 10,000 deep, a listing that never ends) costs the drone an error naming the
/// fault or the limit, never its life, a hang or an unbounded buffer. hostile_stdio_server.py plays the server.
@Suite(.serialized) struct HostileServerTests {
    func hostile(_ mode: String) throws -> MCPClient {
        MCPClient(MCPServerSpec(name: "hostile", endpoint: .stdio(argv: [try ExternalTool.python(), "\(MCPTest.here)/hostile_stdio_server.py", "--mode", mode])))
    }

    /// The attack's call fails with an error whose text has `expected`, then the next call (a new server process
    /// where the attack ended the old one) answers.
    func attackFailsThenTheServerAnswersAgain(_ mode: String, _ expected: String) async throws {
        let client = try hostile(mode)
        _ = try await client.listTools()
        do {
            let r = try await client.call("echo", arguments: .object(["text": .string("attack")]), timeoutMillis: 60_000)
            Issue.record("the attack was taken as a result: \(r.text.prefix(100))")
        } catch let e as MCPError {
            #expect(e.description.contains(expected), "\(e)")
        }
        #expect(try await client.call("echo", arguments: .object(["text": .string("ok")]), timeoutMillis: 30_000).text == "ok")
        await client.close()
    }

    @Test func aHundredMegabyteLineEndsTheServerNamingTheLimit() async throws {
        try await attackFailsThenTheServerAnswersAgain("huge-line", "--mcp-max-message-bytes")
    }

    @Test func jsonNestedAMillionDeepIsMalformedNotAStackOverflow() async throws {
        try await attackFailsThenTheServerAnswersAgain("deep", "malformed")
    }

    @Test func bytesThatAreNotUTF8AreMalformed() async throws {
        try await attackFailsThenTheServerAnswersAgain("bad-utf8", "malformed")
    }

    @Test func aTenThousandDeepRefChainLeavesThatToolOutAndKeepsTheOthers() async throws {
        let client = try hostile("ref-chain")
        let tools = try await client.listTools()
        #expect(tools.map(\.name) == ["hostile.echo"])
        await client.close()
    }

    @Test func aSchemaNestedAHundredThousandDeepIsRefusedNotAStackOverflow() async throws {
        let client = try hostile("deep-list")
        do {
            let tools = try await client.listTools()
            #expect(tools.isEmpty, "\(tools.map(\.name))")
        } catch let e as MCPError {
            #expect(e.description.contains("malformed"), "\(e)")
        }
        await client.close()
    }

    @Test func aListingThatNeverEndsStopsAtThePageLimit() async throws {
        let client = try hostile("cursor-loop")
        await #expect(throws: MCPError.limit(server: "hostile", limit: "--mcp-max-pages", detail: "tools/list goes on past 64 pages")) {
            try await client.listTools()
        }
        await client.close()
    }
}
