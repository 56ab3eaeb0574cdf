import Synchronization
import Foundation
import HiveCore
import Testing
@testable import HiveMCP

/// A streamable HTTP server written with the `mcp` SDK (mcp_http_server.py), as a real process: once speaking the
/// stateless 2026-07-28 revision, once refusing it (the client falls back to the handshake and its sessions).
@Suite(.serialized) struct HTTPServerTests {
    let order: JSONValue = .object([
        "order": .object(["item": .string("tea"), "ship_to": .object(["street": .string("1 Main"), "city": .string("Oslo")]),
                          "bill_to": .object(["street": .string("2 Side"), "city": .string("Bergen")])])])

    /// The tools the server offers, with place_order's `$ref`/`$defs` spelled out where they are used.
    func checkTools(_ tools: [ToolDefinition]) throws {
        #expect(Set(tools.map(\.name)) == ["web.add", "web.place_order", "web.hang", "web.fail", "web.die", "web.grow"])
        #expect(tools.first { $0.name == "web.add" }?.sideEffecting == false)  // readOnlyHint: true
        #expect(tools.first { $0.name == "web.place_order" }?.sideEffecting == true)  // no annotations
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
    }

    /// A call of the tool that never answers: the deadline fires, and the client stays usable.
    func checkHang(_ client: MCPClient) async throws {
        let start = Date()
        await #expect(throws: MCPError.timeout(server: "web", method: "tools/call", millis: 500)) {
            try await client.call("hang", arguments: .object([:]), timeoutMillis: 500)
        }
        #expect(Date().timeIntervalSince(start) < 5)
        #expect(try await client.call("add", arguments: .object(["a": .number(4), "b": .number(4)]), timeoutMillis: 10_000).text == "8")
    }

    @Test func theStatelessRevision() async throws {
        let server = try HTTPTestServer()
        defer { server.stop() }
        let client = MCPClient(MCPServerSpec(name: "web", endpoint: .http(server.url)))
        try checkTools(try await client.listTools())
        #expect(await client.negotiatedVersion == "2026-07-28")
        #expect(await client.sessionID == nil)
        #expect(try await client.call("add", arguments: .object(["a": .number(2), "b": .number(3)]), timeoutMillis: 10_000)
            == ToolCallResult(text: "5", isError: false))
        #expect(try await client.call("place_order", arguments: order, timeoutMillis: 10_000).text == "tea to Oslo")
        let failed = try await client.call("fail", arguments: .object([:]), timeoutMillis: 10_000)
        #expect(failed.isError && failed.text.contains("always fails"), "\(failed.text)")
        try await checkHang(client)
        await client.close()
    }

    @Test(arguments: [[], ["--handshake-only"]])
    func aListChangedNoticeOnAReplysStreamRelists(_ args: [String]) async throws {
        let server = try HTTPTestServer(args)
        defer { server.stop() }
        let client = MCPClient(MCPServerSpec(name: "web", endpoint: .http(server.url)))
        #expect(try await client.listTools().contains { $0.name == "web.extra" } == false)
        let told = Mutex<[ToolDefinition]?>(nil)
        await client.onToolsChanged { tools in told.withLock { $0 = tools } }
        #expect(try await client.call("grow", arguments: .object([:]), timeoutMillis: 10_000).text == "grown")
        #expect(await MCPTest.eventually { told.withLock { $0 } != nil }, "the notice on the reply's SSE stream was followed")
        #expect(told.withLock { $0 }?.contains { $0.name == "web.extra" } == true)
        #expect(try await client.listTools().contains { $0.name == "web.extra" })
        await client.close()
    }

    @Test func theHandshakeWithSessionsWhenTheServerIsOlder() async throws {
        let server = try HTTPTestServer(["--handshake-only"])
        defer { server.stop() }
        let client = MCPClient(MCPServerSpec(name: "web", endpoint: .http(server.url)))
        try checkTools(try await client.listTools())
        #expect(await client.negotiatedVersion == MCPClient.supportedVersions[0])
        #expect(try await client.call("place_order", arguments: order, timeoutMillis: 10_000).text == "tea to Oslo")
        let failed = try await client.call("fail", arguments: .object([:]), timeoutMillis: 10_000)
        #expect(failed.isError && failed.text.contains("always fails"), "\(failed.text)")

        // The server forgets the session: the client initializes again, once, and the call goes through.
        let session = try #require(await client.sessionID)
        try await server.forgetSessions()
        #expect(try await client.call("add", arguments: .object(["a": .number(1), "b": .number(1)]), timeoutMillis: 10_000).text == "2")
        let renewed = try #require(await client.sessionID)
        #expect(renewed != session)

        try await checkHang(client)

        // The server dies in the middle of a call: an error, not a hang; the tool is not read-only, so no retry.
        do {
            _ = try await client.call("die", arguments: .object([:]), timeoutMillis: 10_000)
            Issue.record("a call whose server died returned")
        } catch let e as MCPError {
            guard case .notRetried(_, "die", _) = e else { Issue.record("\(e)"); return }
        }
        await client.close()
    }
}
