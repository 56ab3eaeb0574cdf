/// Scheduling: which pending task runs where. `schedule` pops the queue in priority order, asks the budgets
/// (`ControlState+Budgets`) and approvals (`Approval`) whether a task may run, picks a drone and journals the
/// lease.
extension ControlState {
    /// Leases pending tasks to drones with free slots. Returns each lease's event and the assignment to send.
    /// A task that needs approval is parked instead (its `taskAwaitingApproval` event, no assignment).
    public func schedule(now: Int64, token: () -> String) -> ControlEffects {
        var fx = ControlEffects()
        guard !queue.isEmpty else { return fx }
        // No more leases than entries queued: counting free slots stops there, so a hive of thousands of drones
        // is not walked whole on every result (a result frees one slot and usually leases one task).
        var free = freeSlots(upTo: queue.count)
        guard free > 0 else { return fx }
        var skipped: [PendingQueue.Entry] = []
        var rankings: [DroneRequirements: DroneRanking] = [:]
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
                                 : pickDrone(for: t, excludingCore: excludingCore, rankings: &rankings)
            // Side effects wait for an operator (declared ones even before a drone is free; the slot stays free).
            if t.approvedBy == nil, let why = approvalNeeded(t, on: picked) {
                apply(awaitingEvent(t, drone: picked, why: why, now: now), into: &fx)
                continue
            }
            guard let drone = picked else {
                skipped.append(e)
                continue
            }
            let attempt = t.attempts + 1
            let tok = token()
            let held = leaseReservation(t, on: drone, budget: budget)
            let event = JournalEvent.taskLeased(.init(task: t.id, attempt: attempt, drone: drone, token: tok,
                                                deadline: now + Int64(t.timeoutMillis + config.leaseGraceMillis), at: now,
                                                tier: held.tier, cost: held.cost, pins: unpinnedTools(t, on: drone)))
            apply(event, into: &fx)
            // The drone's model decides which rendering of a model call it gets (a plan renders both at fork time).
            let leased = tasks[t.id]?.input ?? t.input
            let input = leased?.completion == nil ? leased : leased?.choosing(drones[drone]?.promptFormat ?? .chat)
            fx.assignments.append((Assignment(task: t.id, goal: t.goal, attempt: attempt, token: tok, kind: t.kind,
                                              input: input, index: t.index, timeoutMillis: t.timeoutMillis), drone))
            free -= 1
        }
        for e in skipped { queue.push(e) }
        return fx
    }

    /// Free slots over all drones, counted until `limit` (the most `schedule` can use).
    public func freeSlots(upTo limit: Int) -> Int {
        var free = 0
        for d in drones.values {
            free += d.freeSlots
            if free >= limit { return limit }
        }
        return free
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

    /// The drone for `t`: active, a free slot, the tier, the backend (and for exec, the command), and every
    /// required capability; among those, in order: one that has not run it before and that it is not asked to
    /// avoid, then one already running a sibling model call with the same prompt (`samePromptSiblingDrones`),
    /// then the one with the most free slots (spreads load), then the least busy, then the lowest id.
    /// A task that avoids drones (a critic, its candidate's author) waits rather than run on one while another
    /// drone that could run it is up.
    func pickDrone(for t: TaskRecord, excludingCore: Bool = false) -> DroneID? {
        pickDrone(for: t) { !(excludingCore && $0.tier == .core) }
    }

    /// `pickDrone` within a scheduling pass: a task that only the plain order decides (first try, nothing to
    /// avoid, no core exclusion, no sibling prompt to share) is ranked by its requirements' `DroneRanking`, built
    /// once per pass; any other task walks the drones.
    func pickDrone(for t: TaskRecord, excludingCore: Bool, rankings: inout [DroneRequirements: DroneRanking]) -> DroneID? {
        let sharing = samePromptSiblingDrones(of: t)
        guard !excludingCore, t.tried.isEmpty, t.avoid?.isEmpty ?? true, sharing.isEmpty else {
            return pickDrone(for: t, sharing: sharing) { !(excludingCore && $0.tier == .core) }
        }
        let needs = DroneRequirements(t)
        if rankings[needs] == nil { rankings[needs] = DroneRanking(drones, meeting: needs) }
        return rankings[needs]?.best(in: drones)
    }

    /// `sharing`: the drones running a sibling with the same prompt, when the caller has them already.
    func pickDrone(for t: TaskRecord, sharing known: Set<DroneID>? = nil, where allowed: (DroneRecord) -> Bool) -> DroneID? {
        var best: DroneRecord?
        var bestKey = (0, 0, 0, 0)
        let needs = DroneRequirements(t)
        let sharing = known ?? samePromptSiblingDrones(of: t)
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
        guard t.kind == "model", let input = t.input, input.prompt != nil || input.promptBlob != nil || input.completion != nil,
              let parent = t.parent, let children = tasks[parent]?.children, !children.isEmpty else { return [] }
        let center = min(max(0, t.index), children.count - 1)
        let low = max(0, center - Self.siblingWindow), high = min(children.count, center + Self.siblingWindow + 1)
        var out: Set<DroneID> = []
        for id in children[low..<high] where id != t.id {
            guard let s = tasks[id], s.kind == "model", let drone = s.lease?.drone, let other = s.input else { continue }
            if other.prompt == input.prompt && other.promptBlob == input.promptBlob && other.system == input.system
                && other.completion == input.completion
                && other.chat == input.chat {
                out.insert(drone)
            }
        }
        return out
    }
}
