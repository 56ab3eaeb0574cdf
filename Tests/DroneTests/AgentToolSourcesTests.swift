import ExternalTools
import Foundation
import HiveCore
import HiveMCP
import HiveSystem
import Synchronization
import Testing
@testable import Drone

/// The agent loop over its other tool sources and turn shapes, all real parts but the model (a scripted double):
/// stored WebAssembly modules built from text by wabt as `wasm.<name>` tools, several calls in one turn, and an MCP
/// server (raw_stdio_server.py) whose tools change under a running drone.
@Suite struct AgentToolSourcesTests {
    /// Writes `{"got":` + its stdin + `}` to stdout: the arguments arrive as JSON, the result is what it prints.
    static let wrapWat = """
    (module
      (import "wasi_snapshot_preview1" "fd_read" (func $fd_read (param i32 i32 i32 i32) (result i32)))
      (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
      (memory (export "memory") 1)
      (data (i32.const 0) "{\\"got\\":")
      (data (i32.const 16) "}")
      (func $out (param $at i32) (param $n i32)
        (i32.store (i32.const 64) (local.get $at))
        (i32.store (i32.const 68) (local.get $n))
        (drop (call $fd_write (i32.const 1) (i32.const 64) (i32.const 1) (i32.const 96))))
      (func (export "_start") (local $n i32)
        (call $out (i32.const 0) (i32.const 7))
        (block $done
          (loop $more
            (i32.store (i32.const 64) (i32.const 1024))
            (i32.store (i32.const 68) (i32.const 4096))
            (drop (call $fd_read (i32.const 0) (i32.const 64) (i32.const 1) (i32.const 96)))
            (local.set $n (i32.load (i32.const 96)))
            (br_if $done (i32.eqz (local.get $n)))
            (call $out (i32.const 1024) (local.get $n))
            (br $more)))
        (call $out (i32.const 16) (i32.const 1))))
    """
    /// Traps at once.
    static let trapWat = #"(module (memory (export "memory") 1) (func (export "_start") unreachable))"#

    /// A wasm tool source over modules served from memory, as honeycombd's store would (by SHA-256).
    func wasmSource(_ modules: [String: [UInt8]], manifests: [String: JSONValue] = [:]) throws -> (WasmToolSource, WasmBackend) {
        let store = ModuleSource()
        var byHash: [String: [UInt8]] = [:]
        var specs: [WasmToolSpec] = []
        for (name, bytes) in modules.sorted(by: { $0.key < $1.key }) {
            let hash = SHA256.hex(bytes)
            byHash[hash] = bytes
            let manifest = manifests[name].map { Data($0.compactJSON.utf8) }
            specs.append(try WasmToolSpec.parse("\(name)=sha256:\(hash)" + (manifest == nil ? "" : ",m.json")) { _ in manifest! })
        }
        let served = byHash
        store.connect { hash in
            guard let b = served[hash] else { throw WasmToolError("unknown module \(hash)") }
            return b
        }
        let backend = WasmBackend(source: store)
        return (WasmToolSource(backend: backend, tools: specs), backend)
    }

    func task(_ tools: [String], maxSteps: Int? = nil, pins: [String: String]? = nil) -> Assignment {
        Assignment(task: "g1.0", goal: "g1", attempt: 1, token: "t", kind: "agent",
                   input: TaskInput(prompt: "Do the thing.", maxTokens: 32, agent: AgentSpec(tools: tools, maxSteps: maxSteps, pins: pins)),
                   index: 0, timeoutMillis: 20_000)
    }

    func transcript(_ o: BackendOutcome) throws -> AgentTranscript {
        try #require(AgentTranscript.parse(o.output), "the output is the transcript: \(o.output ?? "nil")")
    }

    // MARK: wasm tools

    @Test func aStoredModuleIsAReadOnlyToolTakingJSONOnStdin() async throws {
        let schema: JSONValue = .object(["type": .string("object"), "properties": .object(["text": .object(["type": .string("string")])]),
                                         "required": .array([.string("text")])])
        let (source, wasm) = try wasmSource(["wrap": try Wat.assemble(Self.wrapWat), "boom": try Wat.assemble(Self.trapWat)],
                                            manifests: ["wrap": .object(["description": .string("Wraps its arguments."), "input_schema": schema])])
        let model = ScriptedAgentModel([
            { _ in .call(tool: "wasm.wrap", arguments: .object(["text": .string("hi")])) },
            { _ in .call(tool: "wasm.boom", arguments: .object([:])) },
            { _ in .call(tool: "wasm.wrap", arguments: .object(["text": .number(3)])) },
            { c in .answer(c.steps[0].result) },
        ])
        let b = try await AgentBackend.start(model: model, sources: [source])
        #expect(b.tools.map(\.name) == ["wasm.boom", "wasm.wrap"])
        let wrap = try #require(b.tools.first { $0.name == "wasm.wrap" })
        #expect(!wrap.sideEffecting && wrap.inputSchema == schema)
        #expect(wrap.description.hasPrefix("Wraps its arguments. (WebAssembly module sha256:"), "the pin covers the module's hash")
        #expect(b.capabilities.contains("tool:wasm.wrap") && !b.capabilities.contains { $0.hasPrefix("effect:") })

        let o = await b.run(task(["wasm.wrap", "wasm.boom"]))
        #expect(o.succeeded, "\(o.error ?? "")")
        let t = try transcript(o)
        #expect(t.steps.count == 3)
        #expect(t.steps[0].result == #"{"got":{"text":"hi"}}"# && !t.steps[0].isError)
        #expect(t.steps[1].isError && t.steps[1].result.contains("trap: unreachable executed"), "\(t.steps[1].result)")
        #expect(t.steps[2].isError && t.steps[2].result.contains("do not match wasm.wrap's schema"), "\(t.steps[2].result)")
        #expect(t.answer == #"{"got":{"text":"hi"}}"#)
        #expect(wasm.cachedModules == 2, "each module fetched, verified and compiled once")
    }

    @Test func wasmToolFlagsAreCheckedWithTheirReasons() throws {
        let hash = String(repeating: "ab", count: 32)
        #expect(try WasmToolSpec.parse("t=sha256:\(hash)").module == hash)
        #expect(try WasmToolSpec.parse("t=\(hash.uppercased())").module == hash)
        func why(_ s: String, _ file: String = "{}") -> String {
            do { _ = try WasmToolSpec.parse(s) { _ in Data(file.utf8) }; return "accepted" } catch { return error.description }
        }
        #expect(why("t").contains("takes NAME=sha256:HEX"))
        #expect(why("a.b=sha256:\(hash)").contains("must be 1 to 32 letters"))
        #expect(why("t=sha256:1234").contains("is not a module's SHA-256"))
        #expect(why("t=\(hash),m.json", "[1]").contains("is not a JSON object"))
        #expect(why("t=\(hash),m.json", #"{"input_schema": "x"}"#).contains("input_schema must be a JSON object"))
        #expect(why("t=\(hash),m.json", String(repeating: " ", count: WasmToolSpec.maxManifestBytes + 1)).contains("over 65536"))
    }

    // MARK: several calls in one turn

    @Test func severalCallsInOneTurnRunInOrderEachAStep() async throws {
        let exec = ExecBackend(allowed: ["/bin/echo", "/bin/date"])
        let source = ExecToolSource(backend: exec, allowed: ["/bin/echo", "/bin/date"], sideEffects: [])
        @Sendable func echo(_ s: String) -> AgentCall { AgentCall(tool: "exec.echo", arguments: .object(["args": .array([.string(s)])])) }
        let model = ScriptedAgentModel([
            { _ in .calls([echo("one"), AgentCall(tool: "exec.date", arguments: .object([:]), problem: "the arguments of exec.date are not a JSON object"),
                           echo("three")]) },
            { c in .answer(c.steps.map(\.result).joined(separator: "|")) },
        ])
        let b = try await AgentBackend.start(model: model, sources: [source])
        let o = await b.run(task(["exec.echo", "exec.date"]))
        #expect(o.succeeded, "\(o.error ?? "")")
        let t = try transcript(o)
        #expect(t.steps.map(\.tool) == ["exec.echo", "exec.date", "exec.echo"])
        #expect(t.steps.map(\.turn) == [1, 1, 1])
        #expect(t.steps[0].result == "one\n" && t.steps[2].result == "three\n")
        #expect(t.steps[1].isError && t.steps[1].result.contains("not a JSON object"), "a call that cannot be made still gets its result")
        #expect(model.seen.map(\.steps.count) == [0, 3], "the next turn saw every result")
        #expect(AgentConversation.turns(t.steps).map { $0.map(\.index) } == [[0, 1, 2]])

        // Each call is a step: with max_steps 3, a turn asking for three makes two (the last step is the answer's).
        let tight = ScriptedAgentModel([{ _ in .calls([echo("a"), echo("b"), echo("c")]) }, { _ in .answer("done") }])
        let o2 = try await AgentBackend.start(model: tight, sources: [source]).run(task(["exec.echo"], maxSteps: 3))
        let t2 = try transcript(o2)
        #expect(o2.succeeded && t2.answer == "done")
        #expect(t2.steps.map(\.isError) == [false, false, true])
        #expect(t2.steps[2].result.contains("not made: the calls before it used the tool calls left (agent.max_steps 3)"))
        #expect(tight.seen.map(\.tools.count) == [1, 0], "the turn after them may only answer")
    }

    @Test func providersGetEveryCallOfATurnBackInTheirFormat() throws {
        func step(_ tool: String, _ result: String, turn: Int, error: Bool = false) -> AgentStep {
            AgentStep(tool: tool, arguments: .object(["args": .array([])]), result: result, isError: error, millis: 1, turn: turn)
        }
        let steps = [step("exec.date", "1970", turn: 1), step("exec.echo", "hi", turn: 1, error: true), step("exec.date", "1971", turn: 2)]
        let c = AgentConversation(system: nil, prompt: "p", steps: steps, tools: [], maxTokens: 8, input: TaskInput())
        let url = URL(string: "http://127.0.0.1:9")!
        var names = ProviderToolNames([])
        let openai = OpenAIAgentModel(OpenAIBackend(baseURL: url, apiModel: "m", apiKey: nil)).body(c, names: &names)
        let messages = try #require(openai["messages"] as? [[String: Any]])
        // user, assistant(2 calls), tool, tool, assistant(1 call), tool
        #expect(messages.map { $0["role"] as? String ?? "" } == ["user", "assistant", "tool", "tool", "assistant", "tool"])
        let calls = try #require(messages[1]["tool_calls"] as? [[String: Any]])
        #expect(calls.map { $0["id"] as? String ?? "" } == ["call_1", "call_2"])
        #expect(messages[2]["tool_call_id"] as? String == "call_1" && messages[3]["tool_call_id"] as? String == "call_2")
        #expect(messages[3]["content"] as? String == "Error: hi")
        #expect(messages[5]["tool_call_id"] as? String == "call_3")

        var names2 = ProviderToolNames([])
        let anthropic = AnthropicAgentModel(AnthropicBackend(baseURL: url, apiModel: "m", apiKey: nil)).body(c, names: &names2)
        let am = try #require(anthropic["messages"] as? [[String: Any]])
        #expect(am.map { $0["role"] as? String ?? "" } == ["user", "assistant", "user", "assistant", "user"])
        let uses = try #require(am[1]["content"] as? [[String: Any]]), results = try #require(am[2]["content"] as? [[String: Any]])
        #expect(uses.map { $0["type"] as? String ?? "" } == ["tool_use", "tool_use"])
        #expect(results.map { $0["tool_use_id"] as? String ?? "" } == ["toolu_1", "toolu_2"])
        #expect(results.map { $0["is_error"] as? Bool ?? false } == [false, true])
    }

    // MARK: MCP tools that change

    @Test func anMCPServersListChangedIsAdvertisedAndItsChangedToolRefused() async throws {
        let server = ExternalTool.root + "/Tests/HiveMCPTests/raw_stdio_server.py"
        let client = MCPClient(MCPServerSpec(name: "raw", endpoint: .stdio(argv: [try ExternalTool.python(), server])))
        defer { Task { await client.close() } }
        let model = ScriptedAgentModel([
            { _ in .call(tool: "raw.change", arguments: .object([:])) },
            { _ in .call(tool: "raw.echo", arguments: .object(["text": .string("x")])) },
            { _ in .answer("done") },
        ])
        let b = try await AgentBackend.start(model: model, sources: [client])
        let before = try #require(b.tools.first { $0.name == "raw.echo" })
        let announced = Mutex(0)
        await b.watch { announced.withLock { $0 += 1 } }
        let o = await b.run(task(["raw.change", "raw.echo"], pins: ["raw.echo": before.pin]))
        let t = try transcript(o)
        #expect(t.steps[0].result == "echo is version 1")
        // The notice came before change's reply; the call after it finds the new definition and is refused.
        #expect(t.steps[1].isError && t.steps[1].result.contains("raw.echo changed since the goal was submitted"), "\(t.steps[1].result)")
        // The drone's advertised tools follow, and it is told to announce them.
        let deadline = Monotonic.after(Monotonic.now(), nanos: Monotonic.nanos(millis: 10_000))
        while announced.withLock({ $0 }) == 0 && Monotonic.now() < deadline { try await Task.sleep(for: .milliseconds(10)) }
        #expect(announced.withLock { $0 } >= 1)
        let after = try #require(b.tools.first { $0.name == "raw.echo" })
        #expect(after.pin != before.pin && after.description == "Echoes text. (version 1)")
        #expect(b.capabilities.contains("tool:raw.echo"))

        // A goal pinned to the new definition calls it.
        let model2 = ScriptedAgentModel([{ _ in .call(tool: "raw.echo", arguments: .object(["text": .string("again")])) }, { _ in .answer("ok") }])
        let b2 = AgentBackend(model: model2, sources: [client], tools: b.tools)
        let t2 = try transcript(await b2.run(task(["raw.echo"], pins: ["raw.echo": after.pin])))
        #expect(t2.steps[0].result == "again" && !t2.steps[0].isError)
        await client.close()
    }
}
