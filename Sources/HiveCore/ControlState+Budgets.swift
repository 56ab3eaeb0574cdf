/// Budgets: whether a goal's token, per-tier, cost and core-call limits admit a task now, on a given drone, and
/// what a lease reserves. The counting itself is one value, `GoalBudgetLedger`; this file adds what needs the
/// registry (which drones could take a task, what their models cost).
extension ControlState {
    /// Why the goal's budgets cannot admit `t` now, or nil. Reserve-before-call: a model call's worst case must
    /// fit beside the tokens spent and those reserved by running calls; a core-only task needs a core call left
    /// once those made and in flight are counted. A refused task waits; see `starvedReason` for when it never can.
    func budgetRefusal(_ t: TaskRecord) -> String? {
        guard let g = goals[t.goal] else { return nil }
        let ledger = g.budgetLedger
        let needsCore = t.tier?.tier == .core
        if let why = ledger.refusal(task: t.id, worstTokens: TaskSpec.worstCaseTokens(kind: t.kind, input: t.input),
                                    needsCore: needsCore, budget: g.budget) {
            return why
        }
        let coreSpent = ledger.coreExhausted(g.budget)
        let perDrone = g.budget.maxTokensByTier != nil || g.budget.maxCost != nil
        guard (coreSpent && !needsCore) || perDrone else { return nil }
        // The drones that could run it at all; the limits below refuse only when all of them are ruled out.
        let needs = DroneRequirements(t)
        let able = drones.values.filter { $0.state == .active && needs.met(by: $0) }
        if coreSpent && !needsCore && !able.isEmpty && able.allSatisfy({ $0.tier == .core }) {
            return ledger.coreRefusal(g.budget, "only core drones can run task \(t.id)")
        }
        if perDrone && !able.isEmpty && !able.contains(where: { fits(t, on: $0, excludingCore: coreSpent) }) {
            return ledger.perDroneRefusal(task: t.id)
        }
        return nil
    }

    /// Whether a call of `t` on `d` fits the goal's per-tier token and cost budgets (worst case, beside what is
    /// spent and reserved) and its core-call budget.
    func fits(_ t: TaskRecord, on d: DroneRecord, excludingCore: Bool) -> Bool {
        if excludingCore && d.tier == .core { return false }
        guard let g = goals[t.goal] else { return false }
        return g.budgetLedger.admits(worstTokens: TaskSpec.worstCaseTokens(kind: t.kind, input: t.input), tier: d.tier,
                                     worstCost: g.budget.maxCost == nil ? nil : worstCost(t, on: d), budget: g.budget)
    }

    /// What a lease of `t` on `drone` reserves, as journaled: the tier when a budget counts it (the registry is
    /// not journaled; replay must agree) or the call is core-tier, the worst-case cost under a cost budget.
    func leaseReservation(_ t: TaskRecord, on drone: DroneID, budget: Budget?) -> (tier: Tier?, cost: Double?) {
        let tier = drones[drone]?.tier
        return (tier == .core || budget?.maxTokensByTier != nil ? tier : nil,
                budget?.maxCost != nil ? drones[drone].flatMap { worstCost(t, on: $0) } : nil)
    }

    /// The most a call of `t` can cost on `d`: its worst-case tokens at the dearer of the model's two prices. Nil
    /// when it is free (not a model call, or the model has no price).
    func worstCost(_ t: TaskRecord, on d: DroneRecord) -> Double? {
        guard t.kind == "model", let p = price(of: d.id), let worst = TaskSpec.worstCaseTokens(kind: t.kind, input: t.input) else { return nil }
        return Double(worst) * max(p.promptPerMTok, p.generatedPerMTok) / 1_000_000
    }

    /// The price of the model a drone serves (config `prices`; `*` for any model not listed).
    func price(of drone: DroneID) -> ModelPrice? {
        guard let d = drones[drone] else { return nil }
        if let m = d.model, let p = config.prices[m] { return p }
        return d.model == nil ? nil : config.prices["*"]
    }

    /// A goal whose refused task is still pending, with nothing of the goal running, can never go on: no
    /// reservation is left to settle and no running task can decide a join (a running exec task could still decide
    /// an `any` or `vote`). Checked at the tick, which fails the goal with this reason as a journaled event.
    func starvedReason(_ g: GoalID, task: TaskID) -> String? {
        guard let t = tasks[task], t.state == .pending else { return nil }
        if tasks(of: g).contains(where: { $0.lease != nil }) { return nil }
        return budgetRefusal(t)
    }

    /// Whether the goal's core-call budget is used up (made + in flight).
    func coreBudgetSpent(_ g: GoalID) -> Bool {
        guard let goal = goals[g] else { return false }
        return goal.budgetLedger.coreExhausted(goal.budget)
    }
}
