import FoundationEssentials
import HiveCore
import Testing

/// `agent` tasks in the control plane: validation at submission, worst-case tokens against the budget, placement
/// on drones offering every tool (and the blocker when none does), pins taken at submission or at first lease,
/// and approval before an agent that may call a side-effecting tool runs.
@Suite struct AgentTaskTests {
    static let datePin = "sha256:" + String(repeating: "a", count: 64)

    /// A drone with an agent backend and `tools` (name → side-effecting), each pinned to `pin`.
    func agentDrone(_ h: Harness, _ id: String, tools: [String: Bool], pin: String = datePin, bytes: Int? = nil) {
        var caps = ["backend:agent", "backend:exec"]
        for (name, effect) in tools {
            caps.append(ToolAdvert.capability(name))
            if effect { caps.append(ToolAdvert.effectCapability(name)) }
        }
        let adverts = tools.keys.sorted().map { ToolAdvert(name: $0, pin: pin, sideEffecting: tools[$0]!, bytes: bytes) }
        let hello = DroneHello(drone: id, name: id, tier: .worker, slots: 2, capabilities: caps, host: nil, version: "t",
                               tools: adverts)
        let (reply, fx) = h.state.hello(hello, now: h.now)
        h.effects.append(fx)
        precondition(reply.accepted, reply.reason ?? "")
    }

    func agentTask(_ tools: [String] = ["exec.date"], maxSteps: Int? = nil, maxTokens: Int? = 64) -> TaskSpec {
        TaskSpec(kind: "agent", input: TaskInput(prompt: "What time is it?", maxTokens: maxTokens,
                                                 agent: AgentSpec(tools: tools, maxSteps: maxSteps)))
    }

    func refusal(_ t: TaskSpec, budget: Budget = Budget()) -> String? {
        do {
            _ = try ControlState().submit(GoalSpec(budget: budget, root: t), now: 0)
            return nil
        } catch {
            return error.description
        }
    }

    /// The journaled lease of `a`'s attempt.
    func lease(_ h: Harness, _ a: Assignment) -> JournalEvent.TaskLeased? {
        for case .taskLeased(let l) in h.events.reversed() where l.task == a.task && l.attempt == a.attempt { return l }
        return nil
    }

    @Test func submissionsWithBadAgentFieldsAreRefusedNamingTheField() {
        #expect(refusal(TaskSpec(kind: "agent", input: TaskInput(prompt: "hi")))?.contains("root.input.agent is required") == true)
        #expect(refusal(TaskSpec(kind: "agent", input: TaskInput(agent: AgentSpec(tools: ["exec.date"]))))?
            .contains("root.input.prompt is required") == true)
        #expect(refusal(agentTask([]))?.contains("agent.tools is empty") == true)
        #expect(refusal(agentTask(["date"]))?.contains("agent.tools[0] 'date' is not a tool name") == true)
        #expect(refusal(agentTask(["exec.date", "exec.date"]))?.contains("agent.tools[1] names exec.date twice") == true)
        #expect(refusal(agentTask(maxSteps: 33)) == "invalid goal: root.input.agent.max_steps must be 1 to 32 (got 33)")
        #expect(refusal(agentTask(maxSteps: 0))?.contains("max_steps must be 1 to 32 (got 0)") == true)
        var zeroTimeout = agentTask()
        zeroTimeout.input?.agent?.callTimeoutMillis = -5
        #expect(refusal(zeroTimeout)?.contains("root.input.agent.call_timeout_ms must be 1 to") == true)
        var stray = agentTask()
        stray.input?.agent?.pins = ["exec.rm": Self.datePin]
        #expect(refusal(stray)?.contains("agent.pins has exec.rm, which is not in agent.tools") == true)
        var onExec = TaskSpec(kind: "exec", input: TaskInput(command: "/bin/true"))
        onExec.input?.agent = AgentSpec(tools: ["exec.date"])
        #expect(refusal(onExec)?.contains("agent is only for tasks of kind \"agent\"") == true)
        #expect(refusal(agentTask()) == nil)
        #expect(refusal(agentTask(Array(repeating: "exec.x", count: 65)))?.contains("root.input.agent.tools has 65 entries; the limit is 64") == true)
    }

    @Test func worstCaseIsMaxStepsTurnsAndIsReservedAgainstTheBudget() throws {
        let t = agentTask(maxSteps: 3, maxTokens: 100)
        let perTurn = "What time is it?".utf8.count + 64 + 100 + AgentSpec.turnAllowanceTokens
        #expect(TaskSpec.worstCaseTokens(kind: "agent", input: t.input) == 3 * perTurn)
        #expect(TaskSpec.worstCaseTokens(kind: "agent", input: agentTask(maxSteps: 99).input)! <= 32 * (16 + 64 + 64 + AgentSpec.turnAllowanceTokens),
                "steps are clamped to 32 wherever the number is used")
        // A budget below one loop's worst case refuses the goal at submission.
        #expect(refusal(t, budget: Budget(maxTokens: 3 * perTurn - 1))?.contains("can use up to \(3 * perTurn) tokens") == true)
        // Room for one loop: the second agent waits until the first settles.
        let h = Harness()
        agentDrone(h, "d1", tools: ["exec.date": false])
        let g = try h.submit(.fork([t, t]), budget: Budget(maxTokens: 3 * perTurn + perTurn))
        let first = h.schedule()
        #expect(first.count == 1, "only one loop's worst case fits")
        #expect(h.state.blocker(for: h.state.tasks["\(g).2"]!).kind == "budget")
        _ = h.finish(first[0].assignment, drone: first[0].drone, output: #"{"answer":"noon","steps":[]}"#)
        #expect(h.schedule().count == 1, "the settled loop gave its reservation back")
    }

    @Test func anAgentRunsOnlyWhereEveryToolIsOfferedAndSaysWhichIsMissing() throws {
        let h = Harness()
        agentDrone(h, "d1", tools: ["exec.date": false])
        let g = try h.submit(agentTask(["exec.date", "time.get_current_time"]))
        #expect(h.schedule().isEmpty)
        let blocker = h.state.blocker(for: h.state.tasks["\(g).0"]!)
        #expect(blocker.kind == "tools")
        #expect(blocker.description.contains("no active drone offers the tool time.get_current_time"))
        #expect(blocker.description.contains("offers exec.date"))
        agentDrone(h, "d2", tools: ["exec.date": false, "time.get_current_time": false])
        let leased = h.schedule()
        #expect(leased.map(\.drone) == ["d2"])
        #expect(leased.first?.assignment.kind == "agent")
    }

    @Test func pinsAreTakenFromLiveDronesAtSubmissionAndTravelInTheLease() throws {
        let h = Harness()
        agentDrone(h, "d1", tools: ["exec.date": false])
        let g = try h.submit(agentTask())
        #expect(h.state.tasks["\(g).0"]!.input?.agent?.pins == ["exec.date": Self.datePin], "pinned at submission")
        let a = h.schedule()[0].assignment
        #expect(a.input?.agent?.pins == ["exec.date": Self.datePin])
        #expect(lease(h, a)?.pins == nil, "nothing to pin at the lease")
        #expect(try h.replayMatches())
    }

    @Test func theReservationCountsThePinnedToolsDefinitionsOnEveryTurn() throws {
        let h = Harness()
        agentDrone(h, "d1", tools: ["exec.date": false, "exec.echo": false], bytes: 3_000)
        let g = try h.submit(agentTask(["exec.date", "exec.echo"], maxSteps: 4))
        let input = try #require(h.state.tasks["\(g).0"]?.input)
        #expect(input.agent?.toolBytes == 6_000, "both definitions, as advertised")
        var bare = input
        bare.agent?.toolBytes = nil
        #expect(AgentSpec.worstCaseTokens(input) - AgentSpec.worstCaseTokens(bare) == 4 * 6_000, "every turn reads them")
        #expect(h.state.goals[g]?.budgetLedger.tokensReserved == 0)
        let a = h.schedule()[0].assignment
        #expect(a.input?.agent?.toolBytes == 6_000, "the drone reserves the same")
        #expect(h.state.goals[g]?.budgetLedger.tokensReserved == AgentSpec.worstCaseTokens(input))
        #expect(try h.replayMatches())
        // A drone that does not say (an older one) leaves the reservation as it was.
        let h2 = Harness()
        agentDrone(h2, "d1", tools: ["exec.date": false])
        let g2 = try h2.submit(agentTask())
        #expect(h2.state.tasks["\(g2).0"]?.input?.agent?.toolBytes == nil)
        // Numbers are bounded at submission.
        var huge = agentTask()
        huge.input?.agent?.toolBytes = -1
        #expect(refusal(huge)?.contains("root.input.agent.tool_bytes must be 0 to") == true)
    }

    @Test func withNoDroneUpAtSubmissionTheFirstLeasePinsAndRetriesKeepThatPin() throws {
        let h = Harness()
        let g = try h.submit(TaskSpec(kind: "agent", input: TaskInput(prompt: "time?", agent: AgentSpec(tools: ["exec.date"])),
                                      maxAttempts: 3))
        #expect(h.state.tasks["\(g).0"]!.input?.agent?.pins == nil)
        agentDrone(h, "d1", tools: ["exec.date": false])
        let first = h.schedule()[0]
        #expect(lease(h, first.assignment)?.pins == ["exec.date": Self.datePin], "the lease journals the pins it took")
        #expect(first.assignment.input?.agent?.pins == ["exec.date": Self.datePin])
        _ = h.finish(first.assignment, drone: first.drone, ok: false)
        // Another drone with a changed definition: the retry still carries the goal's pin, so that drone refuses.
        let otherPin = "sha256:" + String(repeating: "b", count: 64)
        agentDrone(h, "d2", tools: ["exec.date": false], pin: otherPin)
        let retry = h.schedule()[0]
        #expect(retry.assignment.input?.agent?.pins == ["exec.date": Self.datePin])
        #expect(lease(h, retry.assignment)?.pins == nil, "nothing left to pin")
        #expect(try h.replayMatches())
    }

    @Test func anAgentThatMayCallASideEffectingToolWaitsForApproval() throws {
        let h = Harness()
        agentDrone(h, "d1", tools: ["exec.date": false, "exec.rm": true])
        let g = try h.submit(.fork([agentTask(["exec.date"]), agentTask(["exec.date", "exec.rm"])]))
        let leased = h.schedule()
        #expect(leased.map(\.assignment.task) == ["\(g).1"], "the harmless agent runs at once")
        let t = h.state.tasks["\(g).2"]!
        #expect(t.state == .awaitingApproval)
        #expect(t.approvalRequest?.runs == "agent [exec.date, exec.rm]: What time is it?")
        #expect(t.approvalRequest?.why.contains("declares exec.rm side-effecting") == true)
        guard case .success(let fx) = h.state.approve(goal: g, tasks: [], by: "alice", now: h.now) else {
            Issue.record("approve failed"); return
        }
        h.effects.append(fx)
        #expect(h.schedule().map(\.assignment.task) == ["\(g).2"])
        #expect(try h.replayMatches())
    }

    @Test func helloToolsAreBounded() {
        let h = Harness()
        let bad = DroneHello(drone: "d", name: "d", tier: .worker, slots: 1, capabilities: [], host: nil, version: "t",
                             tools: [ToolAdvert(name: "no-dot", pin: Self.datePin, sideEffecting: false)])
        let (reply, _) = h.state.hello(bad, now: h.now)
        #expect(!reply.accepted)
        #expect(reply.reason?.contains("not <server>.<tool>") == true)
        let many = DroneHello(drone: "d", name: "d", tier: .worker, slots: 1, capabilities: [], host: nil, version: "t",
                              tools: (0...DroneHello.maxTools).map { ToolAdvert(name: "s.t\($0)", pin: "p", sideEffecting: false) })
        #expect(h.state.hello(many, now: h.now).0.accepted == false)
    }

    @Test func transcriptsRoundTrip() throws {
        let t = AgentTranscript(answer: "noon", steps: [AgentStep(tool: "exec.date", arguments: .object(["args": .array([])]),
                                                                   result: "Mon", isError: false, millis: 3, atMillis: 10)])
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let text = String(decoding: try encoder.encode(t), as: UTF8.self)
        #expect(text.contains(#""is_error":false"#) && text.contains(#""ms":3"#))
        #expect(AgentTranscript.parse(text) == t)
        #expect(AgentTranscript.parse("plain text") == nil)
    }
}

/// A plan step whose candidates are agents: they run as `agent` tasks over the step's tools, and the step's
/// output is the transcript's answer, not the transcript.
@Suite struct AgentPlanStepTests {
    @Test func agentCandidatesRunAsAgentTasksAndTheAnswerIsTheStepsOutput() throws {
        let h = Harness()
        let caps = ["backend:agent", "backend:model", ToolAdvert.capability("exec.date")]
        let (reply, _) = h.state.hello(DroneHello(drone: "d1", name: "d1", tier: .worker, slots: 4, capabilities: caps, host: nil,
                                                  version: "t", tools: [ToolAdvert(name: "exec.date", pin: AgentTaskTests.datePin, sideEffecting: false)]),
                                       now: h.now)
        #expect(reply.accepted)
        var step = StepSpec(id: "when", prompt: "What year is it?", n: 2, join: .vote)
        step.agent = AgentSpec(tools: ["exec.date"], maxSteps: 3)
        let (g, fx) = try h.state.submit(GoalSpec(plan: PlanSpec(goal: "find the year", steps: [step], prompts: testFrames)), now: h.now)
        h.effects.append(fx)
        let leased = h.schedule()
        #expect(leased.count == 2)
        #expect(leased.allSatisfy { $0.assignment.kind == "agent" && $0.assignment.input?.agent?.tools == ["exec.date"] })
        #expect(leased.allSatisfy { $0.assignment.input?.agent?.pins == ["exec.date": AgentTaskTests.datePin] }, "pinned at first lease")
        for l in leased {
            _ = h.finish(l.assignment, drone: l.drone,
                         output: #"{"answer":"2026","steps":[{"tool":"exec.date","arguments":{"args":["+%Y"]},"result":"2026\n","is_error":false,"ms":2}]}"#)
        }
        _ = h.drain()
        #expect(h.goal(g).state == .succeeded)
        #expect(h.goal(g).plan?.steps.first?.output == "2026", "the vote counted answers, and the step kept the answer")
    }

    @Test func aBudgetThatCannotHoldOneAgentLoopRefusesThePlan() {
        var step = StepSpec(id: "s", prompt: "p", maxTokens: 100)
        step.agent = AgentSpec(tools: ["exec.date"], maxSteps: 4)
        var spec = GoalSpec(plan: PlanSpec(goal: "g", steps: [step], prompts: testFrames))
        spec.budget.maxTokens = 4 * (64 + 100 + AgentSpec.turnAllowanceTokens)  // the loop's turns without the prompt
        #expect(throws: SubmitError.self) { try ControlState().submit(spec, now: 0) }
        do { _ = try ControlState().submit(spec, now: 0) } catch {
            #expect(error.description.contains("each agent candidate can use up to"), "\(error)")
        }
        spec.budget.maxTokens = 100_000
        #expect((try? ControlState().submit(spec, now: 0)) != nil)
    }

    @Test func anAgentStepCannotAlsoBeAProgram() {
        var step = StepSpec(id: "s", prompt: "p")
        step.agent = AgentSpec(tools: ["exec.date"])
        step.exec = TaskInput(command: "/bin/true")
        #expect(throws: SubmitError.self) { try ControlState().submit(GoalSpec(plan: PlanSpec(goal: "g", steps: [step], prompts: testFrames)), now: 0) }
    }
}
