import Foundation
import HiveCore
import Testing

/// Work that cannot run says so: unknown kinds are refused, each pending task has a reason it waits, answers are
/// held to their JSON Schema, and a plan whose calls cannot fit its token budget is refused.
@Suite struct UnrunnableTests {
    // MARK: Kinds

    @Test func unknownKindsAreRefusedWithTheKnownOnes() {
        let h = Harness()
        #expect(throws: SubmitError.unknownKind(path: "root.children[1]", kind: "exce")) {
            try h.submit(.fork([TaskSpec(kind: "noop"), TaskSpec(kind: "exce")]))
        }
        let why = SubmitError.unknownKind(path: "root", kind: "exce").description
        #expect(why == "invalid goal: root has kind 'exce', which no backend runs; the kinds are agent, exec, model, noop, sleep, wasm (and fork)")
        // Every kind is accepted (an agent needs its prompt and tools; the others run bare).
        for kind in TaskSpec.workKinds {
            let input = kind == "agent" ? TaskInput(prompt: "p", agent: AgentSpec(tools: ["exec.date"])) : nil
            #expect((try? h.submit(TaskSpec(kind: kind, input: input))) != nil, "\(kind)")
        }
        #expect(h.state.goals.count == TaskSpec.workKinds.count)
    }

    @Test func aDronesForkOfAnUnknownKindIsRefused() throws {
        let h = Harness()
        h.drone("d1")
        try h.submit(TaskSpec(kind: "noop"))
        let a = try #require(h.schedule().first)
        let r = h.finish(a.assignment, drone: a.drone, fork: [TaskSpec(kind: "exce")])
        guard case .failure(.invalidFork(let why)) = r else { Issue.record("accepted: \(r)"); return }
        #expect(why.contains("kind 'exce'"))
    }

    @Test func theSchemaListsTheSameKinds() throws {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../Docs/plan.schema.json")
        let schema = try #require(JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
        let task = try #require(((schema["$defs"] as? [String: Any])?["task"] as? [String: Any])?["properties"] as? [String: Any])
        let kinds = try #require((task["kind"] as? [String: Any])?["enum"] as? [String])
        #expect(Set(kinds) == Set(TaskSpec.workKinds + ["fork"]))
    }

    // MARK: Why a task waits

    func pending(_ h: Harness, _ g: GoalID) -> TaskRecord { h.state.tasks(of: g).first { $0.state == .pending }! }

    @Test func noDroneAtAll() throws {
        let h = Harness()
        let g = try h.submit(TaskSpec(kind: "noop"))
        #expect(h.state.blocker(for: pending(h, g)) == .noDrones(gone: 0))
        #expect(h.state.blocker(for: pending(h, g)).isUnrunnable)
    }

    @Test func noDroneOfTheTierNamesTheLiveOnes() throws {
        let h = Harness()
        h.drone("d1", tier: .worker, caps: ["backend:model", "model:gemma-3-270m"])
        let g = try h.submit(TaskSpec(kind: "model", tier: TierRequirement(.core), input: TaskInput(prompt: "hi")))
        let b = h.state.blocker(for: pending(h, g))
        #expect(b == .tier(TierRequirement(.core), live: "worker d1 [model:gemma-3-270m]"))
        #expect(b.description == "no active drone of tier core (live: worker d1 [model:gemma-3-270m])")
        #expect(b.kind == "tier")
    }

    @Test func noDroneWithTheBackend() throws {
        let h = Harness()
        h.drone("d1")
        let g = try h.submit(TaskSpec(kind: "wasm", input: TaskInput(module: String(repeating: "0", count: 64))))
        #expect(h.state.blocker(for: pending(h, g)) == .backend(kind: "wasm", live: "worker d1 [exec, noop]"))
    }

    @Test func noDroneAllowsTheCommand() throws {
        let h = Harness()
        h.drone("d1", caps: ["backend:exec", "exec:/bin/sh"])
        let g = try h.submit(TaskSpec(kind: "exec", input: TaskInput(command: "/usr/bin/false")))
        let b = h.state.blocker(for: pending(h, g))
        #expect(b == .command("/usr/bin/false", live: "worker d1 [allows /bin/sh]"))
        #expect(b.description.contains("no active drone allows /usr/bin/false"))
    }

    @Test func noDroneHasTheCapability() throws {
        let h = Harness()
        h.drone("d1", caps: ["backend:exec", "exec:/bin/sh", "gpu"])
        h.drone("d2", caps: ["backend:exec", "exec:/bin/sh", "tool:git"])
        let g = try h.submit(TaskSpec(kind: "exec", requires: ["gpu", "model:llama-70b"], input: TaskInput(command: "/bin/sh")))
        guard case .capability(let missing, _) = h.state.blocker(for: pending(h, g)) else { Issue.record("not a capability"); return }
        #expect(missing == ["model:llama-70b"])
        // Each is somewhere, never together: both are named.
        let both = try h.submit(TaskSpec(kind: "exec", requires: ["gpu", "tool:git"], input: TaskInput(command: "/bin/sh")))
        guard case .capability(let all, _) = h.state.blocker(for: pending(h, both)) else { Issue.record("not a capability"); return }
        #expect(all == ["gpu", "tool:git"])
    }

    @Test func drainingAndLostDronesDoNotCount() throws {
        let h = Harness()
        h.drone("d1")
        h.state.draining("d1")
        let g = try h.submit(TaskSpec(kind: "noop"))
        #expect(h.state.blocker(for: pending(h, g)) == .noDrones(gone: 1))
    }

    @Test func busyDronesAreOnlyAWait() throws {
        let h = Harness()
        h.drone("d1", slots: 1)
        let g = try h.submit(.fork([TaskSpec(kind: "noop"), TaskSpec(kind: "noop")]))
        #expect(h.schedule().count == 1)
        let b = h.state.blocker(for: pending(h, g))
        #expect(b == .busy && !b.isUnrunnable)
        #expect(b.description == "waiting for a free slot on a drone that can run it")
    }

    @Test func aBudgetThatRefusesIsTheReason() throws {
        let h = Harness()
        h.drone("d1", caps: ["backend:model"])
        let call = TaskSpec(kind: "model", input: TaskInput(prompt: String(repeating: "x", count: 36), maxTokens: 50))  // 150
        let g = try h.submit(.fork([call, call]), budget: Budget(maxTokens: 200))
        #expect(h.schedule().count == 1)
        guard case .budget(let why) = h.state.blocker(for: pending(h, g)) else { Issue.record("not a budget"); return }
        #expect(why.contains("budget.max_tokens 200"))
    }

    @Test func wavesGroupTasksByReasonAndTheSubmissionListsOnlyUnrunnableOnes() throws {
        let h = Harness()
        h.drone("d1", slots: 1, caps: ["backend:exec", "exec:/bin/sh"])
        let sh = TaskSpec(kind: "exec", input: TaskInput(command: "/bin/sh"))
        let rm = TaskSpec(kind: "exec", input: TaskInput(command: "/bin/rm"))
        let g = try h.submit(.fork([sh, sh, sh, rm, rm, TaskSpec(kind: "exec", tier: TierRequirement(.core), input: TaskInput(command: "/bin/sh"))]))
        #expect(h.schedule().count == 1)
        let all = h.state.waits(of: g)
        #expect(all.map(\.blocker) == ["busy", "command", "tier"])
        #expect(all.map(\.tasks) == [2, 2, 1])
        #expect(all[1].description == "tasks g1.4 and 1 more (exec, tier any): no active drone allows /bin/rm (drone --allow-exec; exec drones: worker d1 [allows /bin/sh])")
        let unrunnable = h.state.waits(of: g, unrunnableOnly: true)
        #expect(unrunnable.map(\.blocker) == ["command", "tier"])
        let ref = GoalRef(goal: g, unrunnable: unrunnable)
        #expect(ref.warning?.hasPrefix("no live drone can run tasks g1.4 and 1 more (exec, tier any): no active drone allows /bin/rm") == true)
        #expect(GoalRef(goal: g, unrunnable: []).warning == nil)
    }

    @Test func aWaitingTaskRunsOnceADroneThatCanJoins() throws {
        let h = Harness()
        let g = try h.submit(TaskSpec(kind: "exec", tier: TierRequirement(.core), input: TaskInput(command: "/bin/sh")))
        h.drone("w", caps: ["backend:exec", "exec:/bin/sh"])
        #expect(h.state.blocker(for: pending(h, g)).kind == "tier")
        h.drone("c", tier: .core, caps: ["backend:exec", "exec:/bin/sh"])
        #expect(h.state.blocker(for: pending(h, g)) == .busy)
        #expect(h.drain() == 1 && h.goal(g).state == .succeeded)
    }

    @Test func aGoalListsSixteenReasonsThenCountsTheRest() throws {
        let h = Harness()
        h.drone("d1", caps: ["backend:exec", "exec:/bin/sh"])
        let g = try h.submit(.fork((0..<20).map { TaskSpec(kind: "exec", input: TaskInput(command: "/bin/tool\($0)")) }))
        let waits = h.state.waits(of: g, unrunnableOnly: true)
        #expect(waits.count == ControlState.waitsListed + 1)
        #expect(waits.last?.blocker == "more" && waits.last?.tasks == 4 && waits.last?.task == "g1.17")
        #expect(waits.last?.description == "tasks g1.17 and 3 more (*, tier any): waiting for reasons beyond the first 16 (hive tasks g1 shows each task's)")
    }

    @Test func aRegistryOfManyDronesIsSummedUpNotListed() throws {
        let h = Harness()
        for i in 0..<10 { h.drone("d\(i)") }
        let g = try h.submit(TaskSpec(kind: "noop", tier: TierRequirement(.core)))
        let b = h.state.blocker(for: pending(h, g))
        #expect(b.description.hasSuffix("worker d3 [exec, noop], and 6 more)"))
    }

    @Test func viewsCarryTheReasonOfPendingTasksOnly() throws {
        let h = Harness()
        h.drone("d1", slots: 1)
        let g = try h.submit(.fork([TaskSpec(kind: "noop"), TaskSpec(kind: "noop", tier: TierRequirement(.core))]))
        h.schedule()
        let memo = BlockerMemo(h.state)
        let views = h.state.tasks(of: g).map(memo.view)
        #expect(views[0].waiting == nil && views[1].waiting == nil)
        #expect(views[2].waiting?.hasPrefix("no active drone of tier core") == true)
    }

    // MARK: Answers and their JSON Schema

    static let verdict = #"{"type": "object", "properties": {"score": {"type": "integer", "minimum": 0, "maximum": 10}}, "required": ["score"]}"#

    @Test func anAnswerOutsideItsSchemaFailsTheAttemptAndIsRetried() throws {
        let h = Harness()
        h.drone("d1", caps: ["backend:model"])
        let g = try h.submit(TaskSpec(kind: "model", input: TaskInput(prompt: "judge", jsonSchema: Self.verdict), maxAttempts: 2))
        let first = try #require(h.schedule().first)
        _ = h.finish(first.assignment, drone: first.drone, output: #"{"score": 100000000}"#)
        let t = h.state.tasks(of: g)[0]
        #expect(t.state == .pending && t.result?.error == "the answer does not match its json_schema: $.score is 100000000, above the maximum 10")
        let second = try #require(h.schedule().first)
        _ = h.finish(second.assignment, drone: second.drone, output: " {\"score\": 7}\n")
        #expect(h.goal(g).state == .succeeded)
    }

    @Test func aViolatingAnswerOnItsLastAttemptFailsTheGoalWithTheReason() throws {
        let h = Harness()
        h.drone("d1", caps: ["backend:model"])
        let g = try h.submit(TaskSpec(kind: "model", input: TaskInput(prompt: "judge", jsonSchema: Self.verdict), maxAttempts: 1))
        let a = try #require(h.schedule().first)
        _ = h.finish(a.assignment, drone: a.drone, output: #"{"score": -1}"#)
        #expect(h.goal(g).state == .failed)
        #expect(h.goal(g).reason?.contains("$.score is -1, below the minimum 0") == true)
        // json: true asks for an object.
        let o = try h.submit(TaskSpec(kind: "model", input: TaskInput(prompt: "x", json: true), maxAttempts: 1))
        let b = try #require(h.schedule().first)
        _ = h.finish(b.assignment, drone: b.drone, output: "[1]")
        #expect(h.goal(o).reason?.contains("the answer is not a JSON object (input.json)") == true)
    }

    @Test func everyBoundOfTheSubsetIsChecked() throws {
        func why(_ value: String, _ schema: String) throws -> String? {
            JSONSchemaCheck.problem(in: value, schema: try JSONSchemaCheck.parse(schema).get())
        }
        #expect(try why("5", #"{"exclusiveMinimum": 5}"#) == "$ is 5, not above the exclusiveMinimum 5")
        #expect(try why("5.5", #"{"exclusiveMaximum": 5.5}"#) == "$ is 5.5, not below the exclusiveMaximum 5.5")
        #expect(try why("4.9", #"{"exclusiveMaximum": 5}"#) == nil)
        #expect(try why(#""ab""#, #"{"minLength": 3}"#) == "$ is shorter than 3 characters (minLength)")
        #expect(try why(#""été""#, #"{"maxLength": 3}"#) == nil)
        #expect(try why("[1]", #"{"minItems": 2}"#) == "$ has fewer than 2 items (minItems)")
        #expect(try why("3", #"{"enum": [1, 2]}"#) == "$ is not one of the allowed values")
        #expect(try why(#"{"a": 1}"#, #"{"required": ["a", "b"]}"#) == "$.b is required")
        #expect(try why("true", #"{"type": ["integer", "string"]}"#) == "$ must be integer or string, not a boolean")
        #expect(try why("[[1, 20]]", #"{"items": {"items": {"maximum": 10}}}"#) == "$[0][1] is 20, above the maximum 10")
    }

    @Test func schemasOutsideTheSubsetAreRefusedAtSubmission() {
        let h = Harness()
        func refusal(_ schema: String) -> String? {
            do {
                try h.submit(TaskSpec(kind: "model", input: TaskInput(prompt: "x", jsonSchema: schema)))
                return nil
            } catch { return "\(error)" }
        }
        #expect(refusal(#"{"oneOf": []}"#) == "invalid goal: root.input.json_schema uses 'oneOf', which is not supported")
        #expect(refusal(#"{"type": "float"}"#)?.contains("json_schema.type names an unknown type") == true)
        #expect(refusal(#"{"minimum": "0"}"#) == "invalid goal: root.input.json_schema.minimum must be a number")
        #expect(refusal(#"{"enum": []}"#) == "invalid goal: root.input.json_schema.enum must be a non-empty array")
        #expect(refusal(Self.verdict) == nil)
    }

    @Test func theExampleSchemasParse() throws {
        let dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../Config/schemas")
        let files = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasSuffix(".json") }
        #expect(files.contains("verdict.schema.json"))
        for f in files {
            let text = try String(contentsOf: dir.appendingPathComponent(f), encoding: .utf8)
            guard case .success(let schema) = JSONSchemaCheck.parse(text) else { Issue.record("\(f) does not parse"); continue }
            #expect(JSONSchemaCheck.problem(in: #"{"score": 11, "reasons": "x"}"#, schema: schema) == "$.score is 11, above the maximum 10")
        }
    }

    // MARK: Plans and their token budget

    @Test func aPlanWhoseCallCannotFitItsTokenBudgetIsRefused() throws {
        let h = Harness()
        let step = StepSpec(id: "facts", n: 3, maxTokens: 900)
        // Each candidate: "TASK explain tides\n" (19 bytes) + 64 + 900 = 983.
        #expect(throws: SubmitError.invalid("steps[0] (facts): each explore call can use up to 983 tokens (a prompt of at least 19 bytes + 64 + max_tokens 900), more than budget.max_tokens 900: no call of it could ever be admitted")) {
            try h.submit(plan: PlanSpec(goal: "explain tides", steps: [step]), budget: Budget(maxTokens: 900))
        }
        // Three candidates' worst cases add up past the budget, but each fits alone: they run fewer at a time.
        #expect((try? h.submit(plan: PlanSpec(goal: "explain tides", steps: [step]), budget: Budget(maxTokens: 983))) != nil)
        // Critics count too (200 tokens each), and a program's calls do not.
        var judged = StepSpec(id: "j", n: 2, join: .best, maxTokens: 10)
        #expect(throws: SubmitError.self) {
            try h.submit(plan: PlanSpec(goal: "g", steps: [judged]), budget: Budget(maxTokens: 200))
        }
        judged.criticExec = TaskInput(command: "/bin/sh")
        #expect((try? h.submit(plan: PlanSpec(goal: "g", steps: [judged]), budget: Budget(maxTokens: 200))) != nil)
    }

    @Test func theArchitectsCallsAreCheckedToo() {
        let h = Harness()
        // The architect's decompose call alone asks for 1024 tokens by default.
        #expect(throws: SubmitError.self) { try h.submit(plan: PlanSpec(goal: "plan a picnic"), budget: Budget(maxTokens: 1_000)) }
        #expect((try? h.submit(plan: PlanSpec(goal: "plan a picnic"), budget: Budget(maxTokens: 5_000))) != nil)
    }

    // MARK: Tiers

    @Test func explorersDefaultToTheCheapTiers() throws {
        let h = Harness()
        h.drone("core", tier: .core, slots: 8, caps: modelCaps)
        h.drone("edge", tier: .edge, slots: 1, caps: modelCaps)
        h.drone("worker", tier: .worker, slots: 1, caps: modelCaps)
        try h.submit(plan: PlanSpec(goal: "7+5", steps: [StepSpec(id: "q", n: 3, join: .vote)]))
        let placed = h.schedule().map(\.drone).sorted()
        #expect(placed == ["edge", "worker"], "the third candidate waits for a cheap drone; the core stays free")
        #expect(TierRequirement.parse("worker-") == .cheap && TierRequirement.cheap.description == "worker-")
        #expect(TierRequirement.cheap.admits(.edge) && TierRequirement.cheap.admits(.worker) && !TierRequirement.cheap.admits(.core))
        // A step that names its tier keeps it.
        #expect(StepSpec(id: "x", tier: TierRequirement(.core)).tier(round: 0) == TierRequirement(.core))
        #expect(StepSpec(id: "x", role: .integrate).tier(round: 0) == nil)
    }
}
