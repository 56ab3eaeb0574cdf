import Synchronization
import ExternalTools
import Foundation
import HiveCore
import Testing
@testable import HiveMCP

/// Real stdio servers: PyPI's mcp-server-time and mcp-server-git, and raw_stdio_server.py, which misbehaves on
/// purpose. Every test checks the server's processes are gone after `close()`.
@Suite(.serialized) struct StdioServerTests {
    @Test func timeServerListsAndCalls() async throws {
        let client = MCPClient(MCPServerSpec(name: "time", endpoint: .stdio(argv: [try MCPTest.venvScript("mcp-server-time", package: "mcp-server-time")])))
        let tools = try await client.listTools()
        let get = try #require(tools.first { $0.name == "time.get_current_time" })
        #expect(tools.allSatisfy { $0.name.hasPrefix("time.") })
        guard case .object(let schema) = get.inputSchema else { Issue.record("schema is not an object"); return }
        #expect(schema["properties"] != nil)
        let pid = try #require(await client.processID)

        let now = try await client.call("get_current_time", arguments: .object(["timezone": .string("UTC")]), timeoutMillis: 10_000)
        #expect(!now.isError)
        #expect(now.text.contains("UTC"))
        // A timezone that does not exist: the server's error, as a result or a JSON-RPC error, naming it.
        do {
            let bad = try await client.call("get_current_time", arguments: .object(["timezone": .string("Nowhere/Atlantis")]), timeoutMillis: 10_000)
            #expect(bad.isError)
            #expect(bad.text.contains("Nowhere/Atlantis"))
        } catch let e as MCPError {
            #expect(e.description.contains("Nowhere/Atlantis"))
        }
        // Arguments that are not an object never reach the server.
        let notObject = try await client.call("get_current_time", arguments: .string("UTC"), timeoutMillis: 10_000)
        #expect(notObject.isError)
        await client.close()
        #expect(!MCPTest.alive(pid))
    }

    @Test func gitServerStatusOfARepository() async throws {
        let repo = FileManager.default.temporaryDirectory.appendingPathComponent("hive-mcp-git-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: repo, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: repo) }
        let git = Process()
        git.executableURL = URL(fileURLWithPath: try ExternalTool.path("git", package: "git"))
        git.arguments = ["init", "-q", repo]
        try git.run()
        git.waitUntilExit()
        try "hello\n".write(toFile: repo + "/fresh.txt", atomically: true, encoding: .utf8)
        let client = MCPClient(MCPServerSpec(name: "git", endpoint: .stdio(argv: [try MCPTest.venvScript("mcp-server-git", package: "mcp-server-git"),
                                                                              "--repository", repo])))
        let tools = try await client.listTools()
        #expect(tools.contains { $0.name == "git.git_status" })
        let pid = try #require(await client.processID)
        let status = try await client.call("git_status", arguments: .object(["repo_path": .string(repo)]), timeoutMillis: 20_000)
        #expect(!status.isError)
        #expect(status.text.contains("fresh.txt"))
        await client.close()
        #expect(!MCPTest.alive(pid))
    }

    @Test func pagedListingInlinedSchemasAndPins() async throws {
        let client = try MCPTest.raw()
        defer { Task { await client.close() } }
        let first = try await client.listTools()
        // One tool per page, eleven pages; `loop` (a recursive schema) is left out, not inlined for ever.
        #expect(first.map(\.name) == ["raw.echo", "raw.hang", "raw.die", "raw.flaky", "raw.garbage", "raw.spawn", "raw.change",
                                      "raw.flood", "raw.pings", "raw.flip"])
        let echo = try #require(first.first { $0.name == "raw.echo" })
        #expect(!echo.sideEffecting)  // readOnlyHint: true
        #expect(try #require(first.first { $0.name == "raw.die" }).sideEffecting)  // no annotations
        let schema = String(decoding: try JSONEncoder().encode(echo.inputSchema), as: UTF8.self)
        #expect(!schema.contains("$ref") && !schema.contains("definitions"))
        #expect(schema.contains("\"maxLength\":100"))
        // The listing is kept: a second one does not ask the server (flip's description counts listings).
        #expect(try await client.listTools() == first)
        // A definition that changed between listings: the pin differs, the unchanged ones do not.
        await client.forgetTools()
        let second = try await client.listTools()
        let flip1 = try #require(first.first { $0.name == "raw.flip" }), flip2 = try #require(second.first { $0.name == "raw.flip" })
        #expect(flip1.pin != flip2.pin)
        #expect(echo.pin == second.first { $0.name == "raw.echo" }?.pin)
        await client.close()
    }

    @Test func aListChangedNoticeRelistsAndTellsTheHandler() async throws {
        let client = try MCPTest.raw()
        defer { Task { await client.close() } }
        let first = try await client.listTools()
        let changed = Mutex<[ToolDefinition]?>(nil)
        await client.onToolsChanged { tools in changed.withLock { $0 = tools } }
        let r = try await client.call("change", arguments: .object([:]), timeoutMillis: 10_000)
        #expect(r.text == "echo is version 1")
        // The notice came before the reply: the client lists again on its own and hands over the new definitions.
        #expect(await MCPTest.eventually { changed.withLock { $0 != nil } }, "the handler was told")
        let told = try #require(changed.withLock { $0 })
        let echo1 = try #require(first.first { $0.name == "raw.echo" }), echo2 = try #require(told.first { $0.name == "raw.echo" })
        #expect(echo2.description == "Echoes text. (version 1)" && echo1.pin != echo2.pin)
        #expect(try await client.listTools() == told, "the new listing is the one kept")
        await client.close()
    }

    @Test func aServerFloodingPingsGetsAtMostTheCapOfRepliesInFlight() async throws {
        var limits = MCPLimits()
        limits.maxPendingReplies = 4
        let client = MCPClient(MCPServerSpec(name: "raw", endpoint: .stdio(argv: [try ExternalTool.python(), "\(MCPTest.here)/raw_stdio_server.py"])),
                               limits: limits)
        defer { Task { await client.close() } }
        _ = try await client.listTools()
        // 5000 pings while the server reads nothing: the pipe holds some replies, four more wait, the rest are dropped.
        #expect(try await client.call("flood", arguments: .object([:]), timeoutMillis: 30_000).text == "flooded")
        let echoed = try await client.call("echo", arguments: .object(["text": .string("still here")]), timeoutMillis: 30_000)
        #expect(echoed.text == "still here")
        let answered = Int(try await client.call("pings", arguments: .object([:]), timeoutMillis: 30_000).text) ?? -1
        #expect(answered > 0 && answered < 5_000, "\(answered) ping replies")
        await client.close()
    }

    @Test func aHangingCallTimesOutAndTheServerStaysUsable() async throws {
        let client = try MCPTest.raw()
        _ = try await client.listTools()
        let start = Date()
        await #expect(throws: MCPError.timeout(server: "raw", method: "tools/call", millis: 300)) {
            try await client.call("hang", arguments: .object([:]), timeoutMillis: 300)
        }
        #expect(Date().timeIntervalSince(start) < 5)
        let echo = try await client.call("echo", arguments: .object(["text": .string("still here")]), timeoutMillis: 5_000)
        #expect(echo == ToolCallResult(text: "still here", isError: false))
        await client.close()
    }

    @Test func aCancelledCallEndsPromptly() async throws {
        let marker = FileManager.default.temporaryDirectory.appendingPathComponent("hive-mcp-hang-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: marker) }
        let client = try MCPTest.raw(["--hang-marker", marker])
        _ = try await client.listTools()
        let call = Task { try await client.call("hang", arguments: .object([:]), timeoutMillis: 60_000) }
        // Cancel only once the server holds the call, so the cancellation is of a call in flight.
        #expect(await MCPTest.eventually { FileManager.default.fileExists(atPath: marker) })
        let start = Date()
        call.cancel()
        await #expect(throws: MCPError.self) { try await call.value }
        #expect(Date().timeIntervalSince(start) < 5)
        await client.close()
    }

    @Test func aServerDyingMidCallIsAnErrorThenTheNextCallReconnects() async throws {
        let client = try MCPTest.raw()
        _ = try await client.listTools()
        let first = try #require(await client.processID)
        do {
            _ = try await client.call("die", arguments: .object([:]), timeoutMillis: 10_000)
            Issue.record("a call whose server died returned")
        } catch let e as MCPError {
            guard case .notRetried(let s, let tool, let detail) = e else { Issue.record("\(e)"); return }
            #expect(s == "raw" && tool == "die" && detail.contains("status 4"))
        }
        let echo = try await client.call("echo", arguments: .object(["text": .string("again")]), timeoutMillis: 10_000)
        #expect(echo.text == "again")
        let second = try #require(await client.processID)
        #expect(second != first)
        #expect(!MCPTest.alive(first))
        await client.close()
        #expect(!MCPTest.alive(second))
    }

    @Test func aReadOnlyCallInterruptedByTheServersDeathIsRetriedOnce() async throws {
        let marker = FileManager.default.temporaryDirectory.appendingPathComponent("hive-mcp-flaky-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: marker) }
        let client = try MCPTest.raw(["--marker", marker])
        _ = try await client.listTools()
        let first = try #require(await client.processID)
        #expect(try await client.call("flaky", arguments: .object([:]), timeoutMillis: 10_000) == ToolCallResult(text: "recovered", isError: false))
        #expect(FileManager.default.fileExists(atPath: marker))  // the first process did die in the call
        #expect(await client.processID != first)
        await client.close()
    }

    @Test func aMalformedMessageIsAClearErrorNotAHang() async throws {
        let client = try MCPTest.raw()
        _ = try await client.listTools()
        let pid = try #require(await client.processID)
        do {
            _ = try await client.call("garbage", arguments: .object([:]), timeoutMillis: 10_000)
            Issue.record("a malformed reply was taken")
        } catch let e as MCPError {
            #expect(e.description.contains("malformed") && e.description.contains("this is not json"))
        }
        #expect(await MCPTest.eventually { !MCPTest.alive(pid) })
        #expect(try await client.call("echo", arguments: .object(["text": .string("ok")]), timeoutMillis: 10_000).text == "ok")
        await client.close()
    }

    @Test func closeKillsTheWholeProcessGroup() async throws {
        let client = try MCPTest.raw()
        _ = try await client.listTools()
        let leader = try #require(await client.processID)
        let result = try await client.call("spawn", arguments: .object([:]), timeoutMillis: 10_000)
        let grandchild = try #require(Int32(result.text))
        #expect(MCPTest.alive(grandchild))
        await client.close()
        #expect(!MCPTest.alive(leader))
        #expect(await MCPTest.eventually { !MCPTest.alive(grandchild) })
    }

    @Test func limitsAreNamedWhenHit() async throws {
        var limits = MCPLimits()
        limits.maxMessageBytes = 4_096
        let small = MCPClient(MCPServerSpec(name: "raw", endpoint: .stdio(argv: [try ExternalTool.python(), "\(MCPTest.here)/raw_stdio_server.py"])),
                              limits: limits)
        _ = try await small.listTools()
        do {
            _ = try await small.call("huge", arguments: .object([:]), timeoutMillis: 10_000)
            Issue.record("a reply over the message limit was taken")
        } catch let e as MCPError {
            #expect(e.description.contains("--mcp-max-message-bytes"), "\(e)")
        }
        await small.close()

        limits = MCPLimits()
        limits.maxTools = 3
        let few = MCPClient(MCPServerSpec(name: "raw", endpoint: .stdio(argv: [try ExternalTool.python(), "\(MCPTest.here)/raw_stdio_server.py"])),
                            limits: limits)
        await #expect(throws: MCPError.limit(server: "raw", limit: "--mcp-max-tools", detail: "more than 3 tools")) {
            try await few.listTools()
        }
        await few.close()
    }

    @Test func aServerThatClosesItsStdoutIsEndedNotWaitedFor() async throws {
        let client = try MCPTest.raw()
        _ = try await client.listTools()
        let start = Date()
        do {
            _ = try await client.call("mute", arguments: .object([:]), timeoutMillis: 60_000)
            Issue.record("a call of a server without stdout returned")
        } catch let e as MCPError {
            #expect(e.description.contains("closed its stdout"), "\(e)")
        }
        #expect(Date().timeIntervalSince(start) < 10)
        await client.close()
    }

    @Test func aVersionWeDoNotSpeakIsRefused() async throws {
        let client = try MCPTest.raw(["--version", "2099-01-01"])
        do {
            _ = try await client.listTools()
            Issue.record("an unknown protocol version was accepted")
        } catch let e as MCPError {
            #expect(e == .version(server: "raw", offered: "2099-01-01", supported: MCPClient.supportedVersions))
        }
        await client.close()
    }

    @Test func aMissingCommandIsASpawnError() async throws {
        let client = MCPClient(MCPServerSpec(name: "nope", endpoint: .stdio(argv: ["/nonexistent/mcp-server"])))
        await #expect(throws: MCPError.self) { try await client.listTools() }
        await client.close()
    }
}
