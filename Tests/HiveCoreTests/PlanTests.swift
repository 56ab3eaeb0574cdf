import FoundationEssentials
import HiveCore
import Testing

/// Role frames for the tests: short, and each shows what it was given.
let testFrames = [
    "explore": "TASK {{task}}\n{{inputs}}{{feedback}}",
    "critique": "JUDGE {{task}} CANDIDATE {{candidate}}",
    "integrate": "MERGE {{task}}\n{{inputs}}{{candidates}}",
    "decompose": "PLAN {{goal}}\n{{feedback}}",
]

let modelCaps = ["backend:model", "backend:exec", "exec:/bin/sh"]

extension Harness {
    @discardableResult
    func submit(plan: PlanSpec, budget: Budget = Budget()) throws -> GoalID {
        var p = plan
        p.prompts = p.prompts ?? testFrames
        let (id, fx) = try state.submit(GoalSpec(budget: budget, plan: p), now: now)
        effects.append(fx)
        return id
    }

    /// Runs the hive until nothing more can be scheduled, answering every call with `answer` (nil fails it).
    /// Returns every assignment made, in order.
    @discardableResult
    func run(_ answer: (Assignment, DroneID) -> String?) -> [(assignment: Assignment, drone: DroneID)] {
        var all: [(Assignment, DroneID)] = []
        while true {
            let batch = schedule()
            if batch.isEmpty { return all }
            for (a, d) in batch {
                all.append((a, d))
                let out = answer(a, d)
                _ = finish(a, drone: d, ok: out != nil, output: out)
            }
        }
    }

    func task(_ id: TaskID) -> TaskRecord { state.tasks[id]! }

    func replayMatches() throws -> Bool {
        let replayed = ControlState()
        for e in events { replayed.apply(e) }
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return try encoder.encode(replayed.snapshot()) == encoder.encode(state.snapshot())
    }
}

/// What a call was asked (its prompt, or the stdin of an exec stand-in).
func asked(_ a: Assignment) -> String { a.input?.prompt ?? a.input?.stdin ?? "" }

@Suite struct PlanTests {
    @Test func aStepsSeedIsTheBaseOfItsCandidatesSeedsSoTwoGoalsCanSampleIndependently() throws {
        let h = Harness()
        h.drone("d1", slots: 8, caps: modelCaps)
        var step = StepSpec(id: "solve", prompt: "compute {{goal}}", n: 3, join: .vote)
        _ = try h.submit(plan: PlanSpec(goal: "a", steps: [step]))
        step.seed = 500_001
        _ = try h.submit(plan: PlanSpec(goal: "b", steps: [step]))
        let seeds = h.schedule().map { $0.assignment.input?.seed ?? -1 }.sorted()
        #expect(seeds == [1, 2, 3, 500_001, 500_002, 500_003])
    }

    @Test func voteStepAnswersWithTheMajorityAndCancelsWhatItNoLongerNeeds() throws {
        let h = Harness()
        h.drone("d1", slots: 8, caps: modelCaps)
        let g = try h.submit(plan: PlanSpec(goal: "17 * 23", steps: [
            StepSpec(id: "solve", prompt: "compute {{goal}}", n: 5, join: .vote),
        ]))
        // Seeds 1…5: three say 391 first, so the vote is decided after three and two are cancelled.
        let batch = h.schedule()
        #expect(batch.count == 5)
        #expect(Set(batch.map { $0.assignment.input?.seed ?? 0 }).count == 5)  // distinct seeds: real speculation
        #expect(batch.allSatisfy { asked($0.assignment).contains("TASK compute 17 * 23") })
        for (a, d) in batch.prefix(3) { _ = h.finish(a, drone: d, output: a.input!.seed! == 2 ? "400" : " 391\n") }
        #expect(h.goal(g).state == .running)
        _ = h.finish(batch[3].assignment, drone: "d1", output: "391")
        #expect(h.goal(g).state == .succeeded)
        #expect(h.state.tasks[h.goal(g).root]?.result?.output == "391")
        #expect(h.task(batch[4].assignment.task).state == .cancelled)
        let step = h.goal(g).plan!.steps[0]
        #expect(step.candidates.filter(\.accepted).count == 3)
        #expect(try h.replayMatches())
    }

    @Test func bestStepTakesTheTopCriticScoreJudgedOnAnotherDrone() throws {
        let h = Harness()
        h.drone("d1", slots: 4, caps: modelCaps)
        h.drone("d2", slots: 4, caps: modelCaps)
        let g = try h.submit(plan: PlanSpec(goal: "name a colour", steps: [
            StepSpec(id: "pick", n: 3, join: .best, critics: 2),
        ]))
        var authors: [TaskID: DroneID] = [:]
        let calls = h.run { a, d in
            if a.input?.jsonSchema == CritiqueVerdict.schema {
                // Scores: "red" 6, "green" 9, "blue" 9 (tie: the lower index wins).
                let p = asked(a)
                let s = p.contains("CANDIDATE red") ? 6 : 9
                return "{\"score\": \(s), \"reasons\": \"looked at \(p.suffix(5))\"}"
            }
            authors[a.task] = d
            return ["red", "green", "blue"][a.input!.seed! - 1]
        }
        #expect(calls.count == 3 + 6)
        #expect(h.goal(g).state == .succeeded)
        #expect(h.state.tasks[h.goal(g).root]?.result?.output == "green")
        for (a, d) in calls {
            let t = h.task(a.task)
            guard t.role == .critique, let c = t.candidate else { continue }
            #expect(d != authors[c], "critic of \(c) ran on its author's drone")
        }
        let step = h.goal(g).plan!.steps[0]
        #expect(step.candidates.map(\.score) == [6, 9, 9])
        #expect(step.candidates.map(\.accepted) == [false, true, false])
        let judged = h.state.judgements(of: step.candidates[1].task, among: step.critiques)
        #expect(judged.count == 2 && judged.allSatisfy { $0.verdict?.score == 9 })
        #expect(try h.replayMatches())
    }

    @Test func failedValidationReforksWithTheCriticsFeedbackThenSucceeds() throws {
        let h = Harness()
        h.drone("d1", slots: 4, caps: modelCaps)
        let g = try h.submit(plan: PlanSpec(goal: "write a haiku", steps: [
            StepSpec(id: "poem", n: 2, join: .best, critics: 1, minScore: 7, maxReforks: 2),
        ]))
        var prompts: [String] = []
        h.run { a, _ in
            if a.input?.jsonSchema == CritiqueVerdict.schema {
                return asked(a).contains("CANDIDATE better") ? "{\"score\": 8, \"reasons\": \"fine\"}"
                    : "{\"score\": 3, \"reasons\": \"too many syllables\"}"
            }
            prompts.append(asked(a))
            return h.task(a.task).round == 0 ? "draft" : "better"
        }
        #expect(h.goal(g).state == .succeeded)
        #expect(h.state.tasks[h.goal(g).root]?.result?.output == "better")
        let step = h.goal(g).plan!.steps[0]
        #expect(step.round == 1)
        #expect(prompts.count == 4)
        #expect(!prompts[0].contains("too many syllables"))
        #expect(prompts[2].contains("too many syllables") && prompts[2].contains("below min_score 7"))
        #expect(try h.replayMatches())
    }

    @Test func aStepThatKeepsFailingValidationFailsTheGoalWithTheReasons() throws {
        let h = Harness()
        h.drone("d1", slots: 4, caps: modelCaps)
        let g = try h.submit(plan: PlanSpec(goal: "g", steps: [
            StepSpec(id: "x", n: 2, join: .best, critics: 1, minScore: 9, maxReforks: 1),
            StepSpec(id: "y", inputs: ["x"]),
        ]))
        let calls = h.run { a, _ in a.input?.jsonSchema == CritiqueVerdict.schema ? "{\"score\": 2, \"reasons\": \"wrong\"}" : "meh" }
        #expect(calls.count == 8)  // two rounds of 2 candidates + 2 critics; y never starts
        #expect(h.goal(g).state == .failed)
        #expect(h.goal(g).reason?.contains("step x failed after 2 round(s)") == true)
        #expect(h.goal(g).reason?.contains("wrong") == true)
        #expect(h.goal(g).plan!.steps[1].state == .waiting)
    }

    @Test func synthesizeHandsTheTopCandidatesToACoreIntegrator() throws {
        let h = Harness()
        h.drone("edge", tier: .edge, slots: 4, caps: modelCaps)
        h.drone("core", tier: .core, slots: 1, caps: modelCaps)
        var s = StepSpec(id: "essay", tier: TierRequirement(.edge), n: 3, join: .synthesize(2), critics: 1)
        s.criticTier = TierRequirement(.edge)
        let g = try h.submit(plan: PlanSpec(goal: "explain tides", steps: [s]))
        var integratorPrompt = ""
        let calls = h.run { a, d in
            switch h.task(a.task).role {
            case .critique: return asked(a).contains("CANDIDATE moon") ? "{\"score\":9,\"reasons\":\"\"}" : asked(a).contains("CANDIDATE sun") ? "{\"score\":7,\"reasons\":\"\"}" : "{\"score\":1,\"reasons\":\"\"}"
            case .integrate:
                #expect(d == "core")
                integratorPrompt = asked(a)
                return "moon and sun"
            default: return ["wind", "sun", "moon"][a.input!.seed! - 1]
            }
        }
        #expect(calls.count == 3 + 3 + 1)
        #expect(h.state.tasks[h.goal(g).root]?.result?.output == "moon and sun")
        #expect(integratorPrompt.contains("Candidate 1:\nmoon") && integratorPrompt.contains("Candidate 2:\nsun"))
        #expect(!integratorPrompt.contains("wind"))
        #expect(h.goal(g).plan!.steps[0].candidates.map(\.accepted) == [false, true, true])
    }

    @Test func weakAgreementEscalatesOneCallToTheCoreWithTheSplitAsFeedback() throws {
        let h = Harness()
        h.drone("edge", tier: .edge, slots: 4, caps: modelCaps)
        h.drone("core", tier: .core, slots: 1, caps: modelCaps)
        var s = StepSpec(id: "q", tier: TierRequirement(.edge), n: 4, join: .vote)
        s.minVotes = 3
        s.escalate = StepSpec.Escalation(tier: TierRequirement(.core), n: 1)
        // Agreement: three of four say 12, no core call.
        let agreed = try h.submit(plan: PlanSpec(goal: "7+5", steps: [s]))
        var coreCalls = 0
        h.run { a, d in
            if d == "core" { coreCalls += 1 }
            return a.input!.seed! == 4 ? "13" : "12"
        }
        #expect(h.goal(agreed).state == .succeeded && coreCalls == 0)
        // A 2–2 split: the round fails validation and one core call arbitrates, told how they split.
        let split = try h.submit(plan: PlanSpec(goal: "7+6", steps: [s]))
        var arbiterPrompt = ""
        h.run { a, d in
            if d == "core" {
                arbiterPrompt = asked(a)
                return "13"
            }
            return a.input!.seed! % 2 == 0 ? "13" : "14"
        }
        #expect(h.goal(split).state == .succeeded)
        #expect(h.state.tasks[h.goal(split).root]?.result?.output == "13")
        #expect(arbiterPrompt.contains("no answer reached min_votes 3: 13 (2), 14 (2)"))
        #expect(h.goal(split).plan!.steps[0].candidates.count == 5)
        #expect(try h.replayMatches())
    }

    @Test func verifyRejectsCandidatesWhoseCheckFails() throws {
        let h = Harness()
        h.drone("d1", slots: 4, caps: modelCaps)
        var s = StepSpec(id: "code", n: 3, join: .any)
        s.verify = TaskInput(command: "/bin/sh", args: ["-c", "grep -q ok"])
        let g = try h.submit(plan: PlanSpec(goal: "g", steps: [s]))
        var checked: [String] = []
        h.run { a, _ in
            if h.task(a.task).role == .verify {
                checked.append(a.input?.stdin ?? "")
                return a.input?.stdin == "ok" ? "" : nil  // nil: the check exits non-zero
            }
            return a.input!.seed! == 3 ? "ok" : "bad"
        }
        #expect(h.goal(g).state == .succeeded)
        #expect(h.state.tasks[h.goal(g).root]?.result?.output == "ok")
        #expect(checked.sorted() == ["bad", "bad", "ok"])
        #expect(h.goal(g).plan!.steps[0].candidates.compactMap(\.rejection).allSatisfy { $0.hasPrefix("check failed") })
    }

    @Test func aStepStartsWhenItsInputsSucceedAndReadsTheirOutputs() throws {
        let h = Harness()
        h.drone("d1", slots: 4, caps: modelCaps)
        let g = try h.submit(plan: PlanSpec(goal: "g", steps: [
            StepSpec(id: "a", prompt: "first"),
            StepSpec(id: "b", prompt: "second"),
            StepSpec(id: "c", role: .integrate, prompt: "join {{steps.a}} with {{steps.b}}", inputs: ["a", "b"]),
        ]))
        let first = h.schedule()
        #expect(first.count == 2)  // a and b in parallel, c waits
        for (a, d) in first { _ = h.finish(a, drone: d, output: asked(a).contains("first") ? "A-out" : "B-out") }
        let last = h.schedule()
        #expect(last.count == 1)
        #expect(asked(last[0].assignment).hasPrefix("MERGE join A-out with B-out\nResult of step a:\nA-out"))
        _ = h.finish(last[0].assignment, drone: "d1", output: "done")
        #expect(h.goal(g).state == .succeeded)
        #expect(h.state.tasks[h.goal(g).root]?.result?.output == "done")
    }

    @Test func anIntegratorThatRejectsItsInputsReforksThemWithItsReasonsAndRunsAgain() throws {
        let h = Harness()
        h.drone("d1", slots: 4, caps: modelCaps)
        var merge = StepSpec(id: "merge", role: .integrate, inputs: ["a", "b"], maxReforks: 1)
        merge.exec = TaskInput(command: "/bin/sh", args: ["-c", "merge"])
        merge.reforkInputs = true
        let g = try h.submit(plan: PlanSpec(goal: "g", steps: [StepSpec(id: "a", prompt: "first"), StepSpec(id: "b", prompt: "second"), merge]))
        var asks: [String] = []
        while case let batch = h.schedule(), !batch.isEmpty {
            for (a, d) in batch {
                if a.input?.command == "/bin/sh" {  // the merge program: the first outputs do not fit together
                    let merged = "merged " + asked(a).split(separator: "\n").filter { $0.hasSuffix("2") }.joined(separator: "+")
                    _ = asked(a).contains("A1") ? h.finish(a, drone: d, ok: false, output: "merge-fail\nthe details")
                        : h.finish(a, drone: d, output: merged)
                    continue
                }
                asks.append(asked(a))
                let again = (h.task(a.task).round ?? 0) > 0
                _ = h.finish(a, drone: d, output: asked(a).contains("first") ? (again ? "A2" : "A1") : (again ? "B2" : "B1"))
            }
        }
        #expect(h.goal(g).state == .succeeded)
        #expect(h.state.tasks[h.goal(g).root]?.result?.output == "merged A2+B2")
        let steps = h.goal(g).plan!.steps
        #expect(steps.map(\.round) == [1, 1, 1])
        #expect(steps[0].output == "A2" && steps[1].output == "B2")
        // The re-forked inputs were told why, with the failed program's own words first.
        #expect(asks.count == 4)
        let told = asks.filter { $0.contains("Earlier attempts were rejected") }
        #expect(told.count == 2 && told.allSatisfy { $0.contains("step merge: merge-fail the details (candidate ") })
        #expect(h.goal(g).plan!.steps[0].feedback.first?.hasPrefix("step merge: merge-fail the details (candidate ") == true)
        #expect(try h.replayMatches())
    }

    @Test func anIntegratorThatKeepsRejectingItsInputsFailsTheGoalOnceItsReforksAreSpent() throws {
        let h = Harness()
        h.drone("d1", slots: 4, caps: modelCaps)
        var merge = StepSpec(id: "merge", role: .integrate, inputs: ["a"], maxReforks: 1)
        merge.exec = TaskInput(command: "/bin/sh", args: ["-c", "merge"])
        merge.reforkInputs = true
        let g = try h.submit(plan: PlanSpec(goal: "g", steps: [StepSpec(id: "a", prompt: "first", maxReforks: 3), merge]))
        let calls = h.run { a, _ in a.input?.command == "/bin/sh" ? nil : "A" }
        #expect(h.goal(g).state == .failed)
        #expect(h.goal(g).reason?.hasPrefix("step merge failed after 2 round(s)") == true)
        #expect(calls.filter { $0.assignment.input?.command == nil }.count == 2, "a ran twice: once, and once re-forked")
    }

    @Test func theArchitectsInvalidPlanIsReaskedWithTheReasonThenAdopted() throws {
        let h = Harness()
        h.drone("core", tier: .core, slots: 1, caps: modelCaps)
        h.drone("edge", tier: .edge, slots: 4, caps: modelCaps)
        var arch = ArchitectSpec()
        arch.step = StepSpec(id: "", tier: TierRequirement(.edge), n: 2, join: .vote)
        let g = try h.submit(plan: PlanSpec(goal: "add 2+3 and 4+5", architect: arch), budget: Budget(maxCoreCalls: 3))
        var decomposePrompts: [String] = []
        let calls = h.run { a, d in
            switch h.task(a.task).role {
            case .decompose:
                #expect(d == "core")
                #expect(a.input?.jsonSchema?.contains("subtasks") == true)
                decomposePrompts.append(asked(a))
                return decomposePrompts.count == 1 ? "{\"subtasks\": []}"
                    : "{\"subtasks\": [{\"task\": \"2+3\", \"candidates\": 3}, {\"task\": \"4+5\", \"candidates\": 1}]}"
            case .integrate:
                #expect(d == "core")
                return asked(a).contains("Result of step s1:\n5") && asked(a).contains("Result of step s2:\n9") ? "5 and 9" : "?"
            default:
                #expect(d == "edge")
                return asked(a).contains("2+3") ? "5" : "9"
            }
        }
        #expect(decomposePrompts.count == 2)
        #expect(decomposePrompts[1].contains("the plan was rejected: the plan has no subtasks"))
        let plan = h.goal(g).plan!
        #expect(plan.steps.map(\.spec.id) == ["plan", "s1", "s2", "answer"])
        #expect(plan.steps[1].candidates.count == 2)  // asked for 3, capped by the template's n
        #expect(calls.count == 2 + 2 + 1 + 1)
        #expect(h.goal(g).state == .succeeded)
        #expect(h.state.tasks[h.goal(g).root]?.result?.output == "5 and 9")
        #expect(h.goal(g).coreCalls == 3)
        #expect(try h.replayMatches())
    }

    @Test func anArchitectThatNeverWritesAValidPlanFailsTheGoalAndRunsNothing() throws {
        let h = Harness()
        h.drone("core", tier: .core, slots: 1, caps: modelCaps)
        let g = try h.submit(plan: PlanSpec(goal: "g", architect: ArchitectSpec(maxReforks: 1)))
        let calls = h.run { _, _ in "no json here" }
        #expect(calls.count == 2)
        #expect(h.goal(g).state == .failed)
        #expect(h.goal(g).reason?.contains("the plan was rejected: the plan is not a JSON object") == true)
        #expect(h.goal(g).plan!.steps.count == 1)
    }

    @Test func plansThatCannotRunAreRefusedWithTheReason() throws {
        let h = Harness()
        func refusal(_ p: PlanSpec, frames: [String: String]? = testFrames) -> String {
            var p = p
            p.prompts = frames
            do { _ = try h.state.submit(GoalSpec(plan: p), now: 0) } catch { return error.description }
            return "accepted"
        }
        #expect(refusal(PlanSpec(goal: "g", steps: [StepSpec(id: "b", inputs: ["a"])])).contains("input 'a' is not an earlier step"))
        #expect(refusal(PlanSpec(goal: "g", steps: [StepSpec(id: "a", prompt: "{{gaol}}")])).contains("unknown placeholder {{gaol}}"))
        #expect(refusal(PlanSpec(goal: "g", steps: [StepSpec(id: "a", prompt: "{{steps.z}}")])).contains("names no step among its inputs"))
        #expect(refusal(PlanSpec(goal: "g", steps: [StepSpec(id: "a", join: .best)]), frames: ["explore": "{{task}}"])
            .contains("no prompt frame for role 'critique'"))
        #expect(refusal(PlanSpec(goal: "g", steps: [StepSpec(id: "a"), StepSpec(id: "a")])).contains("used twice"))
        #expect(refusal(PlanSpec(goal: "g", steps: [StepSpec(id: "a", n: 0)])).contains("n must be 1 to 64"))
        #expect(refusal(PlanSpec(goal: " ", steps: [StepSpec(id: "a")])).contains("goal is empty"))
        #expect(refusal(PlanSpec(goal: "g", steps: [StepSpec(id: "a", minScore: 5)])).contains("min_score needs critics"))
        var alone = StepSpec(id: "a")
        alone.reforkInputs = true
        #expect(refusal(PlanSpec(goal: "g", steps: [alone])).contains("steps[0] (a): refork_inputs needs inputs (the steps to re-fork)"))
        var architect = ArchitectSpec(step: alone)
        #expect(refusal(PlanSpec(goal: "g", architect: architect)).contains("architect.step: refork_inputs needs inputs"))
        architect = ArchitectSpec(integrate: alone)
        #expect(refusal(PlanSpec(goal: "g", architect: architect)) == "accepted")
        #expect(refusal(PlanSpec(goal: "g", steps: [StepSpec(id: "a")])) == "accepted")
        #expect(throws: SubmitError.self) { try h.submit(.fork([TaskSpec(kind: "step")])) }
    }

    @Test func aPlanWrittenAtTheTopLevelDecodesAndRoundTripsThroughTheJournalForm() throws {
        let json = """
            {"name": "n", "goal": "17*23", "steps": [{"id": "s", "n": 3, "join": "synthesize:2", "critic_tier": "worker"}],
             "budget": {"max_tokens": 5000}}
            """
        let spec = try JSONDecoder().decode(GoalSpec.self, from: Data(json.utf8))
        #expect(spec.plan?.goal == "17*23")
        #expect(spec.plan?.steps?.first?.join == .synthesize(2))
        #expect(spec.root.kind == "plan")
        let again = try JSONDecoder().decode(GoalSpec.self, from: JSONEncoder().encode(spec))
        #expect(again == spec)
    }
}

@Suite struct PlanPartsTests {
    @Test func templatesRenderKnownNamesAndListTheirPlaceholders() {
        #expect(PromptTemplate.render("a {{goal}} b {{ task }} {{x}}", ["goal": "G", "task": "T"]) == "a G b T {{x}}")
        #expect(PromptTemplate.placeholders(in: "{{a}}{{steps.b}} {{") == ["a", "steps.b"])
        #expect(PromptTemplate.problem(in: "{{steps.b}}", steps: ["b"]) == nil)
    }

    @Test func criticVerdictsAreReadLenientlyAndOutOfRangeScoresDoNotCount() {
        #expect(CritiqueVerdict.parse("sure: {\"score\": 7, \"reasons\": \"ok\"} done") == CritiqueVerdict(score: 7, reasons: "ok"))
        #expect(CritiqueVerdict.parse("Score: 8/10")?.score == 8)
        #expect(CritiqueVerdict.parse("{\"score\": 11, \"reasons\": \"\"}") == nil)
        #expect(CritiqueVerdict.parse("no idea") == nil)
    }

    @Test func decompositionsAreValidatedWithAReason() {
        func why(_ s: String) -> String? {
            if case .failure(let r) = Decomposition.validated(s, maxSubtasks: 2) { return r.description }
            return nil
        }
        #expect(why("{\"subtasks\": [{\"task\": \"a\", \"candidates\": 2}]}") == nil)
        #expect(why("{\"subtasks\": [{\"task\": \"  \", \"candidates\": 2}]}") == "subtask 1 has no task text")
        #expect(why("{\"subtasks\": [{\"task\": \"a\", \"candidates\": 9}]}") == "subtask 1 asks for 9 candidates; 1 to 5 are allowed")
        #expect(why("{\"subtasks\": [{\"task\": \"a\", \"candidates\": 1},{\"task\": \"b\", \"candidates\": 1},{\"task\": \"c\", \"candidates\": 1}]}")
            == "the plan has 3 subtasks; at most 2 are allowed")
        #expect(why("{\"steps\": 1}")?.contains("does not match the schema") == true)
    }
}

@Suite struct JSONSchemaCheckTests {
    static let schema = try! JSONSchemaCheck.parse("""
        {"type": "object", "properties": {"n": {"type": "integer", "minimum": 0}, "tags": {"type": "array",
         "items": {"type": "string", "maxLength": 3}, "maxItems": 2}, "kind": {"enum": ["a", "b"]}},
         "required": ["n"], "additionalProperties": false}
        """).get()

    @Test func conformingValuesPassAndEachViolationIsNamed() {
        #expect(JSONSchemaCheck.problem(in: #"{"n": 3, "tags": ["x"], "kind": "a"}"#, schema: Self.schema) == nil)
        #expect(JSONSchemaCheck.problem(in: #"{"tags": []}"#, schema: Self.schema) == "$.n is required")
        #expect(JSONSchemaCheck.problem(in: #"{"n": 1.5}"#, schema: Self.schema) == "$.n must be integer, not a number")
        #expect(JSONSchemaCheck.problem(in: #"{"n": -1}"#, schema: Self.schema) == "$.n is -1, below the minimum 0")
        #expect(JSONSchemaCheck.problem(in: #"{"n": 1, "tags": ["long"]}"#, schema: Self.schema) == "$.tags[0] is longer than 3 characters (maxLength)")
        #expect(JSONSchemaCheck.problem(in: #"{"n": 1, "tags": ["a","b","c"]}"#, schema: Self.schema) == "$.tags has more than 2 items (maxItems)")
        #expect(JSONSchemaCheck.problem(in: #"{"n": 1, "kind": "c"}"#, schema: Self.schema) == "$.kind is not one of the allowed values")
        #expect(JSONSchemaCheck.problem(in: #"{"n": 1, "x": 0}"#, schema: Self.schema) == "$.x is not an allowed property")
        #expect(JSONSchemaCheck.problem(in: "not json", schema: Self.schema) == "the output is not JSON")
    }

    @Test func unsupportedKeywordsAreRefused() {
        guard case .failure(let why) = JSONSchemaCheck.parse(#"{"oneOf": []}"#) else { Issue.record("accepted"); return }
        #expect(why.description == "json_schema uses 'oneOf', which is not supported")
    }

    @Test func aCandidateThatBreaksTheStepsSchemaIsRejectedAndTheRoundReforks() throws {
        let h = Harness()
        h.drone("d1", slots: 4, caps: modelCaps)
        var s = StepSpec(id: "j", n: 1, join: .any, maxReforks: 1)
        s.jsonSchema = #"{"type": "object", "properties": {"ok": {"type": "boolean"}}, "required": ["ok"]}"#
        let g = try h.submit(plan: PlanSpec(goal: "g", steps: [s]))
        var prompts: [String] = []
        h.run { a, _ in
            prompts.append(asked(a))
            return prompts.count == 1 ? #"{"ok": "yes"}"# : #"{"ok": true}"#
        }
        #expect(h.goal(g).state == .succeeded)
        #expect(prompts[1].contains("does not match the JSON Schema: $.ok must be boolean, not a string"))
    }
}

/// Numbers from users and drones are bounded before any arithmetic inside `apply`, where a trap would crash
/// honeycombd again on every replay of the journal.
@Suite struct HostileNumbersTests {
    @Test func hugeLimitsAreRefusedAtSubmission() {
        let h = Harness()
        func refused(_ spec: GoalSpec) -> String? {
            do { _ = try h.state.submit(spec, now: 0) } catch { return error.description }
            return nil
        }
        let huge = Int.max
        #expect(refused(GoalSpec(root: TaskSpec(kind: "model", input: TaskInput(prompt: "p", maxTokens: huge))))?
            .contains("input.max_tokens must be 1 to") == true)
        #expect(refused(GoalSpec(root: TaskSpec(kind: "noop", timeoutMillis: huge)))?.contains("timeout_ms must be 1 to") == true)
        #expect(refused(GoalSpec(budget: Budget(deadlineMillis: huge), root: TaskSpec(kind: "noop")))?
            .contains("budget.deadline_ms must be 1 to") == true)
        var plan = PlanSpec(goal: "g", steps: [StepSpec(id: "a", maxTokens: huge)], prompts: testFrames)
        #expect(refused(GoalSpec(plan: plan))?.contains("max_tokens must be 1 to") == true)
        var s = StepSpec(id: "a")
        s.jsonSchema = #"{"type": "string", "maxLength": 1e20}"#
        plan.steps = [s]
        #expect(refused(GoalSpec(plan: plan))?.contains("maxLength must be a whole number") == true)
    }

    @Test func negativeOrHugeUsageFromADroneIsClampedNotRefunded() throws {
        let h = Harness()
        h.drone("m", slots: 2, caps: ["backend:model"])
        let g = try h.submit(TaskSpec(kind: "model", input: TaskInput(prompt: "p", maxTokens: 10)), budget: Budget(maxTokens: 1_000))
        let a = h.schedule()[0].assignment
        let r = TaskResult(task: a.task, attempt: a.attempt, token: a.token, drone: "m", outcome: .succeeded, output: "x",
                           usage: Usage(model: "t", promptTokens: -500, generatedTokens: Int.max, promptMillis: -1, generationMillis: .nan))
        _ = h.state.receive(r, now: h.now)
        #expect(h.goal(g).state == .succeeded)
        #expect(h.goal(g).tokensSpent == 1 << 40)
    }

    @Test func aPlanCallCannotAnswerWithAFork() throws {
        let h = Harness()
        h.drone("d1", slots: 2, caps: modelCaps)
        _ = try h.submit(plan: PlanSpec(goal: "g", steps: [StepSpec(id: "a")]))
        let a = h.schedule()[0].assignment
        guard case .failure(.invalidFork(let why)) = h.finish(a, drone: "d1", fork: [TaskSpec(kind: "noop")]) else {
            Issue.record("a fork from a plan call was accepted")
            return
        }
        #expect(why.contains("forking is for task trees"))
    }

    @Test func aTiedVoteEscalatesWhenTheStepHasAnArbiter() throws {
        let h = Harness()
        h.drone("edge", tier: .edge, slots: 4, caps: modelCaps)
        h.drone("core", tier: .core, slots: 1, caps: modelCaps)
        var s = StepSpec(id: "q", tier: TierRequirement(.edge), n: 2, join: .vote)
        s.escalate = StepSpec.Escalation(tier: TierRequirement(.core), n: 1)
        let g = try h.submit(plan: PlanSpec(goal: "g", steps: [s]))
        h.run { a, d in d == "core" ? "7" : (a.input!.seed! == 1 ? "12" : "13") }
        #expect(h.state.tasks[h.goal(g).root]?.result?.output == "7")
        #expect(h.goal(g).plan!.steps[0].feedback.first?.hasPrefix("the vote is tied") == true)
    }

    @Test func workOnlyCoreDronesCanRunFailsTheGoalOnceTheCoreBudgetIsSpent() throws {
        let h = Harness()
        h.drone("core", tier: .core, slots: 2, caps: ["backend:noop"])
        let g = try h.submit(.fork([TaskSpec(kind: "noop"), TaskSpec(kind: "noop")]), budget: Budget(maxCoreCalls: 1))
        let first = h.schedule()
        #expect(first.count == 1)
        _ = h.finish(first[0].assignment, drone: "core")
        #expect(h.schedule().isEmpty)
        h.tick()
        #expect(h.goal(g).state == .failed)
        #expect(h.goal(g).reason?.contains("only core drones can run task") == true)
    }
}

@Suite struct HotPathLayoutTests {
    /// Events are copied in arrays on every dispatch; a plan's spec inline made each one kilobytes and cost a
    /// quarter of the control plane's throughput once. Keep them small.
    @Test func journalEventsStaySmall() {
        #expect(MemoryLayout<JournalEvent>.size <= 256, "JournalEvent is \(MemoryLayout<JournalEvent>.size) bytes")
    }
}
