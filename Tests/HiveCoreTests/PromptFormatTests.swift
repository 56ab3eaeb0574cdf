import FoundationEssentials
import HiveCore
import Testing

/// Chat and completion models side by side: a plan renders both, the lease picks by the drone's model.
@Suite struct PromptFormatTests {
    static let frames = testFrames.merging([
        "explore.completion": "stop: [\"\\n\\n\", \"\\nQ:\"]\nQ: 2+2?\nA: 4\n\nQ: {{task}}\n{{feedback}}A:\n",
        "critique.completion": "Q: {{task}}\nA: {{candidate}}\nVerdict:\n",
    ]) { _, b in b }

    /// A model drone announcing a model in `format` (nil: an older drone that does not say).
    func modelDrone(_ h: Harness, _ id: String, _ format: PromptFormat?, slots: Int = 1) {
        let model = ModelDescriptor(name: "m-\(id)", architecture: "gemma3", parameters: 1, sizeBytes: 1, description: "",
                                    contextLength: 2048, sha256: "", chatTemplate: format == .chat, promptFormat: format)
        let (reply, fx) = h.state.hello(DroneHello(drone: id, name: id, tier: .worker, slots: slots, capabilities: ["backend:model"],
                                                  host: nil, version: "t", models: [model]), now: h.now)
        h.effects.append(fx)
        precondition(reply.accepted)
    }

    @Test func aCompletionDroneIsLeasedTheFewShotRenderingAndAChatDroneTheInstructions() throws {
        let h = Harness()
        modelDrone(h, "base", .completion)
        modelDrone(h, "instruct", .chat)
        let g = try h.submit(plan: PlanSpec(goal: "sums", steps: [StepSpec(id: "s", prompt: "17 + 25", n: 2, join: .vote)],
                                            prompts: Self.frames))
        let batch = h.schedule()
        #expect(batch.count == 2)
        let base = try #require(batch.first { $0.drone == "base" }).assignment.input!
        let instruct = try #require(batch.first { $0.drone == "instruct" }).assignment.input!
        #expect(base.prompt == "Q: 2+2?\nA: 4\n\nQ: 17 + 25\nA:")
        #expect(base.stop == ["\n\n", "\nQ:"] && base.chat == false && base.completion == nil)
        #expect(instruct.prompt == "TASK 17 + 25\n" && instruct.stop == nil && instruct.completion == nil)
        // The task keeps both: a retry on the other kind of drone gets its own rendering.
        #expect(h.task(batch[0].assignment.task).input?.completion?.prompt == "Q: 2+2?\nA: 4\n\nQ: 17 + 25\nA:")
        for (a, d) in batch { _ = h.finish(a, drone: d, output: " 42") }
        #expect(h.goal(g).state == .succeeded)
        #expect(h.state.tasks[h.goal(g).root]?.result?.output == "42")
        #expect(try h.replayMatches())
    }

    @Test func feedbackReachesTheCompletionRenderingAndRolesWithoutACompletionFrameSendTheChatOne() throws {
        let h = Harness()
        modelDrone(h, "base", .completion, slots: 4)
        modelDrone(h, "old", nil, slots: 4)  // an older drone: no prompt_format in its hello, so chat
        _ = try h.submit(plan: PlanSpec(goal: "g", steps: [StepSpec(id: "s", prompt: "say yes", n: 1, join: .any, maxReforks: 1)],
                                        prompts: Self.frames.filter { $0.key != "explore.completion" }.merging(
                                            ["explore.completion": "Q: {{task}}\n{{feedback}}A:"]) { _, b in b }))
        var first = h.schedule()
        #expect(first.count == 1)
        _ = h.finish(first[0].assignment, drone: first[0].drone, output: "  ")  // an empty answer fails the round
        first = h.schedule()  // the round failed: re-forked with the reason as feedback
        let input = try #require(first.first?.assignment.input)
        if first[0].drone == "base" {
            #expect(input.prompt?.hasPrefix("Q: say yes\nEarlier attempts were rejected") == true)
            #expect(input.prompt?.hasSuffix("A:") == true && input.stop == nil)
        } else {
            #expect(input.prompt?.hasPrefix("TASK say yes\nEarlier attempts were rejected") == true)
        }
        // Tree tasks carry no completion rendering: a completion drone gets the prompt exactly as given.
        let t = TaskInput(prompt: "The capital of France is", system: "s", maxTokens: 4)
        #expect(t.choosing(.completion) == t && t.choosing(.chat) == t)
        let both = TaskInput(prompt: "chat", system: "s", stop: ["x"], completion: CompletionPrompt(prompt: "base", stop: nil))
        #expect(both.choosing(.chat) == TaskInput(prompt: "chat", system: "s", stop: ["x"]))
        #expect(both.choosing(.completion) == TaskInput(prompt: "base", chat: false))
    }

    @Test func theWorstCaseOfACallIsItsLongerRendering() {
        let input = TaskInput(prompt: "short", maxTokens: 10, completion: CompletionPrompt(prompt: String(repeating: "x", count: 500)))
        #expect(TaskSpec.worstCaseTokens(kind: "model", input: input) == 500 + 64 + 10)
        #expect(TaskSpec.worstCaseTokens(kind: "model", input: TaskInput(prompt: "short", maxTokens: 10)) == 5 + 64 + 10)
    }

    @Test func completionFramesAreCheckedAtSubmission() throws {
        let h = Harness()
        func refusal(_ extra: [String: String]) -> String {
            var p = PlanSpec(goal: "g", steps: [StepSpec(id: "a")])
            p.prompts = testFrames.merging(extra) { _, b in b }
            do { _ = try h.state.submit(GoalSpec(plan: p), now: 0) } catch { return error.description }
            return "accepted"
        }
        #expect(refusal(["explore.completion": "stop: \\n\\n\n{{task}}"]).contains("the explore.completion frame: the stop: header must be a JSON array of strings"))
        #expect(refusal(["explore.completion": "stop: [\"\"]\n{{task}}"]).contains("a stop string must be 1 to 256 bytes"))
        #expect(refusal(["explore.completion": "Q: {{taks}}"]).contains("unknown placeholder {{taks}}"))
        #expect(refusal(["explore.completion": "{{steps.a}}"]).contains("frames take {{inputs}}"))
        #expect(refusal(["explorer": "{{task}}"]).contains("'explorer' is not a role's frame"))
        #expect(refusal(["explore.completion": "stop: [\"\\n\"]\nQ: {{task}}\nA:\n"]) == "accepted")
        // A completion frame's final newline (the one editors add) is not part of the prompt.
        guard case .success(let parsed) = PromptFrame.completion("stop: [\"\\n\"]\nQ: {{task}}\nA:\n") else { Issue.record(); return }
        #expect(parsed.stop == ["\n"] && parsed.template == "Q: {{task}}\nA:")
        guard case .success(let plain) = PromptFrame.completion("Q:\n\n") else { Issue.record(); return }
        #expect(plain.stop == nil && plain.template == "Q:\n")
        // Bounded like a task's own stop strings.
        let many = "stop: [" + Array(repeating: "\"x\"", count: SpecLimits.stops + 1).joined(separator: ",") + "]\n{{task}}"
        #expect(refusal(["explore.completion": many]).contains("at most \(SpecLimits.stops)"))
        let tooLong = TaskSpec(kind: "model", input: TaskInput(prompt: "p", completion: CompletionPrompt(prompt: "p", stop: [String(repeating: "s", count: 300)])))
        #expect(throws: SubmitError.self) { try h.submit(tooLong) }
    }

    @Test func anArchitectThatRepeatsItselfGetsOneStepPerDistinctSubtask() throws {
        let text = #"{"subtasks": [{"candidates": 1, "task": "Write a list."}, {"candidates": 3, "task": "Pick a date."},"#
            + #" {"candidates": 2, "task": "write a  list."}, {"candidates": 1, "task": "Pick a date."}]}"#
        guard case .success(let d) = Decomposition.validated(text, maxSubtasks: 6) else { Issue.record(); return }
        #expect(d.subtasks.map(\.task) == ["Write a list.", "Pick a date."])
        #expect(d.subtasks.map(\.candidates) == [2, 3])
    }

    @Test func aCompletionRenderingTravelsInTheHandWrittenAssignment() throws {
        let a = Assignment(task: "g1.1", goal: "g1", attempt: 1, token: "t", kind: "model",
                           input: TaskInput(prompt: "p", completion: CompletionPrompt(prompt: "Q: \"x\"\nA:", stop: ["\n\n"])),
                           index: 0, timeoutMillis: 5)
        #expect(try JSONDecoder().decode(Assignment.self, from: Data(a.fastJSON)) == a)
    }
}
