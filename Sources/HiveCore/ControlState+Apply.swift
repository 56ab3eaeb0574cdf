/// Apply: the only mutator of goals and tasks. Every journaled event goes through `apply`, live or replayed, so
/// the journal rebuilds the same state; leases, retries, the end of goals and the creation of tasks live here.
extension ControlState {
    /// Applies one event (a replayed one: what it would have the service do is returned, and a replay drops it).
    @discardableResult
    public func apply(_ event: JournalEvent) -> ControlEffects {
        var fx = ControlEffects()
        apply(event, into: &fx)
        return fx
    }

    /// Applies one event, the only mutator of goals and tasks: records it in `fx.events`, and there what the
    /// service must carry out because of it.
    func apply(_ event: JournalEvent, into fx: inout ControlEffects) {
        fx.events.append(event)
        switch event {
        case .goalSubmitted(let id, let spec, let at):
            var goal = GoalRecord(id: id, name: spec.name, priority: spec.priority, budget: spec.budget, root: "\(id).0",
                                  createdAt: at)
            // Replayed events are input too (anyone who may publish on a JetStream journal's subjects can write
            // one with a valid checksum): their numbers may not trap.
            if let d = spec.budget.deadlineMillis { goal.deadline = Int64(Int(at).saturatingAdding(d)) }
            goal.trace = spec.trace
            goals[id] = goal
            runningGoals.insert(id)
            if spec.budget.needsWorstCase || spec.budget.maxCoreCalls != nil { budgetedGoals.insert(id) }
            if let n = Int64(id.dropFirst()), n >= nextGoal, n < Self.maxGoalNumber { nextGoal = n + 1 }
            addTask(spec.plan == nil ? spec.root : TaskSpec(name: "plan", kind: "plan"), goal: id, parent: nil, index: 0,
                        depth: 1, at: at)
            if let plan = spec.plan { startPlan(id, spec: plan, at: at, into: &fx) }

        case .taskLeased(let l):
            let (task, attempt, drone, token, deadline, tier, cost) = (l.task, l.attempt, l.drone, l.token, l.deadline, l.tier, l.cost)
            guard var t = tasks[task], t.state == .pending else { return }
            t.state = .leased
            t.attempts = attempt
            t.lease = Lease(drone: drone, token: token, deadline: deadline, core: tier == .core ? true : nil, tier: tier, cost: cost)
            if let pins = l.pins, !pins.isEmpty, var agent = t.input?.agent {
                agent.pins = (agent.pins ?? [:]).merging(pins) { kept, _ in kept }
                t.input?.agent = agent
            }
            goals[t.goal]?.budgetLedger.reserve(BudgetReservation(task: t, lease: t.lease))
            if !t.tried.contains(drone) { t.tried.append(drone) }
            tasks[task] = t
            drones[drone]?.running.insert(task)
            watchLease(task, deadline: deadline)

        case .taskFinished(let f):
            let (task, succeeded, output, at) = (f.task, f.succeeded, f.output, f.at)
            guard var t = tasks[task], t.state == .leased || t.state == .running else { return }
            endLease(&t, .settled(tokens: output.usage.map { $0.promptTokens.saturatingAdding($0.generatedTokens) }, cost: output.cost))
            t.result = output
            if succeeded {
                drones[output.drone]?.completed += 1
                t.state = .succeeded
                t.finishedAt = at
                tasks[task] = t
                settled(t, into: &fx)
            } else {
                drones[output.drone]?.failed += 1
                let why = output.error ?? output.exitCode.map { "exit code \($0)" } ?? "failed"
                // Retrying cannot help a permanent failure, nor a check that ran and said no (its exit status is
                // the verdict).
                if output.permanent == true || (t.role == .verify && output.exitCode != nil) { t.maxAttempts = t.attempts }
                noteFailedAttempt(&t, drone: output.drone, reason: why, at: at)
                retryOrDie(&t, reason: "failed after \(t.attempts) attempt(s): \(why)", at: at, into: &fx)
            }

        case .taskExpired(let x):
            let (task, reason, counts, at) = (x.task, x.reason, x.countsAttempt, x.at)
            guard var t = tasks[task], t.state == .leased || t.state == .running else { return }
            noteFailedAttempt(&t, drone: nil, reason: reason, at: at)
            endLease(&t, .charged)
            if !counts { t.attempts -= 1 }
            retryOrDie(&t, reason: "expired after \(t.attempts) attempt(s): \(reason)", at: at, into: &fx)

        case .taskForked(let task, let children, let join, let at):
            guard var t = tasks[task], t.state == .leased || t.state == .running else { return }
            let proposer = t.lease?.drone
            endLease(&t, .charged)
            t.state = .waiting
            t.join = join
            if join == .vote { t.votes = [:] }
            tasks[task] = t
            for (i, c) in children.enumerated() {
                guard let child = addTask(c, goal: t.goal, parent: task, index: i, depth: t.depth + 1, at: at, proposedBy: proposer) else { continue }
                tasks[task]?.children.append(child)
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
            settled(t, into: &fx)

        case .goalCancelled(let goal, let reason, let at):
            endGoal(goal, failed: false, reason: reason, at: at, into: &fx)
        case .goalFailed(let goal, let reason, let at):
            endGoal(goal, failed: true, reason: reason, at: at, into: &fx)
        }
    }

    /// Ends a running goal as failed or cancelled, cancelling whatever of it still runs.
    func endGoal(_ goal: GoalID, failed: Bool, reason: String, at: Int64, into fx: inout ControlEffects) {
        guard var g = goals[goal], g.state == .running else { return }
        g.state = failed ? .failed : .cancelled
        g.reason = reason
        g.finishedAt = at
        goals[goal] = g
        runningGoals.remove(goal)
        budgetedGoals.remove(goal)
        cancelSubtree(g.root, reason: reason, at: at, into: &fx)
        fx.finishedGoals.append(goal)
    }

    /// Creates a task (and, for a fork, its subtree). Work tasks are queued at once.
    /// `proposedBy`: the drone whose fork proposed it (else inherited from the parent); a fork's or step's
    /// `approval` covers its subtree. Nil when the goal is unknown (an event replayed against a state without it).
    @discardableResult
    func addTask(_ spec: TaskSpec, goal: GoalID, parent: TaskID?, index: Int, depth: Int, at: Int64,
                 proposedBy: DroneID? = nil) -> TaskID? {
        guard let g = goals[goal] else { return nil }
        let n = g.taskCount
        goals[goal]?.taskCount = n.saturatingAdding(1)
        let id = "\(goal).\(n)"
        tasksByGoal[goal, default: []].append(id)
        let budget = g.budget
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
                guard let child = addTask(c, goal: goal, parent: id, index: i, depth: depth + 1, at: at) else { continue }
                tasks[id]?.children.append(child)
            }
        } else {
            t.seq = nextSeq
            nextSeq += 1
            tasks[id] = t
            queue.push(.init(priority: g.priority, seq: t.seq, task: id))
        }
        return id
    }

    /// How a lease's end counts against its goal's budgets (`GoalBudgetLedger`).
    enum LeaseEnd {
        /// A result came: what it reported is spent (`settle`).
        case settled(tokens: Int?, cost: Double?)
        /// No usage report (cancelled, expired, lost, or answered with a fork), though the drone may have spent
        /// tokens on it: its worst case is spent (`charge`).
        case charged
    }

    /// Ends `t`'s lease: its drone's slot and its budget reservation are released, counted as `end` says.
    func endLease(_ t: inout TaskRecord, _ end: LeaseEnd) {
        if let lease = t.lease { drones[lease.drone]?.running.remove(t.id) }
        let held = BudgetReservation(task: t, lease: t.lease)
        switch end {
        case .settled(let tokens, let cost): goals[t.goal]?.budgetLedger.settle(held, tokens: tokens, cost: cost)
        case .charged: goals[t.goal]?.budgetLedger.charge(held)
        }
        t.lease = nil
    }

    func retryOrDie(_ t: inout TaskRecord, reason: String, at: Int64, into fx: inout ControlEffects) {
        if t.attempts < t.maxAttempts && goals[t.goal]?.state == .running {
            t.state = .pending
            t.seq = nextSeq
            nextSeq += 1
            tasks[t.id] = t
            queue.push(.init(priority: goals[t.goal]?.priority ?? 0, seq: t.seq, task: t.id))
        } else {
            t.state = .dead
            t.reason = reason
            t.finishedAt = at
            tasks[t.id] = t
            settled(t, into: &fx)
        }
    }

    func finishGoal(_ id: GoalID, succeeded: Bool, reason: String?, at: Int64, into fx: inout ControlEffects) {
        guard var g = goals[id], g.state == .running else { return }
        g.state = succeeded ? .succeeded : .failed
        g.reason = succeeded ? nil : reason
        g.finishedAt = at
        goals[id] = g
        runningGoals.remove(id)
        budgetedGoals.remove(id)
        fx.finishedGoals.append(id)
    }

    func cancelSubtree(_ id: TaskID, reason: String, at: Int64, into fx: inout ControlEffects) {
        guard var t = tasks[id], !t.state.isFinal else { return }
        if let lease = t.lease { fx.cancellations.append(.init(drone: lease.drone, task: id)) }
        endLease(&t, .charged)
        t.state = .cancelled
        t.reason = reason
        t.finishedAt = at
        tasks[id] = t
        for c in t.children { cancelSubtree(c, reason: reason, at: at, into: &fx) }
    }
}
