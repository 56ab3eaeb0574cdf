import Drone
import Foundation
import HiveCore
import HiveSystem
import Testing

/// The agent loop over real exec tools (`/bin/date`, `/bin/echo`, `/usr/bin/wc`, …) with a scripted model double:
/// a three-tool sequence, the step, time, call and token bounds, the allow-list, the schema, a changed pin,
/// cut results and cancellation.
@Suite struct AgentBackendTests {
    static let commands = ["/bin/date", "/bin/echo", "/usr/bin/wc", "/usr/bin/seq", "/bin/sleep"]

    func backend(_ model: ScriptedAgentModel, sideEffects: [String] = [], outputCap: Int = 1 << 20) async throws -> AgentBackend {
        let exec = ExecBackend(allowed: Self.commands)
        return try await AgentBackend.start(model: model, sources: [ExecToolSource(backend: exec, allowed: Self.commands, sideEffects: sideEffects)],
                                            outputCap: outputCap)
    }

    func task(_ tools: [String], maxSteps: Int? = nil, wallMillis: Int? = nil, callMillis: Int? = nil,
              pins: [String: String]? = nil, maxTokens: Int? = 32, timeout: Int = 20_000) -> Assignment {
        Assignment(task: "g1.0", goal: "g1", attempt: 1, token: "t", kind: "agent",
                   input: TaskInput(prompt: "Do the thing.", maxTokens: maxTokens,
                                    agent: AgentSpec(tools: tools, maxSteps: maxSteps, maxWallMillis: wallMillis,
                                                     callTimeoutMillis: callMillis, pins: pins)),
                   index: 0, timeoutMillis: timeout)
    }

    func transcript(_ o: BackendOutcome) throws -> AgentTranscript {
        try #require(AgentTranscript.parse(o.output), "the output is the transcript: \(o.output ?? "nil")")
    }

    @Test func toolsAreTheAllowListedCommandsWithPinsAndSideEffects() async throws {
        let b = try await backend(ScriptedAgentModel([{ _ in .answer("") }]), sideEffects: ["/usr/bin/wc"])
        #expect(b.tools.map(\.name) == ["exec.date", "exec.echo", "exec.seq", "exec.sleep", "exec.wc"])
        #expect(b.tools.first { $0.name == "exec.wc" }?.sideEffecting == true)
        #expect(b.tools.allSatisfy { $0.pin.hasPrefix("sha256:") && $0.pin.count == 71 })
        #expect(b.capabilities.contains("tool:exec.date") && b.capabilities.contains("effect:tool:exec.wc"))
        #expect(!b.capabilities.contains("effect:tool:exec.date"))
    }

    @Test func threeToolsInSequenceThenAnAnswerBuiltFromTheirResults() async throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("agent-wc-\(UUID().uuidString).txt")
        try "one two three\n".write(to: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: file) }
        let model = ScriptedAgentModel([
            ScriptedAgentModel.call("exec.echo", ["hello", "agent"]),
            ScriptedAgentModel.call("exec.date", ["-u", "-d", "@0", "+%Y"]),
            ScriptedAgentModel.call("exec.wc", ["-w", file.path]),
            { c in .answer(c.steps.map { $0.result.trimmingCharacters(in: .whitespacesAndNewlines) }.joined(separator: " | ")) },
        ])
        let b = try await backend(model)
        let o = await b.run(task(["exec.echo", "exec.date", "exec.wc"]))
        #expect(o.succeeded, "\(o.error ?? "")")
        let t = try transcript(o)
        #expect(t.steps.map(\.tool) == ["exec.echo", "exec.date", "exec.wc"])
        #expect(t.steps.allSatisfy { !$0.isError && $0.millis >= 0 && $0.atMillis != nil })
        #expect(t.steps[0].result == "hello agent\n")
        #expect(t.steps[1].result == "1970\n")
        #expect(t.steps[2].result == "3 \(file.path)\n")
        #expect(t.answer == "hello agent | 1970 | 3 \(file.path)")
        // Each turn saw the results so far, and only the allowed tools.
        #expect(model.seen.map(\.steps.count) == [0, 1, 2, 3])
        #expect(model.seen[0].tools.map(\.name) == ["exec.echo", "exec.date", "exec.wc"])
        #expect(o.usage?.promptTokens == 40 && o.usage?.generatedTokens == 20, "usage is every turn's")
    }

    @Test func theLastTurnMayOnlyAnswerAndMaxStepsEndsTheLoop() async throws {
        let model = ScriptedAgentModel([ScriptedAgentModel.call("exec.date", [])])
        let o = try await backend(model).run(task(["exec.date"], maxSteps: 2))
        #expect(!o.succeeded)
        #expect(o.error == "no answer after 2 steps (agent.max_steps): 2 turns, 2 tool calls")
        let t = try transcript(o)
        #expect(t.answer == nil && t.steps.count == 2)
        #expect(!t.steps[0].isError)
        #expect(t.steps[1].isError && t.steps[1].result.contains("no tool calls are left"))
        #expect(model.seen.map(\.tools.count) == [1, 0], "the last turn is shown no tools")
    }

    @Test func wallTimeEndsASlowLoop() async throws {
        let model = ScriptedAgentModel([ScriptedAgentModel.call("exec.date", [])], delayMillis: 5_000)
        let start = Monotonic.now()
        let o = try await backend(model).run(task(["exec.date"], wallMillis: 300))
        let ms = Monotonic.elapsed(from: start, to: Monotonic.now()) / 1_000_000
        #expect(!o.succeeded && o.error?.contains("no answer within 300 ms (agent.max_wall_ms)") == true)
        #expect(ms < 3_000, "the turn in flight was cancelled, not waited for (\(ms) ms)")
    }

    @Test func aSlowCallIsCutByItsTimeoutAndTheModelIsTold() async throws {
        let model = ScriptedAgentModel([ScriptedAgentModel.call("exec.sleep", ["10"]), { c in .answer(c.steps[0].result) }])
        let o = try await backend(model).run(task(["exec.sleep"], callMillis: 300))
        #expect(o.succeeded)
        let t = try transcript(o)
        #expect(t.steps[0].isError)
        #expect(t.steps[0].millis < 3_000, "killed at its timeout, not after 10 s (\(t.steps[0].millis) ms)")
        #expect(t.answer?.contains("timed out") == true || t.answer?.contains("call_timeout_ms") == true, "\(t.answer ?? "")")
    }

    @Test func aToolOutsideTheAllowListIsAnErrorResultNotACall() async throws {
        let model = ScriptedAgentModel([ScriptedAgentModel.call("exec.echo", ["leak"]), { _ in .answer("ok") }])
        let o = try await backend(model).run(task(["exec.date"]))
        #expect(o.succeeded)
        let t = try transcript(o)
        #expect(t.steps.count == 1 && t.steps[0].isError)
        #expect(t.steps[0].result == "tool exec.echo is not allowed for this task (agent.tools: exec.date)")
        #expect(model.seen[0].tools.map(\.name) == ["exec.date"], "the model was never shown it")
    }

    @Test func aToolWhoseDefinitionChangedSinceSubmissionIsRefused() async throws {
        let model = ScriptedAgentModel([ScriptedAgentModel.call("exec.date", []), { _ in .answer("refused") }])
        let b = try await backend(model)
        let pin = try #require(b.tools.first { $0.name == "exec.date" }?.pin)
        // The pin the goal holds is of another definition (the drone's tool changed since submission).
        let stale = "sha256:" + String(repeating: "0", count: 64)
        let o = await b.run(task(["exec.date"], pins: ["exec.date": stale]))
        let t = try transcript(o)
        #expect(t.steps[0].isError && t.steps[0].result.contains("exec.date changed since the goal was submitted"))
        // With the current pin the same call runs.
        let model2 = ScriptedAgentModel([ScriptedAgentModel.call("exec.date", ["-u", "-d", "@0", "+%Y"]), { _ in .answer("ran") }])
        let o2 = try await backend(model2).run(task(["exec.date"], pins: ["exec.date": pin]))
        #expect(try transcript(o2).steps[0].result == "1970\n")
    }

    @Test func argumentsThatBreakTheSchemaAreFedBack() async throws {
        let model = ScriptedAgentModel([{ _ in .call(tool: "exec.echo", arguments: .object(["args": .string("x")])) }, { _ in .answer("fixed") }])
        let o = try await backend(model).run(task(["exec.echo"]))
        let t = try transcript(o)
        #expect(t.steps[0].isError && t.steps[0].result.contains("do not match exec.echo's schema"))
        #expect(t.steps[0].result.contains("$.args must be array"))
    }

    @Test func longResultsAreCutAt8KiBAndSaySo() async throws {
        let model = ScriptedAgentModel([ScriptedAgentModel.call("exec.seq", ["1", "10000"]), { _ in .answer("long") }])
        let o = try await backend(model).run(task(["exec.seq"]))
        let r = try transcript(o).steps[0].result
        #expect(r.hasPrefix("1\n2\n3\n"))
        #expect(r.utf8.count < AgentSpec.resultBytes + 200)
        #expect(r.contains("[cut: the result was 48894 bytes; the first 8192 are shown]"))
    }

    @Test func aTranscriptOverTheOutputCapKeepsEveryCallWithShorterResults() async throws {
        let model = ScriptedAgentModel([ScriptedAgentModel.call("exec.seq", ["1", "10000"]), ScriptedAgentModel.call("exec.seq", ["1", "9000"]),
                                        ScriptedAgentModel.call("exec.seq", ["1", "8000"]), { _ in .answer("done") }])
        let o = try await backend(model, outputCap: 0).run(task(["exec.seq"]))
        #expect(o.succeeded)
        let text = try #require(o.output)
        #expect(text.utf8.count <= AgentBackend.minimumOutputBytes, "\(text.utf8.count) bytes")
        let t = try transcript(o)
        #expect(t.answer == "done" && t.steps.count == 3 && t.steps.allSatisfy { $0.tool == "exec.seq" && !$0.isError })
        #expect(t.steps[0].result.hasPrefix("1\n2\n") && t.steps[0].result.contains("[cut in the transcript: the result was"))
        #expect(model.seen[3].steps[0].result.utf8.count > AgentSpec.resultBytes, "the model saw 8 KiB of each result")
    }

    @Test func theTokenReservationStopsTheLoopBeforeItIsPassed() async throws {
        // A model that reads every byte as a token: each turn re-reads the growing transcript (8 KiB results), so the
        // reservation (max_steps × per-turn worst case) runs out before max_steps, and the loop stops short of it.
        let model = ScriptedAgentModel([ScriptedAgentModel.call("exec.seq", ["1", "10000"])], chargesWorstCase: true)
        let a = task(["exec.seq"], maxSteps: 8)
        let o = try await backend(model).run(a)
        let reservation = AgentSpec.worstCaseTokens(a.input)
        #expect(!o.succeeded && o.error?.contains("could pass the agent's token reservation of \(reservation)") == true, "\(o.error ?? "")")
        let used = (o.usage?.promptTokens ?? 0) + (o.usage?.generatedTokens ?? 0)
        #expect(used > 0 && used <= reservation)
        #expect(model.seen.count < 8, "stopped before max_steps (\(model.seen.count) turns)")
    }

    @Test func cancellingTheTaskEndsTheLoop() async throws {
        let model = ScriptedAgentModel([ScriptedAgentModel.call("exec.date", [])], delayMillis: 10_000)
        let b = try await backend(model)
        let run = Task { await b.run(task(["exec.date"])) }
        // Cancelled while the model's turn is in flight (waited for with a deadline, not a sleep).
        let deadline = Monotonic.after(Monotonic.now(), nanos: Monotonic.nanos(millis: 5_000))
        while model.seen.isEmpty && Monotonic.now() < deadline { await Task.yield() }
        #expect(model.seen.count == 1)
        run.cancel()
        let o = await run.value
        #expect(!o.succeeded && o.error == "cancelled")
    }
}
