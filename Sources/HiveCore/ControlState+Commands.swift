/// Commands: what the service asks of the state machine (submit a goal, take a drone's result, cancel, the tick's
/// time-based decisions, voiding leases after a restart). Each decides from the current state, applies its
/// events through `apply` (`ControlState+Apply`) and returns what it did (`ControlEffects`): the events for the
/// journal, and what the service must carry out.
extension ControlState {
    /// Accepts a goal. Returns its id and what accepting it did (its `goalSubmitted` event, and the goal's end
    /// if a plan's first step is already over its budget).
    public func submit(_ spec: GoalSpec, now: Int64) throws(SubmitError) -> (GoalID, ControlEffects) {
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
        // Only a replayed goal or snapshot that is not honeycombd's own can have numbered this far.
        guard nextGoal < Self.maxGoalNumber else {
            throw .invalid("goal numbers are used up (next g\(nextGoal); the last is g\(Self.maxGoalNumber - 1)): the journal holds goals honeycombd did not number")
        }
        let id = "g\(nextGoal)"
        var fx = ControlEffects()
        apply(.goalSubmitted(goal: id, spec: pinningAgents(spec), at: now), into: &fx)
        return (id, fx)
    }

    /// Under a token budget every model call needs a known worst case, and each must fit the budget alone.
    func validateTokens(_ t: TaskSpec, path: String, max: Int) throws(SubmitError) {
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
    func validate(_ root: TaskSpec, path: String, maxTasks: Int = SpecLimits.budgetMaxTasks.upperBound,
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
                if let why = AgentSpec.problem(kind: t.kind, input: t.input) { throw .invalid("\(path).input.\(why)") }
                if let why = TaskInput.promptBlobProblem(kind: t.kind, input: t.input) { throw .invalid("\(path).input.\(why)") }
            }
        }
    }

    /// A drone's result. On acceptance returns what it did.
    public func receive(_ r: TaskResult, now: Int64) -> Result<ControlEffects, ResultRejection> {
        guard let t = tasks[r.task] else { return .failure(.unknownTask) }
        guard t.state == .leased || t.state == .running else { return .failure(.notLeased(t.state)) }
        guard r.attempt == t.attempts else { return .failure(.staleAttempt(expected: t.attempts, got: r.attempt)) }
        guard let lease = t.lease, lease.token == r.token else { return .failure(.staleToken) }
        guard lease.drone == r.drone else { return .failure(.wrongDrone(holder: lease.drone)) }
        touch(r.drone, now: now)
        var events: [JournalEvent] = []
        switch r.outcome {
        case .released:
            if r.error == TaskResult.noFreeSlot { drones[r.drone]?.saturated = true }
            events.append(.taskExpired(.init(task: t.id, attempt: t.attempts, reason: "released by drone", countsAttempt: false, at: now)))
        case .succeeded where r.fork != nil && tasks[t.parent ?? ""]?.kind == TaskSpec.stepKind:
            return .failure(.invalidFork("a plan's calls answer with output; forking is for task trees"))
        case .succeeded where r.fork != nil:
            let children = r.fork ?? []
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
            guard let goal = goals[t.goal] else { return .failure(.unknownTask) }
            let depth = t.depth + TaskSpec.fork(children).size.depth - 1
            let added = children.reduce(0) { $0 + $1.size.nodes }
            var refusal: String?
            if goal.taskCount.saturatingAdding(added) > goal.budget.maxTasks {
                refusal = "it would make \(goal.taskCount.saturatingAdding(added)) tasks, over budget.max_tasks \(goal.budget.maxTasks)"
            } else if depth > goal.budget.maxDepth {
                refusal = "it would reach depth \(depth), over budget.max_depth \(goal.budget.maxDepth)"
            } else if let why = forkBeyondProposer(children, drone: r.drone) {
                refusal = why
            }
            if let refusal {
                events.append(.taskFinished(.init(task: t.id, attempt: t.attempts, succeeded: false,
                                            output: TaskOutput(drone: r.drone, error: "fork refused: \(refusal)",
                                                               tier: drones[r.drone]?.tier),
                                            at: now)))
            } else {
                events.append(.taskForked(task: t.id, children: children, join: join, at: now))
            }
        case .succeeded, .failed:
            // Drones are untrusted: their numbers are clamped before any arithmetic (`TaskProduct.clamped`).
            var product = r.product.clamped()
            product.permanent = r.outcome == .failed && r.permanent == true ? true : nil
            var output = TaskOutput(drone: r.drone, product: product, tier: drones[r.drone]?.tier,
                                    cost: product.usage.flatMap { u in price(of: r.drone)?.cost(promptTokens: u.promptTokens, generatedTokens: u.generatedTokens) })
            var succeeded = r.outcome == .succeeded
            // An answer that breaks the JSON its task asked for is a failed attempt (retried like any other); a
            // plan's calls are judged by their step instead (a bad candidate re-forks the round).
            if succeeded, tasks[t.parent ?? ""]?.kind != TaskSpec.stepKind, let why = JSONSchemaCheck.answerProblem(t.input, output: r.output) {
                succeeded = false
                output.error = why
            }
            events.append(.taskFinished(.init(task: t.id, attempt: t.attempts, succeeded: succeeded, output: output, at: now)))
        }
        var fx = ControlEffects()
        for e in events { apply(e, into: &fx) }
        return .success(fx)
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

    /// Time-based decisions: lost drones, expired leases, goal deadlines. `judgeDrones` false leaves out the lost
    /// drones: the caller's own tick came late, and heartbeats received meanwhile may still wait behind it.
    public func tick(now: Int64, judgeDrones: Bool = true) -> ControlEffects {
        var events: [JournalEvent] = []
        for id in judgeDrones ? silentDrones(now: now) : [] {
            guard let d = drones[id] else { continue }
            // Quiet after saying goodbye is leaving; quiet without a word is being lost.
            let left = d.state == .draining
            drones[id]?.state = left ? .left : .lost
            for task in d.running.sorted() {
                guard let t = tasks[task], t.lease?.drone == id else { continue }
                events.append(.taskExpired(.init(task: task, attempt: t.attempts,
                                           reason: left ? "drone \(d.name) left without returning it" : "drone \(d.name) lost (no heartbeat)",
                                           countsAttempt: !left, at: now)))
            }
        }
        for task in expiredLeases(now: now) {  // a gone drone's tasks were all expired above
            guard let t = tasks[task] else { continue }
            events.append(.taskExpired(.init(task: task, attempt: t.attempts, reason: "lease expired after \(t.timeoutMillis) ms",
                                       countsAttempt: true, at: now)))
        }
        for g in runningGoals.sorted() {
            if let deadline = goals[g]?.deadline, deadline < now {
                events.append(.goalFailed(goal: g, reason: "deadline exceeded (budget.deadline_ms)", at: now))
            } else if let task = budgetStarved[g], let reason = starvedReason(g, task: task) {
                events.append(.goalFailed(goal: g, reason: reason, at: now))
            }
        }
        budgetStarved.removeAll()
        var fx = ControlEffects()
        for e in events { apply(e, into: &fx) }
        for e in approvalTimeouts(now: now) { apply(e, into: &fx) }
        return fx
    }

    /// After a restart: every lease from before is void; those tasks go back to pending without using an attempt.
    public func voidLeases(now: Int64) -> ControlEffects {
        let events = tasks.values.filter { $0.state == .leased || $0.state == .running }.sorted { $0.id < $1.id }.map {
            JournalEvent.taskExpired(.init(task: $0.id, attempt: $0.attempts, reason: "honeycombd restarted", countsAttempt: false, at: now))
        }
        var fx = ControlEffects()
        for e in events { apply(e, into: &fx) }
        return fx
    }

    /// Cancels a running goal at an operator's request; nil when it is unknown or already over.
    public func cancel(goal: GoalID, now: Int64) -> ControlEffects? {
        guard let g = goals[goal], g.state == .running else { return nil }
        var fx = ControlEffects()
        apply(.goalCancelled(goal: goal, reason: "cancelled by request", at: now), into: &fx)
        return fx
    }
}
