/// Why a pending task is not running: what the live drones lack, its goal's budget, or only its turn.
///
/// Computed from the task's `DroneRequirements` against the registry by narrowing the active drones step by step
/// (tier, backend, command, capabilities); the first step that leaves none is the reason. Cheap enough to ask
/// for a goal's pending tasks at submission and on queries (`ControlState.blockers(for:)` answers each distinct
/// requirement once), never per scheduling pass.
public enum TaskBlocker: Sendable, Equatable, CustomStringConvertible {
    /// No drone is active (`gone`: drones that left, were lost or are draining).
    case noDrones(gone: Int)
    /// No active drone is of the tier the task asks for.
    case tier(TierRequirement, live: String)
    /// No active drone of the tier has the task's backend.
    case backend(kind: String, live: String)
    /// No active exec drone of the tier allows the command (`drone --allow-exec`).
    case command(String, live: String)
    /// No active drone of the tier with the backend advertises these required capabilities (models, …).
    case capability([String], live: String)
    /// No active agent drone of the tier offers these tools (`drone --allow-exec`, `--mcp`).
    case tools([String], live: String)
    /// Drones can run it, but its goal's budget does not admit it now (`ControlState.budgetRefusal`).
    case budget(String)
    /// Drones can run it; it waits for a free slot. Not a problem: backpressure.
    case busy

    /// Whether no live drone can run it at all: it waits for a drone to join (or change), not for its turn.
    public var isUnrunnable: Bool {
        switch self {
        case .budget, .busy: return false
        default: return true
        }
    }

    /// The reason's kind, for programs (`TaskWait.blocker`).
    public var kind: String {
        switch self {
        case .noDrones: return "no_drones"
        case .tier: return "tier"
        case .backend: return "backend"
        case .command: return "command"
        case .capability: return "capability"
        case .tools: return "tools"
        case .budget: return "budget"
        case .busy: return "busy"
        }
    }

    public var description: String {
        switch self {
        case .noDrones(let gone):
            return "no drone is active" + (gone > 0 ? " (\(gone) left, lost or draining)" : "") + "; start one with drone --tier …"
        case .tier(let t, let live): return "no active drone of tier \(t) (live: \(live))"
        case .backend(let kind, let live): return "no active drone has the \(kind) backend (of the tier: \(live))"
        case .command(let c, let live): return "no active drone allows \(c) (drone --allow-exec; exec drones: \(live))"
        case .capability(let caps, let live):
            return "no active drone advertises \(caps.joined(separator: ", ")) (of the tier with the backend: \(live))"
        case .tools(let names, let live):
            let list = names.joined(separator: ", ")
            return "no active drone offers the tool\(names.count == 1 ? "" : "s") \(list) (drone --allow-exec or --mcp; agent drones: \(live))"
        case .budget(let why): return why
        case .busy: return "waiting for a free slot on a drone that can run it"
        }
    }
}

extension ControlState {
    /// Drones a reason lists by name; the rest are counted.
    static let blockerDronesShown = 4

    /// Why pending `t` is not running now. See `TaskBlocker`.
    public func blocker(for t: TaskRecord) -> TaskBlocker {
        var memo: [DroneRequirements: TaskBlocker?] = [:]
        return blocker(for: t, memo: &memo)
    }

    /// Reasons a goal's waits list (`waits(of:)`); tasks waiting for others are counted in one last entry.
    public static let waitsListed = 16

    /// A goal's pending tasks grouped by reason, in task order: `unrunnableOnly` keeps the reasons no live drone
    /// can help (what a submission warns about). At most `waitsListed` reasons, then one entry (`blocker`
    /// "more") counting the tasks that wait for others, so a reply stays small and says what it left out.
    public func waits(of goal: GoalID, unrunnableOnly: Bool = false) -> [TaskWait] {
        let memo = BlockerMemo(self)
        var groups: [TaskWait] = []
        var index: [String: Int] = [:]
        var more: TaskWait?
        // By id, not `tasks(of:)`: a 20,000-task goal's submission asks this, and copying every record into an
        // array first was most of its cost.
        for id in tasksByGoal[goal] ?? [] {
            guard let t = tasks[id], let b = memo.blocker(for: t) else { continue }
            if unrunnableOnly && !b.isUnrunnable { continue }
            let key = "\(t.kind)|\(t.tier?.description ?? "")|\(b.description)"
            if let i = index[key] {
                groups[i].tasks += 1
            } else if groups.count < Self.waitsListed {
                index[key] = groups.count
                groups.append(TaskWait(task: t.id, kind: t.kind, tier: t.tier, blocker: b))
            } else if more == nil {
                more = TaskWait(task: t.id, kind: "*", tier: nil, blocker: "more",
                                reason: "waiting for reasons beyond the first \(Self.waitsListed) (hive tasks \(goal) shows each task's)")
            } else {
                more!.tasks += 1
            }
        }
        return groups + (more.map { [$0] } ?? [])
    }

    /// `memo`: drone-side answers by requirement (nil: some drone can run it), shared across the tasks of one query.
    func blocker(for t: TaskRecord, memo: inout [DroneRequirements: TaskBlocker?]) -> TaskBlocker {
        let needs = DroneRequirements(t)
        let lacking: TaskBlocker?
        if let known = memo[needs] {
            lacking = known
        } else {
            lacking = droneBlocker(needs, kind: t.kind)
            memo[needs] = lacking
        }
        if let lacking { return lacking }
        if budgetedGoals.contains(t.goal), let why = budgetRefusal(t) { return .budget(why) }
        return .busy
    }

    /// What the active drones lack for `needs`, or nil when one of them meets it.
    private func droneBlocker(_ needs: DroneRequirements, kind: String) -> TaskBlocker? {
        let live = drones.values.filter { $0.state == .active }.sorted { $0.id < $1.id }
        guard !live.isEmpty else { return .noDrones(gone: drones.count) }
        let ofTier = needs.tier.map { tier in live.filter { tier.admits($0.tier) } } ?? live
        if ofTier.isEmpty, let tier = needs.tier { return .tier(tier, live: Self.summary(live)) }
        let withBackend = ofTier.filter { $0.capabilities.contains(needs.backend) }
        if withBackend.isEmpty { return .backend(kind: kind, live: Self.summary(ofTier)) }
        let allowed = needs.command.map { c in withBackend.filter { $0.capabilities.contains(c) } } ?? withBackend
        if allowed.isEmpty, let c = needs.command {
            return .command(String(c.dropFirst(5)), live: Self.summary(withBackend) { d in
                let cmds = d.capabilities.filter { $0.hasPrefix("exec:") }.map { String($0.dropFirst(5)) }.sorted()
                return cmds.isEmpty ? "no commands" : "allows " + Self.shortList(cmds)
            })
        }
        if allowed.contains(where: { d in needs.requires.allSatisfy(d.capabilities.contains) }) { return nil }
        // The required capabilities none of them has, else (each is somewhere, never together) all of them.
        let missing = needs.requires.filter { c in !allowed.contains { $0.capabilities.contains(c) } }
        let tools = missing.filter { $0.hasPrefix("tool:") }
        if !tools.isEmpty {
            return .tools(tools.map { String($0.dropFirst(5)) }, live: Self.summary(allowed) { d in
                let offered = d.capabilities.filter { $0.hasPrefix("tool:") }.map { String($0.dropFirst(5)) }.sorted()
                return offered.isEmpty ? "no tools" : "offers " + Self.shortList(offered)
            })
        }
        return .capability(missing.isEmpty ? needs.requires : missing, live: Self.summary(allowed))
    }

    /// Drones as `worker d1 [exec, model:gemma-3-270m]`, at most `blockerDronesShown` of them, then a count.
    static func summary(_ drones: [DroneRecord], detail: ((DroneRecord) -> String)? = nil) -> String {
        let shown = drones.prefix(blockerDronesShown).map { d in
            "\(d.tier.rawValue) \(d.id) [\(detail?(d) ?? offers(d))]"
        }
        let more = drones.count > blockerDronesShown ? ", and \(drones.count - blockerDronesShown) more" : ""
        return shown.joined(separator: ", ") + more
    }

    /// What a drone offers, briefly: its backends, with the models it serves in place of `model`.
    static func offers(_ d: DroneRecord) -> String {
        let models = d.capabilities.filter { $0.hasPrefix("model:") }.sorted()
        var items: [String] = []
        for b in d.capabilities.filter({ $0.hasPrefix("backend:") }).map({ String($0.dropFirst(8)) }).sorted() {
            if b == "model" && !models.isEmpty { items += models } else { items.append(b) }
        }
        return items.isEmpty ? "no backends" : shortList(items)
    }

    /// At most four items, then a count.
    static func shortList(_ items: [String]) -> String {
        items.prefix(4).joined(separator: ", ") + (items.count > 4 ? " +\(items.count - 4)" : "")
    }
}

/// Answers `ControlState.blocker(for:)` for the tasks of one query (a page of views, a goal's waits), looking at
/// the registry once per distinct requirement. Use it within one turn of the state's owner: it holds the state.
public final class BlockerMemo {
    let state: ControlState
    var memo: [DroneRequirements: TaskBlocker?] = [:]

    public init(_ state: ControlState) { self.state = state }

    /// Why `t` waits, when it is pending.
    public func blocker(for t: TaskRecord) -> TaskBlocker? {
        t.state == .pending ? state.blocker(for: t, memo: &memo) : nil
    }

    /// `t`'s view with the reason it waits.
    public func view(_ t: TaskRecord) -> TaskView {
        var v = TaskView(t)
        v.waiting = blocker(for: t)?.description
        return v
    }
}
