/// What one million tokens of a model cost, in whatever unit `budget.max_cost` is given in.
public struct ModelPrice: Codable, Sendable, Equatable {
    public var promptPerMTok: Double
    public var generatedPerMTok: Double

    public init(promptPerMTok: Double, generatedPerMTok: Double) {
        self.promptPerMTok = promptPerMTok
        self.generatedPerMTok = generatedPerMTok
    }

    /// What a call with this usage cost.
    public func cost(promptTokens: Int, generatedTokens: Int) -> Double {
        (Double(promptTokens) * promptPerMTok + Double(generatedTokens) * generatedPerMTok) / 1_000_000
    }

    enum CodingKeys: String, CodingKey { case promptPerMTok = "prompt_per_mtok", generatedPerMTok = "generated_per_mtok" }
}

/// Timing knobs of the control plane, and model prices for cost budgets.
public struct ControlConfig: Sendable, Equatable {
    public var heartbeatMillis = 1_000
    /// A drone silent this long is lost and its tasks are re-dispatched.
    public var lostAfterMillis = 1_500
    public var defaultTimeoutMillis = 60_000
    /// Extra time on top of a task's timeout before its lease expires (the drone enforces the timeout itself).
    public var leaseGraceMillis = 2_000
    /// Prices by model name (as drones announce it; `*` for any other model). A model without a price is free.
    public var prices: [String: ModelPrice] = [:]
    /// The largest submission honeycombd reads, in bytes (`max_spec_bytes`); checked before decoding.
    public var maxSpecBytes = SpecLimits.defaultSpecBytes
    /// Drones in the registry at once (`max_drones`); drones that left or were lost are forgotten first.
    public var maxDrones = 10_000

    public init() {}
}

/// Why a submitted goal was refused.
public enum SubmitError: Error, Equatable, Sendable, CustomStringConvertible {
    case tooManyTasks(Int, limit: Int)
    case tooDeep(Int, limit: Int)
    case invalid(String)
    /// A number out of its range, a string or list too long (`SpecLimits`).
    case violation(SpecViolation)
    /// A work task whose kind no backend serves (`TaskSpec.workKinds`).
    case unknownKind(path: String, kind: String)

    public var description: String {
        switch self {
        case .violation(let v): return "invalid goal: \(v)"
        case .tooManyTasks(let n, let l): return "the goal has \(n) tasks; its budget allows \(l) (budget.max_tasks)"
        case .tooDeep(let d, let l): return "the goal's task tree is \(d) deep; its budget allows \(l) (budget.max_depth)"
        case .invalid(let why): return "invalid goal: \(why)"
        case .unknownKind(let path, let kind):
            return "invalid goal: \(path) has kind '\(kind)', which no backend runs; the kinds are \(TaskSpec.workKinds.joined(separator: ", ")) (and fork)"
        }
    }
}

/// Why a drone's result was not accepted (logged; the drone is not told).
public enum ResultRejection: Error, Equatable, Sendable, CustomStringConvertible {
    case unknownTask
    case notLeased(TaskState)
    case staleAttempt(expected: Int, got: Int)
    case staleToken
    case wrongDrone(holder: DroneID)
    case invalidFork(String)

    /// The kind of refusal, without its particulars (what log throttles are keyed by).
    public var kind: String {
        switch self {
        case .unknownTask: return "unknown_task"
        case .notLeased: return "not_leased"
        case .staleAttempt: return "stale_attempt"
        case .staleToken: return "stale_token"
        case .wrongDrone: return "wrong_drone"
        case .invalidFork: return "invalid_fork"
        }
    }

    public var description: String {
        switch self {
        case .unknownTask: return "unknown task"
        case .notLeased(let s): return "task is \(s.rawValue), not leased"
        case .staleAttempt(let e, let g): return "stale attempt \(g) (current \(e))"
        case .staleToken: return "stale lease token"
        case .wrongDrone(let h): return "task is leased to \(h)"
        case .invalidFork(let why): return "invalid fork: \(why)"
        }
    }
}

/// What a drone must offer to run a task at all (free slots and budgets aside): its tier, the backend, for exec
/// the command (drones advertise `exec:<path>`), and every required capability. The capability keys are built
/// once per task, not once per drone looked at.
struct DroneRequirements {
    let tier: TierRequirement?
    let backend: String
    let command: String?
    let requires: [String]

    init(_ t: TaskRecord) {
        tier = t.tier
        backend = "backend:\(t.kind)"
        command = t.kind == "exec" ? t.input?.command.map { "exec:\($0)" } : nil
        requires = t.requires
    }

    @inline(__always) func met(by d: DroneRecord) -> Bool {
        if let tier, !tier.admits(d.tier) { return false }
        if !d.capabilities.contains(backend) { return false }
        if let command, !d.capabilities.contains(command) { return false }
        return requires.allSatisfy { d.capabilities.contains($0) }
    }
}

/// Effects for the service to carry out after a command.
public struct Outbox: Sendable {
    /// Tasks to stop on drones (their goal ended, or a join no longer needs them).
    public var cancellations: [(drone: DroneID, task: TaskID)] = []
    /// Goals that reached a final state.
    public var finishedGoals: [GoalID] = []
    /// Events applied by `schedule` that carry no assignment (tasks parked for approval), for the journal.
    public var events: [JournalEvent] = []

    public var isEmpty: Bool { cancellations.isEmpty && finishedGoals.isEmpty && events.isEmpty }

    public init() {}
}

/// The control plane's state machine: goals, task trees, leases, joins, budgets, and the drone registry.
///
/// Deterministic and clock-free: every method takes `now` in milliseconds (honeycombd's `ControlClock`: Unix epoch
/// milliseconds that advance monotonically, so recorded times survive a restart). Commands (`submit`,
/// `receive`, `schedule`, `tick`, `cancel`) decide, apply their events through `apply`, and return them for the
/// journal; replaying those events with `apply` rebuilds the same goals and tasks. The drone registry is not
/// journaled: drones announce themselves again after a restart.
public final class ControlState {
    public internal(set) var goals: [GoalID: GoalRecord] = [:]
    public internal(set) var tasks: [TaskID: TaskRecord] = [:]
    public private(set) var drones: [DroneID: DroneRecord] = [:]
    public let config: ControlConfig
    public var outbox = Outbox()
    var nextGoal: Int64 = 1
    var nextSeq: Int64 = 0
    var queue = PendingQueue()
    var runningGoals: Set<GoalID> = []
    /// Per goal, a task its budgets refused at the last scheduling pass (see `budgetRefusal`, `starvedReason`).
    var budgetStarved: [GoalID: TaskID] = [:]
    /// Each goal's tasks in creation order (API reads without scanning every task).
    public private(set) var tasksByGoal: [GoalID: [TaskID]] = [:]
    /// Goals with a token, cost or core-call budget: only their tasks pay for budget checks when scheduled.
    var budgetedGoals: Set<GoalID> = []
    /// Tasks in `awaiting_approval` (the tick's approval timeouts look only at these).
    var awaiting: Set<TaskID> = []

    /// A goal's task records in creation order.
    public func tasks(of goal: GoalID) -> [TaskRecord] { (tasksByGoal[goal] ?? []).compactMap { tasks[$0] } }

    public init(config: ControlConfig = ControlConfig()) { self.config = config }

    public var pendingCount: Int { tasks.values.lazy.filter { $0.state == .pending }.count }

    /// The number the next goal gets (`g<n>`).
    public var nextGoalNumber: Int64 { nextGoal }

    /// Numbers the next goals from `n` on (never backwards): after a journal loss, ids that may have been handed
    /// out before are skipped rather than reused.
    public func skipGoalNumbers(to n: Int64) { nextGoal = max(nextGoal, n) }

    /// The latest time recorded in goals and tasks (creation and end; lease deadlines are in the future by design
    /// and are not counted). A restarted clock must not start before it.
    public var latestTime: Int64 {
        var latest: Int64 = 0
        for g in goals.values { latest = max(latest, g.finishedAt ?? g.createdAt) }
        for t in tasks.values { latest = max(latest, t.finishedAt ?? t.createdAt) }
        return latest
    }

    // MARK: Commands

    /// Accepts a goal. Returns its id and the event to journal.
    public func submit(_ spec: GoalSpec, now: Int64) throws(SubmitError) -> (GoalID, JournalEvent) {
        // Numbers and strings first: every later check may do arithmetic on them.
        do {
            try SpecCheck.goal(spec)
            if let plan = spec.plan { try SpecCheck.plan(plan) }
        } catch { throw .violation(error) }
        if let plan = spec.plan {
            if let why = PlanValidator.problem(in: plan) ?? PlanValidator.tokenProblem(in: plan, budget: spec.budget) { throw .invalid(why) }
        } else {
            try validate(spec.root, path: "root", maxTasks: spec.budget.maxTasks, maxDepth: spec.budget.maxDepth)
        }
        if spec.budget.needsWorstCase { try validateTokens(spec.root, path: "root", max: spec.budget.maxTokens ?? .max) }
        let id = "g\(nextGoal)"
        let event = JournalEvent.goalSubmitted(goal: id, spec: spec, at: now)
        apply(event)
        return (id, event)
    }

    /// Under a token budget every model call needs a known worst case, and each must fit the budget alone.
    private func validateTokens(_ t: TaskSpec, path: String, max: Int) throws(SubmitError) {
        for (i, c) in (t.children ?? []).enumerated() { try validateTokens(c, path: "\(path).children[\(i)]", max: max) }
        guard !t.isFork else { return }
        guard let worst = TaskSpec.worstCaseTokens(kind: t.kind, input: t.input) else {
            throw .invalid("\(path) is a model task without input.max_tokens; a token or cost budget needs its worst case")
        }
        if worst > max {
            throw .invalid("\(path) can use up to \(worst) tokens (prompt bytes + 64 + max_tokens); budget.max_tokens is \(max)")
        }
    }

    /// A task tree's numbers, strings, size and depth (`SpecCheck.tree`), then its structure; without recursion,
    /// since a drone's fork is as untrusted as a submission.
    private func validate(_ root: TaskSpec, path: String, maxTasks: Int = SpecLimits.budgetMaxTasks.upperBound,
                          maxDepth: Int = SpecLimits.budgetMaxDepth.upperBound) throws(SubmitError) {
        try SpecCheck.tree(root, path: path, maxTasks: maxTasks, maxDepth: maxDepth)
        var stack = [(root, path)]
        while let (t, path) = stack.popLast() {
            if t.isFork {
                guard let children = t.children, !children.isEmpty else { throw .invalid("\(path) is a fork without children") }
                if case .quorum(let k) = t.join ?? .all, k > children.count {
                    throw .invalid("\(path) needs a quorum of \(k) but has \(children.count) children")
                }
                for (i, c) in children.enumerated().reversed() { stack.append((c, "\(path).children[\(i)]")) }
            } else {
                if t.kind.isEmpty { throw .invalid("\(path) has no kind") }
                if t.isStructural { throw .invalid("\(path) has kind '\(t.kind)', which only plans create (submit a plan with steps)") }
                if t.children != nil { throw .invalid("\(path) has children but kind '\(t.kind)' (use kind \"fork\")") }
                if !TaskSpec.workKinds.contains(t.kind) { throw .unknownKind(path: path, kind: t.kind) }
                if let text = t.input?.jsonSchema, case .failure(let why) = JSONSchemaCheck.parse(text) {
                    throw .invalid("\(path).input.\(why)")
                }
            }
        }
    }

    /// A drone's result. On acceptance returns the events applied.
    public func receive(_ r: TaskResult, now: Int64) -> Result<[JournalEvent], ResultRejection> {
        guard let t = tasks[r.task] else { return .failure(.unknownTask) }
        guard t.state == .leased || t.state == .running else { return .failure(.notLeased(t.state)) }
        guard r.attempt == t.attempts else { return .failure(.staleAttempt(expected: t.attempts, got: r.attempt)) }
        guard let lease = t.lease, lease.token == r.token else { return .failure(.staleToken) }
        guard lease.drone == r.drone else { return .failure(.wrongDrone(holder: lease.drone)) }
        touch(r.drone, now: now)
        // Drones are untrusted: their numbers are clamped before any arithmetic (negative usage would refund a
        // budget; a huge one would overflow inside apply).
        let bound = { (x: Int) in min(max(x, 0), 1 << 40) }
        let usage = r.usage.map {
            Usage(model: $0.model, promptTokens: bound($0.promptTokens), generatedTokens: bound($0.generatedTokens),
                  promptMillis: $0.promptMillis.isFinite ? max(0, $0.promptMillis) : 0,
                  generationMillis: $0.generationMillis.isFinite ? max(0, $0.generationMillis) : 0)
        }
        var events: [JournalEvent] = []
        switch r.outcome {
        case .released:
            if r.error == TaskResult.noFreeSlot { drones[r.drone]?.saturated = true }
            events.append(.taskExpired(task: t.id, attempt: t.attempts, reason: "released by drone", countsAttempt: false, at: now))
        case .succeeded where r.fork != nil && tasks[t.parent ?? ""]?.kind == TaskSpec.stepKind:
            return .failure(.invalidFork("a plan's calls answer with output; forking is for task trees"))
        case .succeeded where r.fork != nil:
            let children = r.fork!
            let join = r.join ?? .all
            do {
                try validate(.fork(children, join: join), path: t.id)
                if let b = goals[t.goal]?.budget, b.needsWorstCase { try validateTokens(.fork(children), path: t.id, max: b.maxTokens ?? .max) }
            } catch {
                return .failure(.invalidFork(error.description))
            }
            // A drone's fork is a proposal (its output is data): refused, as a failed attempt with the reason, when it
            // would pass the goal's budget or asks for work the proposing drone could not run itself. One drone's
            // proposal can neither end the goal nor put commands on drones that allow them.
            let goal = goals[t.goal]!
            let depth = t.depth + TaskSpec.fork(children).size.depth - 1
            let added = children.reduce(0) { $0 + $1.size.nodes }
            var refusal: String?
            if goal.taskCount + added > goal.budget.maxTasks {
                refusal = "it would make \(goal.taskCount + added) tasks, over budget.max_tasks \(goal.budget.maxTasks)"
            } else if depth > goal.budget.maxDepth {
                refusal = "it would reach depth \(depth), over budget.max_depth \(goal.budget.maxDepth)"
            } else if let why = forkBeyondProposer(children, drone: r.drone) {
                refusal = why
            }
            if let refusal {
                events.append(.taskFinished(task: t.id, attempt: t.attempts, succeeded: false,
                                            output: TaskOutput(drone: r.drone, error: "fork refused: \(refusal)",
                                                               tier: drones[r.drone]?.tier),
                                            at: now))
            } else {
                events.append(.taskForked(task: t.id, children: children, join: join, at: now))
            }
        case .succeeded, .failed:
            var output = TaskOutput(drone: r.drone, exitCode: r.exitCode, output: r.output, error: r.error,
                                    wallMillis: r.wallMillis.map { min(max($0, 0), 1 << 40) }, usage: usage,
                                    permanent: r.outcome == .failed && r.permanent == true ? true : nil,
                                    tier: drones[r.drone]?.tier,
                                    cost: usage.flatMap { u in price(of: r.drone)?.cost(promptTokens: u.promptTokens, generatedTokens: u.generatedTokens) })
            output.fuel = r.fuel.map { min(max($0, 0), 1 << 62) }
            var succeeded = r.outcome == .succeeded
            // An answer that breaks the JSON its task asked for is a failed attempt (retried like any other); a
            // plan's calls are judged by their step instead (a bad candidate re-forks the round).
            if succeeded, tasks[t.parent ?? ""]?.kind != TaskSpec.stepKind, let why = JSONSchemaCheck.answerProblem(t.input, output: r.output) {
                succeeded = false
                output.error = why
            }
            events.append(.taskFinished(task: t.id, attempt: t.attempts, succeeded: succeeded, output: output, at: now))
        }
        for e in events { apply(e) }
        return .success(events)
    }

    /// Why a drone may not propose `children`: the first work task in them it could not run itself (its backend,
    /// or for exec its command), or nil. Walks the tree without recursion (its depth is already bounded).
    func forkBeyondProposer(_ children: [TaskSpec], drone: DroneID) -> String? {
        guard let d = drones[drone] else { return "the proposing drone \(drone) is not registered" }
        var stack = children[...].reversed().map { $0 }
        while let c = stack.popLast() {
            if c.isFork { stack.append(contentsOf: (c.children ?? []).reversed()); continue }
            guard d.capabilities.contains("backend:\(c.kind)") else {
                return "it proposes a '\(c.kind)' task, which the proposing drone \(d.name) has no backend for"
            }
            if c.kind == "exec", let command = c.input?.command, !d.capabilities.contains("exec:\(command)") {
                return "it proposes running \(command), which the proposing drone \(d.name) is not allowed to run"
            }
        }
        return nil
    }

    /// Leases pending tasks to drones with free slots. Returns each lease's event and the assignment to send.
    /// A task that needs approval is parked instead: its `taskAwaitingApproval` event goes to `outbox.events`.
    public func schedule(now: Int64, token: () -> String) -> [(event: JournalEvent, assignment: Assignment, drone: DroneID)] {
        var free = drones.values.reduce(0) { $0 + $1.freeSlots }
        guard free > 0, !queue.isEmpty else { return [] }
        var out: [(JournalEvent, Assignment, DroneID)] = []
        var skipped: [PendingQueue.Entry] = []
        while free > 0, skipped.count < 256, let e = queue.pop() {
            guard let t = tasks[e.task], t.state == .pending, t.seq == e.seq else { continue }
            // Goals without token, cost or core-call limits skip the budget checks (and the goal-record reads).
            let budget = budgetedGoals.contains(t.goal) ? goals[t.goal]?.budget : nil
            if budget != nil, budgetRefusal(t) != nil {
                // It waits for running calls to settle; the tick fails the goal if none are left to.
                if budgetStarved[t.goal] == nil { budgetStarved[t.goal] = t.id }
                skipped.append(e)
                continue
            }
            let limited = budget?.maxTokensByTier != nil || budget?.maxCost != nil
            let excludingCore = budget?.maxCoreCalls != nil && coreBudgetSpent(t.goal)
            let picked = limited ? pickBudgetedDrone(for: t, excludingCore: excludingCore)
                                 : pickDrone(for: t, excludingCore: excludingCore)
            // Side effects wait for an operator (declared ones even before a drone is free; the slot stays free).
            if t.approvedBy == nil, let why = approvalNeeded(t, on: picked) {
                let event = awaitingEvent(t, drone: picked, why: why, now: now)
                apply(event)
                outbox.events.append(event)
                continue
            }
            guard let drone = picked else {
                skipped.append(e)
                continue
            }
            let attempt = t.attempts + 1
            let tok = token()
            let tier = drones[drone]?.tier
            // The tier is journaled when a budget counts it (the registry is not journaled; replay must agree).
            let event = JournalEvent.taskLeased(task: t.id, attempt: attempt, drone: drone, token: tok,
                                                deadline: now + Int64(t.timeoutMillis + config.leaseGraceMillis), at: now,
                                                tier: tier == .core || budget?.maxTokensByTier != nil ? tier : nil,
                                                cost: budget?.maxCost != nil ? drones[drone].flatMap { worstCost(t, on: $0) } : nil)
            apply(event)
            // The drone's model decides which rendering of a model call it gets (a plan renders both at fork time).
            let input = t.input?.completion == nil ? t.input : t.input?.choosing(drones[drone]?.promptFormat ?? .chat)
            out.append((event, Assignment(task: t.id, goal: t.goal, attempt: attempt, token: tok, kind: t.kind,
                                          input: input, index: t.index, timeoutMillis: t.timeoutMillis), drone))
            free -= 1
        }
        for e in skipped { queue.push(e) }
        return out
    }

    /// Why the goal's budgets cannot admit `t` now, or nil. Reserve-before-call: a model call's worst case must
    /// fit beside the tokens spent and those reserved by running calls; a core-only task needs a core call left
    /// once those made and in flight are counted. A refused task waits; see `starvedReason` for when it never can.
    func budgetRefusal(_ t: TaskRecord) -> String? {
        guard let g = goals[t.goal] else { return nil }
        if let max = g.budget.maxTokens {
            guard let worst = TaskSpec.worstCaseTokens(kind: t.kind, input: t.input) else {
                return "budget: model task \(t.id) has no input.max_tokens, so it cannot be admitted under budget.max_tokens"
            }
            if g.tokensSpent + g.tokensReserved + worst > max {
                return "budget exhausted: tokens (spent \(g.tokensSpent), the next call needs up to \(worst), budget.max_tokens \(max))"
            }
        }
        if t.tier?.tier == .core, coreBudgetSpent(t.goal) {
            return "budget exhausted: core-tier calls (\(g.coreCalls) made, budget.max_core_calls \(g.budget.maxCoreCalls ?? 0)); task \(t.id) needs the core tier"
        }
        let coreSpent = coreBudgetSpent(t.goal)
        let perDrone = g.budget.maxTokensByTier != nil || g.budget.maxCost != nil
        guard (coreSpent && t.tier?.tier != .core) || perDrone else { return nil }
        // The drones that could run it at all; the limits below refuse only when all of them are ruled out.
        let needs = DroneRequirements(t)
        let able = drones.values.filter { $0.state == .active && needs.met(by: $0) }
        if coreSpent && t.tier?.tier != .core && !able.isEmpty && able.allSatisfy({ $0.tier == .core }) {
            return "budget exhausted: core-tier calls (\(g.coreCalls) made, budget.max_core_calls \(g.budget.maxCoreCalls ?? 0)); only core drones can run task \(t.id)"
        }
        if perDrone {
            if !able.isEmpty && !able.contains(where: { fits(t, on: $0, excludingCore: coreSpent) }) {
                return "budget exhausted: no drone can take task \(t.id) within budget.max_tokens_by_tier or budget.max_cost " +
                    "(tokens by tier \(g.tierTokensSpent.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")); " +
                    "cost spent \(g.costSpent))"
            }
        }
        return nil
    }

    /// Whether a call of `t` on `d` fits the goal's per-tier token and cost budgets (worst case, beside what is
    /// spent and reserved) and its core-call budget.
    func fits(_ t: TaskRecord, on d: DroneRecord, excludingCore: Bool) -> Bool {
        if excludingCore && d.tier == .core { return false }
        guard let g = goals[t.goal] else { return false }
        if let m = g.budget.maxTokensByTier?[d.tier.rawValue] {
            guard let worst = TaskSpec.worstCaseTokens(kind: t.kind, input: t.input) else { return false }
            if g.tierTokensSpent[d.tier.rawValue, default: 0] + g.tierTokensReserved[d.tier.rawValue, default: 0] + worst > m { return false }
        }
        if let m = g.budget.maxCost, let c = worstCost(t, on: d), g.costSpent + g.costReserved + c > m + 1e-12 { return false }
        return true
    }

    /// Under per-tier or cost budgets: a drone whose worst case fits, and under a cost budget the cheapest such
    /// (work any tier may run goes where it costs least; the plan's tier requirement is where quality is asked for).
    func pickBudgetedDrone(for t: TaskRecord, excludingCore: Bool) -> DroneID? {
        guard goals[t.goal]?.budget.maxCost != nil else {
            return pickDrone(for: t) { self.fits(t, on: $0, excludingCore: excludingCore) }
        }
        let needs = DroneRequirements(t)
        let open = drones.values.filter { $0.freeSlots > 0 && needs.met(by: $0) && fits(t, on: $0, excludingCore: excludingCore) }
        guard let cheapest = open.map({ worstCost(t, on: $0) ?? 0 }).min() else { return nil }
        return pickDrone(for: t) { d in
            (self.worstCost(t, on: d) ?? 0) <= cheapest + 1e-15 && self.fits(t, on: d, excludingCore: excludingCore)
        }
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
    private func starvedReason(_ g: GoalID, task: TaskID) -> String? {
        guard let t = tasks[task], t.state == .pending else { return nil }
        if tasks(of: g).contains(where: { $0.lease != nil }) { return nil }
        return budgetRefusal(t)
    }

    /// Whether the goal's core-call budget is used up (made + in flight).
    func coreBudgetSpent(_ g: GoalID) -> Bool {
        guard let goal = goals[g], let max = goal.budget.maxCoreCalls else { return false }
        return goal.coreCalls + goal.coreReserved >= max
    }

    /// The drone for `t`: active, a free slot, the tier, the backend (and for exec, the command), and every
    /// required capability; among those, in order: one that has not run it before and that it is not asked to
    /// avoid, then one already running a sibling model call with the same prompt (`samePromptSiblingDrones`),
    /// then the one with the most free slots (spreads load), then the least busy, then the lowest id.
    /// A task that avoids drones (a critic, its candidate's author) waits rather than run on one while another
    /// drone that could run it is up.
    func pickDrone(for t: TaskRecord, excludingCore: Bool = false) -> DroneID? {
        pickDrone(for: t) { !(excludingCore && $0.tier == .core) }
    }

    func pickDrone(for t: TaskRecord, where allowed: (DroneRecord) -> Bool) -> DroneID? {
        var best: DroneRecord?
        var bestKey = (0, 0, 0, 0)
        let needs = DroneRequirements(t)
        let sharing = samePromptSiblingDrones(of: t)
        for d in drones.values where d.freeSlots > 0 && allowed(d) && needs.met(by: d) {
            let fresh = !t.tried.contains(d.id) && !(t.avoid?.contains(d.id) ?? false)
            let key = (fresh ? 1 : 0, sharing.contains(d.id) ? 1 : 0, d.freeSlots, -d.running.count)
            if best == nil || key > bestKey || (key == bestKey && d.id < best!.id) {
                best = d
                bestKey = key
            }
        }
        if let b = best, let avoid = t.avoid, avoid.contains(b.id),
           drones.values.contains(where: { $0.state == .active && !avoid.contains($0.id) && allowed($0) && needs.met(by: $0) }) {
            return nil
        }
        return best?.id
    }

    /// How far either side of a model call `samePromptSiblingDrones` looks among its parent's children: a step's
    /// candidates of one round are added together, so they are neighbours; the bound keeps a pick O(1) under a
    /// fork of thousands.
    static let siblingWindow = 64

    /// Drones running (or just leased) a sibling of model call `t` (same parent, nearby) with the same prompt:
    /// placed there too, the drone's engine evaluates the prompt once for all of them (prefix sharing).
    func samePromptSiblingDrones(of t: TaskRecord) -> Set<DroneID> {
        guard t.kind == "model", let input = t.input, input.prompt != nil || input.completion != nil,
              let parent = t.parent, let children = tasks[parent]?.children, !children.isEmpty else { return [] }
        let center = min(max(0, t.index), children.count - 1)
        let low = max(0, center - Self.siblingWindow), high = min(children.count, center + Self.siblingWindow + 1)
        var out: Set<DroneID> = []
        for id in children[low..<high] where id != t.id {
            guard let s = tasks[id], s.kind == "model", let drone = s.lease?.drone, let other = s.input else { continue }
            if other.prompt == input.prompt && other.system == input.system && other.completion == input.completion
                && other.chat == input.chat {
                out.insert(drone)
            }
        }
        return out
    }

    /// Forgets drones that left or were lost longest ago, keeping the latest `keeping` of them (shown in
    /// `hive drones`). Their completed and failed counts go with them; a drone that comes back starts afresh.
    func pruneGoneDrones(keeping: Int) {
        let gone = drones.values.filter { !$0.state.isPresent }
        guard gone.count > keeping else { return }
        for d in gone.sorted(by: { $0.lastSeen < $1.lastSeen }).prefix(gone.count - keeping) { drones[d.id] = nil }
    }

    /// Time-based decisions: lost drones, expired leases, goal deadlines.
    public func tick(now: Int64) -> [JournalEvent] {
        var events: [JournalEvent] = []
        for (id, d) in drones where d.state.isPresent && now &- d.lastSeen > Int64(config.lostAfterMillis) {
            // Quiet after saying goodbye is leaving; quiet without a word is being lost.
            let left = d.state == .draining
            drones[id]!.state = left ? .left : .lost
            for task in d.running.sorted() {
                guard let t = tasks[task], t.lease?.drone == id else { continue }
                events.append(.taskExpired(task: task, attempt: t.attempts,
                                           reason: left ? "drone \(d.name) left without returning it" : "drone \(d.name) lost (no heartbeat)",
                                           countsAttempt: !left, at: now))
            }
        }
        for d in drones.values where d.state.isPresent {  // a gone drone's tasks were all expired above
            for task in d.running.sorted() {
                guard let t = tasks[task], let lease = t.lease, lease.deadline < now else { continue }
                events.append(.taskExpired(task: task, attempt: t.attempts, reason: "lease expired after \(t.timeoutMillis) ms",
                                           countsAttempt: true, at: now))
            }
        }
        for g in runningGoals.sorted() {
            if let deadline = goals[g]?.deadline, deadline < now {
                events.append(.goalFailed(goal: g, reason: "deadline exceeded (budget.deadline_ms)", at: now))
            } else if let task = budgetStarved[g], let reason = starvedReason(g, task: task) {
                events.append(.goalFailed(goal: g, reason: reason, at: now))
            }
        }
        budgetStarved.removeAll()
        for e in events { apply(e) }
        let denied = approvalTimeouts(now: now)
        for e in denied { apply(e) }
        return events + denied
    }

    /// After a restart: every lease from before is void; those tasks go back to pending without using an attempt.
    public func voidLeases(now: Int64) -> [JournalEvent] {
        let events = tasks.values.filter { $0.state == .leased || $0.state == .running }.sorted { $0.id < $1.id }.map {
            JournalEvent.taskExpired(task: $0.id, attempt: $0.attempts, reason: "honeycombd restarted", countsAttempt: false, at: now)
        }
        for e in events { apply(e) }
        return events
    }

    public func cancel(goal: GoalID, now: Int64) -> JournalEvent? {
        guard let g = goals[goal], g.state == .running else { return nil }
        let e = JournalEvent.goalCancelled(goal: goal, reason: "cancelled by request", at: now)
        apply(e)
        return e
    }

    // MARK: Registry (not journaled)

    /// A drone announces itself (first, or again after honeycombd restarted or marked it lost). Returns the reply,
    /// and the events to journal: when the hello comes from a new process under a known id (the drone restarted),
    /// the work its earlier process held is gone and goes back to pending.
    public func hello(_ h: DroneHello, now: Int64) -> (HelloReply, [JournalEvent]) {
        func refused(_ why: String) -> (HelloReply, [JournalEvent]) {
            (HelloReply(accepted: false, reason: why, heartbeatMillis: config.heartbeatMillis), [])
        }
        guard h.slots > 0 && h.slots <= 4096 else { return refused("slots must be between 1 and 4096") }
        // What a drone says of itself is kept while it is registered: bounded like everything from the network.
        if let why = DroneHello.problem(h) { return refused(why) }
        if drones[h.drone] == nil && drones.count >= config.maxDrones {
            pruneGoneDrones(keeping: 0)
            if drones.count >= config.maxDrones {
                return refused("honeycombd's registry holds \(drones.count) drones (max_drones \(config.maxDrones))")
            }
        }
        var d = DroneRecord(id: h.drone, name: h.name, tier: h.tier, slots: h.slots, capabilities: Set(h.capabilities),
                            host: h.host, lastSeen: now)
        d.model = h.models?.first?.name ?? h.capabilities.first { $0.hasPrefix("model:") }.map { String($0.dropFirst(6)) }
        d.promptFormat = h.models?.first?.promptFormat ?? .chat
        d.instance = h.instance
        var events: [JournalEvent] = []
        if let old = drones[h.drone] {
            d.completed = old.completed
            d.failed = old.failed
            let held = old.running.filter { tasks[$0]?.lease?.drone == h.drone }
            if old.instance != nil && old.instance != h.instance {
                for task in held.sorted() {
                    guard let t = tasks[task] else { continue }
                    events.append(.taskExpired(task: task, attempt: t.attempts, reason: "drone \(old.name) restarted",
                                               countsAttempt: true, at: now))
                }
            } else {
                // The same process announcing itself again keeps the tasks it still holds leases for.
                d.running = held
            }
        }
        drones[h.drone] = d
        for e in events { apply(e) }
        return (HelloReply(accepted: true, heartbeatMillis: config.heartbeatMillis), events)
    }

    /// Records a heartbeat; false when the drone is unknown or was marked lost (it must announce itself again).
    ///
    /// The heartbeat's running set is the truth about the drone's slots: work it runs that is not leased to it
    /// here occupies slots all the same (`occupied`), and is cancelled on the drone, since its result would be
    /// refused (its lease is void). A drone that refused an assignment for lack of a slot (`saturated`) gets
    /// leases again from here on.
    public func heartbeat(_ hb: Heartbeat, now: Int64) -> Bool {
        guard var d = drones[hb.drone], d.state.isPresent else { return false }
        d.lastSeen = now
        var occupied = 0
        // A drone runs at most its slots; a longer list is not believed (nor turned into a flood of cancels).
        for task in hb.running.prefix(d.slots) {
            guard let t = tasks[task] else {
                occupied += 1
                outbox.cancellations.append((hb.drone, task))
                continue
            }
            if t.lease?.drone == hb.drone {
                if t.state == .leased { tasks[task]!.state = .running }
            } else {
                // Not leased to it here: the slot is busy all the same (a timed-out run still stopping, a lease voided
                // by a restart, or a heartbeat that left just before its result; the next heartbeat corrects that).
                occupied += 1
                // Work whose lease is void is stopped: the drone would work for nothing.
                if !t.state.isFinal { outbox.cancellations.append((hb.drone, task)) }
            }
        }
        d.occupied = occupied
        d.saturated = false
        drones[hb.drone] = d
        return true
    }

    /// The drone's credential was revoked: it is gone at once, and the work it held goes back to pending (without
    /// using an attempt: the task did nothing wrong) so that nothing waits for a result that would be refused.
    public func revoke(drone: DroneID, now: Int64) -> [JournalEvent] {
        guard var d = drones[drone] else { return [] }
        d.state = .lost
        drones[drone] = d
        let events = d.running.sorted().compactMap { task -> JournalEvent? in
            guard let t = tasks[task], t.lease?.drone == drone else { return nil }
            return .taskExpired(task: task, attempt: t.attempts, reason: "drone \(d.name)'s credential was revoked",
                                countsAttempt: false, at: now)
        }
        for e in events { apply(e) }
        return events
    }

    /// The drone is shutting down: no new leases; its running tasks finish or come back released.
    /// Returns whether a known, active drone began draining (a goodbye for anything else changes nothing).
    @discardableResult
    public func draining(_ drone: DroneID) -> Bool {
        guard drones[drone]?.state == .active else { return false }
        drones[drone]!.state = .draining
        return true
    }

    private func touch(_ drone: DroneID, now: Int64) {
        if drones[drone]?.state.isPresent == true { drones[drone]!.lastSeen = now }
    }

    // MARK: Apply

    /// Applies one event. The only mutator of goals and tasks.
    public func apply(_ event: JournalEvent) {
        switch event {
        case .goalSubmitted(let id, let spec, let at):
            var goal = GoalRecord(id: id, name: spec.name, priority: spec.priority, budget: spec.budget, root: "\(id).0",
                                  createdAt: at)
            if let d = spec.budget.deadlineMillis { goal.deadline = at + Int64(d) }
            goal.trace = spec.trace
            goals[id] = goal
            runningGoals.insert(id)
            if spec.budget.needsWorstCase || spec.budget.maxCoreCalls != nil { budgetedGoals.insert(id) }
            if let n = Int64(id.dropFirst()), n >= nextGoal { nextGoal = n + 1 }
            _ = addTask(spec.plan == nil ? spec.root : TaskSpec(name: "plan", kind: "plan"), goal: id, parent: nil, index: 0,
                        depth: 1, at: at)
            if let plan = spec.plan { startPlan(id, spec: plan, at: at) }

        case .taskLeased(let task, let attempt, let drone, let token, let deadline, _, let tier, let cost):
            guard var t = tasks[task], t.state == .pending else { return }
            t.state = .leased
            t.attempts = attempt
            t.lease = Lease(drone: drone, token: token, deadline: deadline, core: tier == .core ? true : nil, tier: tier, cost: cost)
            if tier == .core { goals[t.goal]?.coreReserved += 1 }
            let worst = TaskSpec.worstCaseTokens(kind: t.kind, input: t.input) ?? 0
            goals[t.goal]?.tokensReserved += worst
            if let tier { goals[t.goal]?.tierTokensReserved[tier.rawValue, default: 0] += worst }
            if let cost { goals[t.goal]?.costReserved += cost }
            if !t.tried.contains(drone) { t.tried.append(drone) }
            tasks[task] = t
            drones[drone]?.running.insert(task)

        case .taskFinished(let task, _, let succeeded, let output, let at):
            guard var t = tasks[task], t.state == .leased || t.state == .running else { return }
            let leasedTier = t.lease?.tier
            releaseLease(&t)
            if let u = output.usage {
                goals[t.goal]?.tokensSpent += u.promptTokens + u.generatedTokens
                if let tier = leasedTier { goals[t.goal]?.tierTokensSpent[tier.rawValue, default: 0] += u.promptTokens + u.generatedTokens }
            }
            if let c = output.cost { goals[t.goal]?.costSpent += c }
            t.result = output
            if succeeded {
                drones[output.drone]?.completed += 1
                t.state = .succeeded
                t.finishedAt = at
                tasks[task] = t
                settled(t)
            } else {
                drones[output.drone]?.failed += 1
                let why = output.error ?? output.exitCode.map { "exit code \($0)" } ?? "failed"
                // Retrying cannot help a permanent failure, nor a check that ran and said no (its exit status is
                // the verdict).
                if output.permanent == true || (t.role == .verify && output.exitCode != nil) { t.maxAttempts = t.attempts }
                noteFailedAttempt(&t, drone: output.drone, reason: why, at: at)
                retryOrDie(&t, reason: "failed after \(t.attempts) attempt(s): \(why)", at: at)
            }

        case .taskExpired(let task, _, let reason, let counts, let at):
            guard var t = tasks[task], t.state == .leased || t.state == .running else { return }
            noteFailedAttempt(&t, drone: nil, reason: reason, at: at)
            releaseLease(&t, charge: true)
            if !counts { t.attempts -= 1 }
            retryOrDie(&t, reason: "expired after \(t.attempts) attempt(s): \(reason)", at: at)

        case .taskForked(let task, let children, let join, let at):
            guard var t = tasks[task], t.state == .leased || t.state == .running else { return }
            let proposer = t.lease?.drone
            releaseLease(&t, charge: true)
            t.state = .waiting
            t.join = join
            if join == .vote { t.votes = [:] }
            tasks[task] = t
            for (i, c) in children.enumerated() {
                let child = addTask(c, goal: t.goal, parent: task, index: i, depth: t.depth + 1, at: at, proposedBy: proposer)
                tasks[task]!.children.append(child)
            }

        case .taskAwaitingApproval(let task, let request, _):
            guard var t = tasks[task], t.state == .pending else { return }
            t.state = .awaitingApproval
            t.approvalRequest = request
            tasks[task] = t
            awaiting.insert(task)

        case .taskApproved(let task, let by, _):
            guard var t = tasks[task], t.state == .awaitingApproval else { return }
            awaiting.remove(task)
            t.approvedBy = by
            t.state = .pending
            t.seq = nextSeq
            nextSeq += 1
            tasks[task] = t
            queue.push(.init(priority: goals[t.goal]?.priority ?? 0, seq: t.seq, task: task))

        case .taskDenied(let task, _, let reason, let at):
            guard var t = tasks[task], t.state == .awaitingApproval else { return }
            awaiting.remove(task)
            t.state = .dead
            t.reason = reason
            t.finishedAt = at
            tasks[task] = t
            settled(t)

        case .goalCancelled(let goal, let reason, let at):
            endGoal(goal, failed: false, reason: reason, at: at)
        case .goalFailed(let goal, let reason, let at):
            endGoal(goal, failed: true, reason: reason, at: at)
        }
    }

    /// Ends a running goal as failed or cancelled, cancelling whatever of it still runs.
    func endGoal(_ goal: GoalID, failed: Bool, reason: String, at: Int64) {
        guard var g = goals[goal], g.state == .running else { return }
        g.state = failed ? .failed : .cancelled
        g.reason = reason
        g.finishedAt = at
        goals[goal] = g
        runningGoals.remove(goal)
        budgetedGoals.remove(goal)
        cancelSubtree(g.root, reason: reason, at: at)
        outbox.finishedGoals.append(goal)
    }

    /// Creates a task (and, for a fork, its subtree). Work tasks are queued at once.
    /// `proposedBy`: the drone whose fork proposed it (else inherited from the parent); a fork's or step's
    /// `approval` covers its subtree.
    func addTask(_ spec: TaskSpec, goal: GoalID, parent: TaskID?, index: Int, depth: Int, at: Int64,
                 proposedBy: DroneID? = nil) -> TaskID {
        let n = goals[goal]!.taskCount
        goals[goal]!.taskCount += 1
        let id = "\(goal).\(n)"
        tasksByGoal[goal, default: []].append(id)
        let budget = goals[goal]!.budget
        var t = TaskRecord(id: id, goal: goal, parent: parent, index: index, depth: depth, kind: spec.kind, name: spec.name,
                           tier: spec.tier, requires: spec.requires ?? [], input: spec.input,
                           timeoutMillis: spec.timeoutMillis ?? config.defaultTimeoutMillis,
                           maxAttempts: spec.maxAttempts ?? budget.maxAttempts,
                           join: spec.isFork ? (spec.join ?? .all) : nil,
                           state: spec.isStructural ? .waiting : .pending, createdAt: at)
        if spec.join == .vote { t.votes = [:] }
        let above = parent.flatMap { tasks[$0] }
        t.approval = spec.approval ?? above?.approval
        t.proposedBy = proposedBy ?? above?.proposedBy
        if spec.isStructural && !spec.isFork {
            tasks[id] = t  // a plan or step node: the plan machinery adds its children
        } else if spec.isFork {
            tasks[id] = t
            for (i, c) in (spec.children ?? []).enumerated() {
                let child = addTask(c, goal: goal, parent: id, index: i, depth: depth + 1, at: at)
                tasks[id]!.children.append(child)
            }
        } else {
            t.seq = nextSeq
            nextSeq += 1
            tasks[id] = t
            queue.push(.init(priority: goals[goal]!.priority, seq: t.seq, task: id))
        }
        return id
    }

    /// Ends `t`'s lease and releases its token reservation. `charge`: the call ends without a usage report
    /// (cancelled, expired, lost, or answered with a fork), though the drone may have spent tokens on it, so its
    /// worst case is counted as spent: a budget errs towards stopping early, never towards overspending.
    private func releaseLease(_ t: inout TaskRecord, charge: Bool = false) {
        if let lease = t.lease {
            drones[lease.drone]?.running.remove(t.id)
            let worst = TaskSpec.worstCaseTokens(kind: t.kind, input: t.input) ?? 0
            goals[t.goal]?.tokensReserved -= worst
            if charge { goals[t.goal]?.tokensSpent += worst }
            if let tier = lease.tier {
                goals[t.goal]?.tierTokensReserved[tier.rawValue, default: 0] -= worst
                if charge { goals[t.goal]?.tierTokensSpent[tier.rawValue, default: 0] += worst }
            }
            if let cost = lease.cost {
                goals[t.goal]?.costReserved -= cost
                if charge { goals[t.goal]?.costSpent += cost }
            }
            if lease.core == true {
                goals[t.goal]?.coreReserved -= 1
                goals[t.goal]?.coreCalls += 1
            }
        }
        t.lease = nil
    }

    private func retryOrDie(_ t: inout TaskRecord, reason: String, at: Int64) {
        if t.attempts < t.maxAttempts && goals[t.goal]?.state == .running {
            t.state = .pending
            t.seq = nextSeq
            nextSeq += 1
            tasks[t.id] = t
            queue.push(.init(priority: goals[t.goal]!.priority, seq: t.seq, task: t.id))
        } else {
            t.state = .dead
            t.reason = reason
            t.finishedAt = at
            tasks[t.id] = t
            settled(t)
        }
    }

    /// A task reached a final state: decide its parent's join, or its goal.
    private func settled(_ t: TaskRecord) {
        if let p = t.parent, tasks[p]?.kind == TaskSpec.stepKind { return stepChildSettled(t) }
        guard let parentID = t.parent else {
            finishGoal(t.goal, succeeded: t.state == .succeeded, reason: t.reason, at: t.finishedAt ?? 0)
            return
        }
        guard var parent = tasks[parentID], parent.state == .waiting, let join = parent.join else { return }
        parent.childrenFinal += 1
        if t.state == .succeeded { parent.childrenSucceeded += 1 }
        let total = parent.children.count
        let ok = parent.childrenSucceeded
        let open = total - parent.childrenFinal
        let needed = join.needed(of: total)
        let at = t.finishedAt ?? 0
        if join == .vote {
            let answer = JoinPolicy.normalize(t.result?.output ?? "")
            if t.state == .succeeded && !answer.isEmpty { parent.votes![answer, default: 0] += 1 }
            // Decided once the leader cannot be caught: the open children all voting for the runner-up would
            // still leave it behind (ties go to the smaller answer, so a tie is only decided when nothing is open).
            let ranked = parent.votes!.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }
            let leader = ranked.first
            let runnerUp = ranked.dropFirst().first?.value ?? 0
            if let leader, leader.value > runnerUp + open || (open == 0 && leader.value > 0) {
                parent.state = .succeeded
                parent.result = TaskOutput(drone: "", output: firstRawAnswer(among: parent.children, matching: leader.key))
                parent.reason = "vote: \(leader.value) of \(total) for this answer"
            } else if open == 0 {
                parent.state = .dead
                parent.reason = "vote: no child produced an answer (\(total) failed)"
            } else {
                tasks[parentID] = parent
                return
            }
        } else if ok >= needed {
            parent.state = .succeeded
        } else if ok + open < needed {
            parent.state = .dead
            let failed = total - ok - open
            let first = t.state == .dead ? t.reason.map { "; first: \($0)" } ?? "" : ""
            parent.reason = "join \(join) cannot be met: \(failed) of \(total) children failed\(first)"
        } else {
            tasks[parentID] = parent
            return
        }
        parent.finishedAt = at
        tasks[parentID] = parent
        // Speculative work no longer needed (any/quorum decided, or a failed all): stop it.
        if open > 0 {
            for k in parent.children where tasks[k].map({ !$0.state.isFinal }) ?? false {
                cancelSubtree(k, reason: "join \(join) of \(parentID) already decided", at: at)
            }
        }
        settled(parent)
    }

    func finishGoal(_ id: GoalID, succeeded: Bool, reason: String?, at: Int64) {
        guard var g = goals[id], g.state == .running else { return }
        g.state = succeeded ? .succeeded : .failed
        g.reason = succeeded ? nil : reason
        g.finishedAt = at
        goals[id] = g
        runningGoals.remove(id)
        budgetedGoals.remove(id)
        outbox.finishedGoals.append(id)
    }

    /// The winning answer as its first voter (by child order) wrote it, trimmed: normalization is for counting,
    /// and lower-casing or joining lines would mangle a model's text.
    private func firstRawAnswer(among children: [TaskID], matching key: String) -> String {
        for c in children {
            guard let t = tasks[c], t.state == .succeeded, let out = t.result?.output,
                  JoinPolicy.normalize(out) == key else { continue }
            let blank: (Character) -> Bool = { $0.isWhitespace }
            return String(out.drop(while: blank).reversed().drop(while: blank).reversed())
        }
        return key
    }

    func cancelSubtree(_ id: TaskID, reason: String, at: Int64) {
        guard var t = tasks[id], !t.state.isFinal else { return }
        if let lease = t.lease { outbox.cancellations.append((lease.drone, id)) }
        releaseLease(&t, charge: true)
        t.state = .cancelled
        t.reason = reason
        t.finishedAt = at
        tasks[id] = t
        for c in t.children { cancelSubtree(c, reason: reason, at: at) }
    }

    // MARK: Snapshots

    /// The durable part of the state (goals, tasks, counters), for journal compaction.
    public struct Snapshot: Codable, Sendable {
        public var goals: [GoalRecord]
        public var tasks: [TaskRecord]
        public var nextGoal: Int64
        public var nextSeq: Int64
    }

    public func snapshot() -> Snapshot {
        Snapshot(goals: goals.values.sorted { $0.id < $1.id }, tasks: tasks.values.sorted { $0.id < $1.id },
                 nextGoal: nextGoal, nextSeq: nextSeq)
    }

    public func restore(_ s: Snapshot) {
        goals = Dictionary(uniqueKeysWithValues: s.goals.map { ($0.id, $0) })
        tasks = Dictionary(uniqueKeysWithValues: s.tasks.map { ($0.id, $0) })
        nextGoal = s.nextGoal
        nextSeq = s.nextSeq
        runningGoals = Set(s.goals.filter { $0.state == .running }.map(\.id))
        budgetedGoals = Set(s.goals.filter { $0.state == .running && ($0.budget.needsWorstCase || $0.budget.maxCoreCalls != nil) }.map(\.id))
        tasksByGoal = [:]
        for t in s.tasks.sorted(by: { ($0.goal, Int($0.id.split(separator: ".").last ?? "") ?? 0) < ($1.goal, Int($1.id.split(separator: ".").last ?? "") ?? 0) }) {
            tasksByGoal[t.goal, default: []].append(t.id)
        }
        awaiting = Set(s.tasks.filter { $0.state == .awaitingApproval }.map(\.id))
        queue = PendingQueue()
        for t in s.tasks where t.state == .pending {
            queue.push(.init(priority: goals[t.goal]?.priority ?? 0, seq: t.seq, task: t.id))
        }
    }
}
