/// What one leased call holds against its goal's budgets from its lease to its end: its worst case, reserved
/// before the call so that calls running at once can never together pass a limit.
public struct BudgetReservation: Sendable, Equatable {
    /// Worst-case tokens (`TaskSpec.worstCaseTokens`: prompt bytes + 64 + max_tokens; 0 for other work).
    public var tokens: Int
    /// The tier the call counts against (`budget.max_tokens_by_tier`; journaled with the lease).
    public var tier: Tier?
    /// Worst-case cost (`budget.max_cost`; journaled with the lease, since prices are config).
    public var cost: Double?
    /// A core-tier call (`budget.max_core_calls`).
    public var core: Bool

    public init(tokens: Int, tier: Tier? = nil, cost: Double? = nil, core: Bool = false) {
        self.tokens = tokens
        self.tier = tier
        self.cost = cost
        self.core = core
    }

    /// What `lease` holds for a call of `task`: nothing when there is no lease.
    init(task: TaskRecord, lease: Lease?) {
        guard let lease else {
            self.init(tokens: 0)
            return
        }
        self.init(tokens: TaskSpec.worstCaseTokens(kind: task.kind, input: task.input) ?? 0, tier: lease.tier,
                  cost: lease.cost, core: lease.core == true)
    }
}

/// A goal's budget counters as one value: tokens (in all and per tier), cost and core-tier calls, each spent
/// (settled) and reserved (by running calls). Every change goes through four operations, applied from journaled
/// events only, so replay counts the same:
///
/// - `reserve`: a call is leased; its worst case is held.
/// - `settle`: it ended with a usage report; the reservation goes, what it reported is spent.
/// - `charge`: it ended without one (cancelled, expired, lost, answered with a fork); the drone may have spent
///   tokens all the same, so its worst case is spent: a budget errs towards stopping early, never towards
///   overspending.
/// - `release`: the reservation goes (what `settle` and `charge` do first); a core lease counts as a call made,
///   since it ran or may have.
///
/// `refusal` and `admits` answer whether the limits admit another call. Every sum saturates: the numbers come
/// from submissions, drones and the journal, and none of them may trap the control plane.
public struct GoalBudgetLedger: Sendable, Equatable {
    /// Model tokens settled from finished calls (their reported usage, or the worst case when charged).
    public internal(set) var tokensSpent = 0
    /// Worst cases of the model calls now leased.
    public internal(set) var tokensReserved = 0
    /// Core-tier calls made (every ended core lease), and those now leased.
    public internal(set) var coreCalls = 0
    public internal(set) var coreReserved = 0
    /// Tokens per tier (`Tier.rawValue`), spent and reserved, for `budget.max_tokens_by_tier`.
    public internal(set) var tierTokensSpent: [String: Int] = [:]
    public internal(set) var tierTokensReserved: [String: Int] = [:]
    /// Cost spent and reserved, for `budget.max_cost` (in the unit of the configured prices).
    public internal(set) var costSpent: Double = 0
    public internal(set) var costReserved: Double = 0

    public init() {}

    /// The counters as a snapshot holds them (`GoalRecord`'s flat keys).
    init(tokensSpent: Int, tokensReserved: Int, coreCalls: Int, coreReserved: Int, tierTokensSpent: [String: Int],
         tierTokensReserved: [String: Int], costSpent: Double, costReserved: Double) {
        self.tokensSpent = tokensSpent
        self.tokensReserved = tokensReserved
        self.coreCalls = coreCalls
        self.coreReserved = coreReserved
        self.tierTokensSpent = tierTokensSpent
        self.tierTokensReserved = tierTokensReserved
        self.costSpent = costSpent
        self.costReserved = costReserved
    }

    // MARK: Counting

    /// A call was leased: its worst case is held until it ends.
    public mutating func reserve(_ r: BudgetReservation) {
        tokensReserved = tokensReserved.saturatingAdding(r.tokens)
        if let tier = r.tier {
            tierTokensReserved[tier.rawValue] = tierTokensReserved[tier.rawValue, default: 0].saturatingAdding(r.tokens)
        }
        if let cost = r.cost { costReserved += cost }
        if r.core { coreReserved = coreReserved.saturatingAdding(1) }
    }

    /// The call ended: its reservation goes. A core lease counts as a core call made (it ran, or may have).
    public mutating func release(_ r: BudgetReservation) {
        tokensReserved = tokensReserved.saturatingSubtracting(r.tokens)
        if let tier = r.tier {
            tierTokensReserved[tier.rawValue] = tierTokensReserved[tier.rawValue, default: 0].saturatingSubtracting(r.tokens)
        }
        if let cost = r.cost { costReserved -= cost }
        if r.core {
            coreReserved = coreReserved.saturatingSubtracting(1)
            coreCalls = coreCalls.saturatingAdding(1)
        }
    }

    /// The call ended with a result: the reservation goes, and what it reported is spent, lower or higher than
    /// reserved: `tokens` (prompt + generated, also counted on the reservation's tier; nil when the result had no
    /// usage) and `cost` (at the drone's model price; nil when free).
    public mutating func settle(_ r: BudgetReservation, tokens: Int?, cost: Double?) {
        release(r)
        spend(tokens: tokens, tier: r.tier, cost: cost)
    }

    /// The call ended without a usage report: the reservation goes and its worst case is spent.
    public mutating func charge(_ r: BudgetReservation) {
        release(r)
        spend(tokens: r.tokens, tier: r.tier, cost: r.cost)
    }

    private mutating func spend(tokens: Int?, tier: Tier?, cost: Double?) {
        if let tokens {
            tokensSpent = tokensSpent.saturatingAdding(tokens)
            if let tier { tierTokensSpent[tier.rawValue] = tierTokensSpent[tier.rawValue, default: 0].saturatingAdding(tokens) }
        }
        if let cost { costSpent += cost }
    }

    // MARK: Admission

    /// Why `budget` cannot admit a call of `task` now, whatever drone would run it, or nil: its worst case
    /// (`worstTokens`; nil for a model call without `max_tokens`) must fit beside the tokens spent and reserved
    /// (`budget.max_tokens`), and work only the core tier may run (`needsCore`) needs a core call left
    /// (`budget.max_core_calls`, made and in flight counted).
    public func refusal(task: TaskID, worstTokens: Int?, needsCore: Bool, budget: Budget) -> String? {
        if let max = budget.maxTokens {
            guard let worst = worstTokens else {
                return "budget: model task \(task) has no input.max_tokens, so it cannot be admitted under budget.max_tokens"
            }
            if tokensSpent.saturatingAdding(tokensReserved).saturatingAdding(worst) > max {
                return "budget exhausted: tokens (spent \(tokensSpent), the next call needs up to \(worst), budget.max_tokens \(max))"
            }
        }
        if needsCore, coreExhausted(budget) { return coreRefusal(budget, "task \(task) needs the core tier") }
        return nil
    }

    /// Whether the core-call budget is used up (made + in flight); false without one.
    public func coreExhausted(_ budget: Budget) -> Bool {
        guard let max = budget.maxCoreCalls else { return false }
        return coreCalls.saturatingAdding(coreReserved) >= max
    }

    /// The refusal naming `budget.max_core_calls`, ending with why the task needs the core tier.
    public func coreRefusal(_ budget: Budget, _ why: String) -> String {
        "budget exhausted: core-tier calls (\(coreCalls) made, budget.max_core_calls \(budget.maxCoreCalls ?? 0)); \(why)"
    }

    /// Whether a call with this worst case fits the per-tier token budget of `tier` and the cost budget, beside
    /// what is spent and reserved. `worstCost`: nil when the call is free on that drone.
    public func admits(worstTokens: Int?, tier: Tier, worstCost: Double?, budget: Budget) -> Bool {
        if let m = budget.maxTokensByTier?[tier.rawValue] {
            guard let worst = worstTokens else { return false }
            let held = tierTokensSpent[tier.rawValue, default: 0].saturatingAdding(tierTokensReserved[tier.rawValue, default: 0])
            if held.saturatingAdding(worst) > m { return false }
        }
        if let m = budget.maxCost, let c = worstCost, costSpent + costReserved + c > m + 1e-12 { return false }
        return true
    }

    /// The refusal when no drone able to run `task` is admitted by the per-tier or cost budgets.
    public func perDroneRefusal(task: TaskID) -> String {
        "budget exhausted: no drone can take task \(task) within budget.max_tokens_by_tier or budget.max_cost " +
            "(tokens by tier \(tierTokensSpent.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")); " +
            "cost spent \(costSpent))"
    }
}

extension Int {
    /// `self + other`, clamped to `Int.min...Int.max` instead of trapping.
    @inline(__always) public func saturatingAdding(_ other: Int) -> Int {
        let (sum, overflow) = addingReportingOverflow(other)
        return overflow ? (other > 0 ? .max : .min) : sum
    }

    /// `self - other`, clamped to `Int.min...Int.max` instead of trapping.
    @inline(__always) public func saturatingSubtracting(_ other: Int) -> Int {
        let (difference, overflow) = subtractingReportingOverflow(other)
        return overflow ? (other > 0 ? .min : .max) : difference
    }
}
