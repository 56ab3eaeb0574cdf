import Foundation
import HiveCore
import Testing
@testable import HiveMCP

/// A streamable HTTP server written with the `mcp` SDK (mcp_http_server.py), as a real process.
@Suite(.serialized) struct HTTPServerTests {
    @Test func listCallSessionsTimeoutsAndDeath() async throws {
        let server = try HTTPTestServer()
        defer { server.stop() }
        let client = MCPClient(MCPServerSpec(name: "web", endpoint: .http(server.url)))
        let tools = try await client.listTools()
        #expect(Set(tools.map(\.name)) == ["web.add", "web.place_order", "web.hang", "web.fail", "web.die"])
        #expect(await client.negotiatedVersion == MCPClient.supportedVersions[0])

        // $ref/$defs inlined: the nested models are spelled out where they are used.
        let order = try #require(tools.first { $0.name == "web.place_order" })
        let schema = String(decoding: try JSONEncoder().encode(order.inputSchema), as: UTF8.self)
        #expect(!schema.contains("$ref") && !schema.contains("$defs"))
        guard case .object(let top) = order.inputSchema, case .object(let props)? = top["properties"],
              case .object(let o)? = props["order"], case .object(let oprops)? = o["properties"],
              case .object(let ship)? = oprops["ship_to"], case .object(let shipProps)? = ship["properties"] else {
            Issue.record("place_order's schema lost its shape: \(schema)")
            return
        }
        #expect(shipProps["city"] != nil)

        let sum = try await client.call("add", arguments: .object(["a": .number(2), "b": .number(3)]), timeoutMillis: 10_000)
        #expect(sum == ToolCallResult(text: "5", isError: false))
        let placed = try await client.call("place_order", arguments: .object([
            "order": .object(["item": .string("tea"), "ship_to": .object(["street": .string("1 Main"), "city": .string("Oslo")]),
                              "bill_to": .object(["street": .string("2 Side"), "city": .string("Bergen")])])]), timeoutMillis: 10_000)
        #expect(placed.text == "tea to Oslo")
        let failed = try await client.call("fail", arguments: .object([:]), timeoutMillis: 10_000)
        #expect(failed.isError && failed.text.contains("always fails"), "\(failed.text)")

        // The server forgets the session: the client initializes again, once, and the call goes through.
        let session = try #require(await client.sessionID)
        try await server.forgetSessions()
        #expect(try await client.call("add", arguments: .object(["a": .number(1), "b": .number(1)]), timeoutMillis: 10_000).text == "2")
        let renewed = try #require(await client.sessionID)
        #expect(renewed != session)

        // A tool that never answers: the deadline fires, the server is told, the client stays usable.
        let start = Date()
        await #expect(throws: MCPError.timeout(server: "web", method: "tools/call", millis: 500)) {
            try await client.call("hang", arguments: .object([:]), timeoutMillis: 500)
        }
        #expect(Date().timeIntervalSince(start) < 5)
        #expect(try await client.call("add", arguments: .object(["a": .number(4), "b": .number(4)]), timeoutMillis: 10_000).text == "8")

        // The server dies in the middle of a call: an error, not a hang.
        await #expect(throws: MCPError.self) { try await client.call("die", arguments: .object([:]), timeoutMillis: 10_000) }
        await client.close()
    }
}
