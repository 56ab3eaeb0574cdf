import FoundationEssentials
import HiveCore
import Testing

/// Token budgets are enforced before each call (reserve the worst case at lease, settle the reported usage at
/// the result), not just reported afterwards.
@Suite struct TokenBudgetTests {
    /// A model task whose worst case is 1 prompt byte + 64 + 10 = 75 tokens.
    func call() -> TaskSpec { TaskSpec(kind: "model", input: TaskInput(prompt: "p", maxTokens: 10)) }

    func harness() -> Harness {
        let h = Harness()
        h.drone("m", slots: 8, caps: ["backend:model"])
        return h
    }

    func settle(_ h: Harness, _ a: Assignment, used: Int) {
        let r = TaskResult(task: a.task, attempt: a.attempt, token: a.token, drone: "m", outcome: .succeeded, output: "x",
                           usage: Usage(model: "t", promptTokens: 5, generatedTokens: used - 5, promptMillis: 1, generationMillis: 1))
        if case .success(let fx) = h.state.receive(r, now: h.now) { h.effects.append(fx) }
    }

    @Test func callsWaitForReservationsToSettleThenRun() throws {
        let h = harness()
        let g = try h.submit(.fork([call(), call(), call()]), budget: Budget(maxTokens: 170))
        let first = h.schedule()
        #expect(first.count == 2, "two worst cases (150) fit in 170; a third (225) does not")
        #expect(h.goal(g).tokensReserved == 150)
        settle(h, first[0].assignment, used: 15)
        #expect(h.goal(g).tokensSpent == 15 && h.goal(g).tokensReserved == 75)
        let second = h.schedule()
        #expect(second.count == 1, "15 spent + 75 reserved + 75 = 165 fits now")
        settle(h, first[1].assignment, used: 15)
        settle(h, second[0].assignment, used: 15)
        h.tick()
        #expect(h.goal(g).state == .succeeded)
        #expect(h.goal(g).tokensSpent == 45 && h.goal(g).tokensReserved == 0)
    }

    @Test func aCallThatCanNeverFitFailsTheGoalWithTheReason() throws {
        let h = harness()
        let g = try h.submit(.fork([call(), call()]), budget: Budget(maxTokens: 100))
        let leased = h.schedule()
        #expect(leased.count == 1)
        settle(h, leased[0].assignment, used: 60)
        #expect(h.schedule().isEmpty, "60 spent + 75 > 100, and nothing running can free budget")
        h.tick()
        #expect(h.goal(g).state == .failed)
        #expect(h.goal(g).reason == "budget exhausted: tokens (spent 60, the next call needs up to 75, budget.max_tokens 100)")
        let replayed = ControlState()
        for e in h.events { replayed.apply(e) }
        #expect(replayed.goals[g]?.state == .failed && replayed.goals[g]?.reason == h.goal(g).reason)
        #expect(replayed.goals[g]?.tokensSpent == 60)
    }

    @Test func expiredAndCancelledCallsReleaseTheirReservation() throws {
        let h = harness()
        let g = try h.submit(.fork([call(), call()], join: .any), budget: Budget(maxTokens: 1_000))
        let leased = h.schedule()
        #expect(h.goal(g).tokensReserved == 150)
        settle(h, leased[0].assignment, used: 20)
        #expect(h.goal(g).tokensReserved == 0, "the any-join cancelled the other call and released its reservation")
        let h2 = harness()
        let g2 = try h2.submit(call(), budget: Budget(maxTokens: 1_000))
        h2.schedule()
        #expect(h2.goal(g2).tokensReserved == 75)
        h2.now += 120_000  // past the lease and the drone's heartbeat: the call is expired and requeued
        h2.tick()
        #expect(h2.state.tasks[h2.goal(g2).root]?.state == .pending)
        #expect(h2.goal(g2).tokensReserved == 0)
        #expect(h2.goal(g2).state == .running, "an expired call spent nothing it reported")
    }

    @Test func submissionRejectsModelTasksWithoutAWorstCase() throws {
        let h = harness()
        let unbounded = TaskSpec(kind: "model", input: TaskInput(prompt: "p"))
        #expect(throws: SubmitError.invalid("root.children[1] is a model task without input.max_tokens; a token or cost budget needs its worst case")) {
            try h.submit(.fork([call(), unbounded]), budget: Budget(maxTokens: 1_000))
        }
        #expect(throws: SubmitError.self) { try h.submit(call(), budget: Budget(maxTokens: 50)) }
        #expect(throws: Never.self) { try h.submit(unbounded) }
    }

    @Test func cancelledCallsAreChargedTheirWorstCase() throws {
        let h = harness()
        let g = try h.submit(.fork([call(), call()], join: .any), budget: Budget(maxTokens: 1_000))
        let leased = h.schedule()
        settle(h, leased[0].assignment, used: 20)
        #expect(h.goal(g).tokensSpent == 20 + 75, "the cancelled call may have run; it reports nothing")
    }

    @Test func aRunningExecTaskKeepsAStarvedAnyJoinAlive() throws {
        let h = Harness()
        h.drone("m", slots: 8, caps: ["backend:model", "backend:exec", "exec:/bin/true"])
        let g = try h.submit(.fork([call(), call(), exec(1)[0]], join: .any), budget: Budget(maxTokens: 100))
        let leased = h.schedule()
        #expect(leased.count == 2, "one call (75) and the exec task")
        let model = try #require(leased.first { $0.assignment.kind == "model" })
        let r = TaskResult(task: model.assignment.task, attempt: 1, token: model.assignment.token, drone: "m",
                           outcome: .failed, exitCode: 1,
                           usage: Usage(model: "t", promptTokens: 5, generatedTokens: 25, promptMillis: 1, generationMillis: 1))
        _ = h.state.receive(r, now: h.now)
        #expect(h.schedule().isEmpty, "30 spent + 75 > 100")
        h.tick()
        #expect(h.goal(g).state == .running, "the exec task can still decide the join")
    }

    @Test func forksAnsweredByACallAreCheckedAgainstTheBudget() throws {
        let h = harness()
        let g = try h.submit(call(), budget: Budget(maxTokens: 1_000))
        let a = h.schedule()[0].assignment
        let unbounded = TaskSpec(kind: "model", input: TaskInput(prompt: "p"))
        let r = h.finish(a, drone: "m", fork: [unbounded])
        guard case .failure(.invalidFork(let why)) = r else { Issue.record("expected an invalid fork, got \(r)"); return }
        #expect(why.contains("without input.max_tokens"))
        #expect(h.goal(g).state == .running)
    }

    @Test func snapshotsFromBeforeTokenBudgetsStillLoad() throws {
        let old = #"{"id":"g1","priority":0,"budget":{"max_tasks":10},"root":"g1.0","state":"running","createdAt":5,"taskCount":1}"#
        let g = try JSONDecoder().decode(GoalRecord.self, from: Data(old.utf8))
        #expect(g.tokensSpent == 0 && g.tokensReserved == 0 && g.budget.maxTasks == 10)
    }
}

/// Core-tier calls are the expensive ones: `budget.max_core_calls` caps them the same way.
@Suite struct CoreCallBudgetTests {
    func coreOnly() -> TaskSpec { TaskSpec(kind: "noop", tier: TierRequirement(.core)) }
    func anyTier() -> TaskSpec { TaskSpec(kind: "noop", tier: TierRequirement(.edge, orHigher: true)) }

    @Test func coreOnlyWorkBeyondTheBudgetFailsTheGoal() throws {
        let h = Harness()
        h.drone("core1", tier: .core, slots: 4)
        let g = try h.submit(.fork([coreOnly(), coreOnly()]), budget: Budget(maxCoreCalls: 1))
        let leased = h.schedule()
        #expect(leased.count == 1 && h.goal(g).coreReserved == 1)
        h.finish(leased[0].assignment, drone: leased[0].drone)
        #expect(h.goal(g).coreCalls == 1 && h.goal(g).coreReserved == 0)
        #expect(h.schedule().isEmpty)
        h.tick()
        #expect(h.goal(g).state == .failed)
        #expect(h.goal(g).reason == "budget exhausted: core-tier calls (1 made, budget.max_core_calls 1); task g1.2 needs the core tier")
        let replayed = ControlState()
        for e in h.events { replayed.apply(e) }
        #expect(replayed.goals[g]?.coreCalls == 1 && replayed.goals[g]?.state == .failed)
    }

    @Test func workAnyTierMayRunGoesBelowCoreOnceTheBudgetIsSpent() throws {
        let h = Harness()
        h.drone("core1", tier: .core, slots: 8)
        h.drone("w1", tier: .worker, slots: 1)
        let g = try h.submit(.fork([anyTier(), anyTier(), anyTier()]), budget: Budget(maxCoreCalls: 1))
        let first = h.schedule()
        #expect(first.filter { $0.drone == "core1" }.count == 1, "one core call, however many core slots are free")
        #expect(first.count == 2)
        for l in first { h.finish(l.assignment, drone: l.drone) }
        let second = h.schedule()
        #expect(second.count == 1 && second[0].drone == "w1")
        h.finish(second[0].assignment, drone: "w1")
        #expect(h.goal(g).state == .succeeded && h.goal(g).coreCalls == 1)
    }

    @Test func leasesJournalTheirTierSoReplayCountsTheSameCalls() throws {
        let h = Harness()
        h.drone("core1", tier: .core, slots: 2)
        let g = try h.submit(.fork([coreOnly(), coreOnly()], join: .any), budget: Budget(maxCoreCalls: 5))
        let leased = h.schedule()
        h.finish(leased[0].assignment, drone: "core1")  // the other is cancelled: it still counts
        #expect(h.goal(g).coreCalls == 2)
        let replayed = ControlState()
        for e in h.events { replayed.apply(e) }
        #expect(replayed.goals[g]?.coreCalls == 2 && replayed.goals[g]?.coreReserved == 0)
    }
}

/// Per-tier token budgets and cost budgets: admitted per drone, reserved at lease, settled at the result.
@Suite struct TierAndCostBudgetTests {
    func call(tier: TierRequirement? = nil) -> TaskSpec {
        TaskSpec(kind: "model", tier: tier, input: TaskInput(prompt: "p", maxTokens: 10))  // worst case 75 tokens
    }

    func settle(_ h: Harness, _ a: Assignment, drone: DroneID, prompt: Int, generated: Int) {
        let r = TaskResult(task: a.task, attempt: a.attempt, token: a.token, drone: drone, outcome: .succeeded, output: "x",
                           usage: Usage(model: "m", promptTokens: prompt, generatedTokens: generated, promptMillis: 1, generationMillis: 1))
        if case .success(let fx) = h.state.receive(r, now: h.now) { h.effects.append(fx) }
    }

    @Test func aSpentTierBudgetSendsWorkToOtherTiersAndCoreOnlyWorkFailsTheGoal() throws {
        let h = Harness()
        h.drone("core", tier: .core, slots: 8, caps: ["backend:model", "model:big"])
        h.drone("edge", tier: .edge, slots: 1, caps: ["backend:model", "model:small"])
        let g = try h.submit(.fork([call(), call(), call()]), budget: Budget(maxTokensByTier: ["core": 100]))
        let first = h.schedule()
        #expect(first.map(\.drone).sorted() == ["core", "edge"], "one worst case (75) fits the core's 100, a second does not")
        #expect(h.goal(g).tierTokensReserved["core"] == 75)
        for (a, d) in first { settle(h, a, drone: d, prompt: 20, generated: 20) }
        #expect(h.goal(g).tierTokensSpent == ["core": 40, "edge": 40], "every tier is counted; the core's is limited")
        let second = h.schedule()
        #expect(second.map(\.drone) == ["edge"], "40 spent + 75 > 100 on the core: the edge takes it")
        for (a, d) in second { settle(h, a, drone: d, prompt: 5, generated: 5) }
        #expect(h.goal(g).state == .succeeded)

        let coreOnly = try h.submit(.fork([call(tier: TierRequirement(.core)), call(tier: TierRequirement(.core))]),
                                    budget: Budget(maxTokensByTier: ["core": 100]))
        let leased = h.schedule()
        #expect(leased.count == 1)
        settle(h, leased[0].assignment, drone: "core", prompt: 20, generated: 20)
        #expect(h.schedule().isEmpty)
        h.tick()
        #expect(h.goal(coreOnly).state == .failed)
        #expect(h.goal(coreOnly).reason?.hasPrefix("budget exhausted: no drone can take task") == true)
        #expect(h.goal(coreOnly).reason?.contains("core 40") == true)
        #expect(try h.replayMatches())
    }

    @Test func aCostBudgetAdmitsDearDronesOnlyWhileTheirWorstCaseFits() throws {
        var config = ControlConfig()
        config.prices = ["big": ModelPrice(promptPerMTok: 10, generatedPerMTok: 30)]
        let h = Harness(config: config)
        h.drone("core", tier: .core, slots: 8, caps: ["backend:model", "model:big"])
        h.drone("edge", tier: .edge, slots: 8, caps: ["backend:model", "model:small"])  // unpriced: free
        // On "big" a call's worst case is 75 tokens at 30/MTok = 0.00225; the budget holds one, not two.
        let g = try h.submit(.fork([call(tier: TierRequirement(.edge, orHigher: true)), call(tier: TierRequirement(.core))]),
                             budget: Budget(maxCost: 0.004))
        let first = h.schedule()
        #expect(first.count == 2)
        let onCore = first.filter { $0.drone == "core" }
        #expect(onCore.count == 1 && onCore[0].assignment.task == "g1.2", "the call any tier may run goes to the free edge")
        #expect(abs(h.goal(g).costReserved - 0.00225) < 1e-12)
        settle(h, onCore[0].assignment, drone: "core", prompt: 5, generated: 10)  // (5·10 + 10·30) / 1e6
        #expect(abs(h.goal(g).costSpent - 0.00035) < 1e-12 && abs(h.goal(g).costReserved) < 1e-12)
        let edge = first.first { $0.drone == "edge" }!
        settle(h, edge.assignment, drone: "edge", prompt: 5, generated: 10)
        #expect(h.goal(g).state == .succeeded)
        let ledger = GoalLedger(goal: h.goal(g), tasks: h.state.tasks(of: g), now: h.now)
        #expect(abs(ledger.total.cost - 0.00035) < 1e-12 && abs((ledger.byTier["core"]?.cost ?? 0) - 0.00035) < 1e-12)
        #expect(try h.replayMatches())
    }

    @Test func tokenAndCostBudgetsNeedEveryModelCallsWorstCase() {
        let h = Harness()
        let open = TaskSpec(kind: "model", input: TaskInput(prompt: "p"))
        #expect(throws: SubmitError.self) { try h.submit(.fork([open]), budget: Budget(maxCost: 1)) }
        #expect(throws: SubmitError.self) { try h.submit(.fork([open]), budget: Budget(maxTokensByTier: ["core": 10_000])) }
    }

    @Test func unknownTiersInATierBudgetAreRefusedWhenDecoding() {
        let json = #"{"max_tokens_by_tier": {"gpu": 100}}"#
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(Budget.self, from: Data(json.utf8)) }
    }
}
