import HiveCore
import Testing

/// The budget counters as one value: what reserve, settle, charge and release do to them, and why a limit refuses.
@Suite struct GoalBudgetLedgerTests {
    let call = BudgetReservation(tokens: 75, tier: .core, cost: 0.002, core: true)

    @Test func settlingLowerThanReservedFreesTheDifference() {
        var l = GoalBudgetLedger()
        l.reserve(call)
        #expect(l.tokensReserved == 75 && l.tierTokensReserved == ["core": 75] && l.coreReserved == 1)
        #expect(abs(l.costReserved - 0.002) < 1e-15)
        l.settle(call, tokens: 20, cost: 0.0005)
        #expect(l.tokensReserved == 0 && l.tokensSpent == 20)
        #expect(l.tierTokensReserved == ["core": 0] && l.tierTokensSpent == ["core": 20])
        #expect(abs(l.costReserved) < 1e-15 && abs(l.costSpent - 0.0005) < 1e-15)
        #expect(l.coreReserved == 0 && l.coreCalls == 1)
    }

    @Test func settlingHigherThanReservedCountsWhatWasReported() {
        var l = GoalBudgetLedger()
        l.reserve(call)
        l.settle(call, tokens: 500, cost: nil)
        #expect(l.tokensSpent == 500 && l.tierTokensSpent == ["core": 500] && l.tokensReserved == 0)
        #expect(l.costSpent == 0, "a free result spends no cost, whatever was reserved")
    }

    @Test func aResultWithoutUsageSpendsNoTokensAndAddsNoTierEntry() {
        var l = GoalBudgetLedger()
        let edge = BudgetReservation(tokens: 10, tier: .edge)
        l.reserve(edge)
        l.settle(edge, tokens: nil, cost: nil)
        #expect(l.tokensSpent == 0 && l.tierTokensSpent.isEmpty && l.tokensReserved == 0)
    }

    @Test func chargingSpendsTheWorstCase() {
        var l = GoalBudgetLedger()
        l.reserve(call)
        l.charge(call)
        #expect(l.tokensSpent == 75 && l.tierTokensSpent == ["core": 75] && abs(l.costSpent - 0.002) < 1e-15)
        #expect(l.tokensReserved == 0 && l.coreCalls == 1)
    }

    @Test func releasingDropsTheReservationAndCountsTheCoreCall() {
        var l = GoalBudgetLedger()
        l.reserve(call)
        l.release(call)
        #expect(l.tokensReserved == 0 && l.tokensSpent == 0 && l.costSpent == 0 && l.tierTokensSpent.isEmpty)
        #expect(l.coreReserved == 0 && l.coreCalls == 1, "a core lease that ended ran, or may have")
    }

    @Test func sumsSaturateInsteadOfTrapping() {
        var l = GoalBudgetLedger()
        let huge = BudgetReservation(tokens: .max, tier: .worker)
        l.reserve(huge)
        l.reserve(huge)
        #expect(l.tokensReserved == .max)
        l.settle(huge, tokens: .max, cost: nil)
        l.settle(huge, tokens: .max, cost: nil)
        #expect(l.tokensSpent == .max && l.tierTokensSpent["worker"] == .max)
        #expect(l.refusal(task: "g1.0", worstTokens: .max, needsCore: false, budget: Budget(maxTokens: 10)) != nil)
        #expect(!l.admits(worstTokens: .max, tier: .worker, worstCost: nil, budget: Budget(maxTokensByTier: ["worker": 10])))
    }

    @Test func refusalNamesTheLimit() {
        var l = GoalBudgetLedger()
        #expect(l.refusal(task: "g1.0", worstTokens: 75, needsCore: false, budget: Budget()) == nil)
        #expect(l.refusal(task: "g1.0", worstTokens: nil, needsCore: false, budget: Budget(maxTokens: 100))
            == "budget: model task g1.0 has no input.max_tokens, so it cannot be admitted under budget.max_tokens")
        l.settle(BudgetReservation(tokens: 0), tokens: 60, cost: nil)
        #expect(l.refusal(task: "g1.1", worstTokens: 40, needsCore: false, budget: Budget(maxTokens: 100)) == nil)
        #expect(l.refusal(task: "g1.1", worstTokens: 41, needsCore: false, budget: Budget(maxTokens: 100))
            == "budget exhausted: tokens (spent 60, the next call needs up to 41, budget.max_tokens 100)")
        let core = BudgetReservation(tokens: 0, core: true)
        l.reserve(core)
        #expect(l.coreExhausted(Budget(maxCoreCalls: 1)), "a core call in flight counts")
        #expect(l.refusal(task: "g1.2", worstTokens: 0, needsCore: false, budget: Budget(maxCoreCalls: 1)) == nil,
                "work other tiers may run is not refused here")
        #expect(l.refusal(task: "g1.2", worstTokens: 0, needsCore: true, budget: Budget(maxCoreCalls: 1))
            == "budget exhausted: core-tier calls (0 made, budget.max_core_calls 1); task g1.2 needs the core tier")
    }

    @Test func admitsPerTierAndCost() {
        var l = GoalBudgetLedger()
        let budget = Budget(maxTokensByTier: ["core": 100], maxCost: 0.01)
        #expect(l.admits(worstTokens: 100, tier: .core, worstCost: 0.01, budget: budget))
        #expect(!l.admits(worstTokens: nil, tier: .core, worstCost: nil, budget: budget), "a per-tier limit needs a worst case")
        #expect(l.admits(worstTokens: nil, tier: .edge, worstCost: nil, budget: budget), "edge has no limit")
        l.reserve(BudgetReservation(tokens: 60, tier: .core, cost: 0.006))
        #expect(!l.admits(worstTokens: 41, tier: .core, worstCost: nil, budget: budget))
        #expect(l.admits(worstTokens: 40, tier: .core, worstCost: 0.004, budget: budget))
        #expect(!l.admits(worstTokens: 0, tier: .edge, worstCost: 0.0041, budget: budget))
        #expect(l.perDroneRefusal(task: "g1.3").hasPrefix("budget exhausted: no drone can take task g1.3 within budget.max_tokens_by_tier or budget.max_cost"))
    }
}
