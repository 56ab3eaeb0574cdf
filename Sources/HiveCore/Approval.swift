/// Approvals for side effects: work that changes the world waits in `awaiting_approval` until an operator approves
/// or denies it, or the goal's `budget.approval_timeout_ms` denies it.
///
/// Side effects are declared, never guessed:
/// - a drone's operator marks exec commands side-effecting (`drone --side-effects /usr/bin/git`), and the drone
///   advertises `effect:exec:<path>`: such a task waits when the drone chosen for it declares its command;
/// - a plan step or a task-tree node says `"approval": "required"` (a fork's flag covers every task under it);
/// - work a drone proposed (the children of its result's fork) waits when either the chosen drone or the
///   proposing drone declares its command side-effecting, whatever the goal says.
///
/// Everything here is decided by `ControlState` commands and applied through journaled events
/// (`taskAwaitingApproval`, `taskApproved`, `taskDenied`), so a restart replays every waiting task and every
/// decision. An approved task is never asked again, also after retries.

/// A task's declared approval policy (`"approval": "required"`).
public enum ApprovalPolicy: String, Codable, Sendable, Equatable {
    case required
}

/// What a waiting task will run, where, who proposed it and why it needs approval (shown by `hive tasks`,
/// `hive watch`, the API and the dashboard).
public struct ApprovalRequest: Codable, Sendable, Equatable {
    /// What it will run: `exec /usr/bin/git push origin`, `model: <prompt summary>`, `wasm <module>`.
    public var runs: String
    /// The drone it would go to, when one was free; else `tier` says where it may go.
    public var drone: DroneID?
    public var tier: String?
    /// `submitter of gN` or `drone NAME` (a drone's fork proposed it).
    public var proposedBy: String
    /// Why it needs approval.
    public var why: String
    /// When it started waiting (epoch ms); the timeout counts from here.
    public var since: Int64

    public init(runs: String, drone: DroneID?, tier: String?, proposedBy: String, why: String, since: Int64) {
        self.runs = runs
        self.drone = drone
        self.tier = tier
        self.proposedBy = proposedBy
        self.why = why
        self.since = since
    }

    enum CodingKeys: String, CodingKey {
        case runs, drone, tier, why, since
        case proposedBy = "proposed_by"
    }
}

/// The body of `approve` and `deny` (bus `hive.v1.api.approve|deny`, HTTP `POST /api/goals/ID/approve|deny`):
/// the goal, the tasks (none: every task of the goal that awaits approval) and, to deny, the reason.
public struct ApprovalDecision: Codable, Sendable {
    public var goal: GoalID
    public var tasks: [TaskID]?
    public var reason: String?

    public init(goal: GoalID, tasks: [TaskID]? = nil, reason: String? = nil) {
        self.goal = goal
        self.tasks = tasks
        self.reason = reason
    }
}

/// The reply to `approve` and `deny`: the tasks decided.
public struct ApprovalReply: Codable, Sendable, Equatable {
    public var goal: GoalID
    public var tasks: [TaskID]
    public init(goal: GoalID, tasks: [TaskID]) {
        self.goal = goal
        self.tasks = tasks
    }
}

/// Why an approval or denial was refused.
public enum ApprovalError: Error, Equatable, Sendable, CustomStringConvertible {
    case unknownGoal(GoalID)
    case goalEnded(GoalID, GoalState)
    case unknownTask(TaskID, goal: GoalID)
    case notAwaiting(TaskID, TaskState)
    case nothingAwaiting(GoalID)
    case tooManyTasks(Int, limit: Int)
    case reasonTooLong(bytes: Int, limit: Int)

    public var description: String {
        switch self {
        case .unknownGoal(let g): return "unknown goal '\(g)'"
        case .goalEnded(let g, let s): return "goal \(g) is \(s.rawValue); nothing of it awaits approval"
        case .unknownTask(let t, let g): return "goal \(g) has no task '\(t)'"
        case .notAwaiting(let t, let s): return "task \(t) is \(s.rawValue), not awaiting_approval"
        case .nothingAwaiting(let g): return "goal \(g) has no task awaiting approval"
        case .tooManyTasks(let n, let l): return "the request names \(n) tasks; the limit is \(l)"
        case .reasonTooLong(let n, let l): return "the reason is \(n) bytes; the limit is \(l)"
        }
    }
}

public enum ApprovalLimits {
    /// `budget.approval_timeout_ms` (range `SpecLimits.approvalTimeoutMillis`): how long a task waits for a
    /// decision before it is denied.
    public static let defaultTimeoutMillis = 3_600_000
    /// Tasks one approve/deny request may name, and the bytes of a denial's reason.
    public static let tasksPerRequest = 10_000
    public static let reasonBytes = 4_096
    /// Bytes of a model prompt shown in `runs`.
    public static let promptSummaryBytes = 120
}

extension ControlState {
    /// The capability a drone advertises for a side-effecting exec command.
    public static func effectCapability(command: String) -> String { "effect:exec:\(command)" }

    /// Why `t` must wait for approval before it runs on `drone` (nil: no drone free yet), or nil when it may run.
    func approvalNeeded(_ t: TaskRecord, on drone: DroneID?) -> String? {
        guard t.approvedBy == nil else { return nil }
        if t.approval == .required {
            return "the goal marks it \"approval\": \"required\""
        }
        if t.kind == "agent" { return agentApprovalNeeded(t, on: drone) }
        guard t.kind == "exec", let command = t.input?.command else { return nil }
        let effect = Self.effectCapability(command: command)
        if let drone, let d = drones[drone], d.capabilities.contains(effect) {
            return "drone \(d.name) declares \(command) side-effecting (--side-effects)"
        }
        if let proposer = t.proposedBy, let p = drones[proposer], p.capabilities.contains(effect) {
            return "drone \(p.name) proposed it and declares \(command) side-effecting (--side-effects)"
        }
        return nil
    }

    /// An agent that may call a tool declared side-effecting (`effect:tool:<name>`: MCP annotations or the drone's
    /// `--side-effects`) on the drone picked for it, or, before one is free, on any live drone offering it.
    func agentApprovalNeeded(_ t: TaskRecord, on drone: DroneID?) -> String? {
        let tools = t.input?.agent?.tools ?? []
        guard !tools.isEmpty else { return nil }
        let candidates = drone.flatMap { drones[$0] }.map { [$0] }
            ?? drones.values.filter { $0.state == .active }.sorted { $0.id < $1.id }
        for d in candidates {
            let effects = tools.filter { d.capabilities.contains(ToolAdvert.effectCapability($0)) }
            if !effects.isEmpty {
                return "drone \(d.name) declares \(effects.joined(separator: ", ")) side-effecting, and the agent may call \(effects.count == 1 ? "it" : "them")"
            }
        }
        return nil
    }

    /// The event that parks `t` in `awaiting_approval`, with what it will run, where, and who proposed it.
    func awaitingEvent(_ t: TaskRecord, drone: DroneID?, why: String, now: Int64) -> JournalEvent {
        let proposer = t.proposedBy.map { "drone \(drones[$0]?.name ?? $0)" } ?? "submitter of \(t.goal)"
        let request = ApprovalRequest(runs: Self.describeRun(t), drone: drone, tier: t.tier.map { "\($0)" },
                                      proposedBy: proposer, why: why, since: now)
        return .taskAwaitingApproval(task: t.id, request: request, at: now)
    }

    /// One line saying what a task will run.
    static func describeRun(_ t: TaskRecord) -> String {
        let input = t.input
        switch t.kind {
        case "exec":
            return (["exec", input?.command ?? "?"] + (input?.args ?? [])).joined(separator: " ")
        case "model":
            let prompt = input?.prompt ?? input?.promptBlob.map { "[prompt blob \($0), \(input?.size ?? 0) bytes]" } ?? ""
            let cut = prompt.utf8.count > ApprovalLimits.promptSummaryBytes
            return "model: " + String(decoding: prompt.utf8.prefix(ApprovalLimits.promptSummaryBytes), as: UTF8.self) + (cut ? "…" : "")
        case "wasm":
            return "wasm \(input?.module ?? "?")"
        case "agent":
            let prompt = input?.prompt ?? input?.promptBlob.map { "[prompt blob \($0), \(input?.size ?? 0) bytes]" } ?? ""
            let cut = prompt.utf8.count > ApprovalLimits.promptSummaryBytes
            return "agent [\(input?.agent?.describeTools ?? "")]: "
                + String(decoding: prompt.utf8.prefix(ApprovalLimits.promptSummaryBytes), as: UTF8.self) + (cut ? "…" : "")
        default:
            return t.kind
        }
    }

    /// Approves tasks of `goal` waiting for approval (`tasks` empty: all of them); they go back to pending,
    /// marked approved by `by`. Returns what it did.
    public func approve(goal: GoalID, tasks named: [TaskID], by: String, now: Int64) -> Result<ControlEffects, ApprovalError> {
        decide(goal: goal, tasks: named) { .taskApproved(task: $0, by: by, at: now) }
    }

    /// Denies tasks of `goal` waiting for approval (`tasks` empty: all of them): each is dead with
    /// "denied by <by>: <reason>", and its join or goal decides as for any dead task.
    public func deny(goal: GoalID, tasks named: [TaskID], by: String, reason: String, now: Int64) -> Result<ControlEffects, ApprovalError> {
        if reason.utf8.count > ApprovalLimits.reasonBytes {
            return .failure(.reasonTooLong(bytes: reason.utf8.count, limit: ApprovalLimits.reasonBytes))
        }
        let why = reason.isEmpty ? "denied by \(by)" : "denied by \(by): \(reason)"
        return decide(goal: goal, tasks: named) { .taskDenied(task: $0, by: by, reason: why, at: now) }
    }

    private func decide(goal: GoalID, tasks named: [TaskID], event: (TaskID) -> JournalEvent) -> Result<ControlEffects, ApprovalError> {
        guard let g = goals[goal] else { return .failure(.unknownGoal(goal)) }
        guard g.state == .running else { return .failure(.goalEnded(goal, g.state)) }
        if named.count > ApprovalLimits.tasksPerRequest {
            return .failure(.tooManyTasks(named.count, limit: ApprovalLimits.tasksPerRequest))
        }
        var chosen: [TaskID] = []
        if named.isEmpty {
            chosen = (tasksByGoal[goal] ?? []).filter { tasks[$0]?.state == .awaitingApproval }
            if chosen.isEmpty { return .failure(.nothingAwaiting(goal)) }
        } else {
            for id in named {
                guard let t = tasks[id], t.goal == goal else { return .failure(.unknownTask(id, goal: goal)) }
                guard t.state == .awaitingApproval else { return .failure(.notAwaiting(id, t.state)) }
                if !chosen.contains(id) { chosen.append(id) }
            }
        }
        var fx = ControlEffects()
        for id in chosen where tasks[id]?.state == .awaitingApproval {  // a denial may have ended the goal
            apply(event(id), into: &fx)
        }
        return .success(fx)
    }

    /// Tick: a task that waited past its goal's `budget.approval_timeout_ms` is denied (deny is the default).
    func approvalTimeouts(now: Int64) -> [JournalEvent] {
        guard !awaiting.isEmpty else { return [] }
        var events: [JournalEvent] = []
        for id in awaiting.sorted() {
            guard let t = tasks[id], t.state == .awaitingApproval, let since = t.approvalRequest?.since,
                  let g = goals[t.goal], g.state == .running else {
                awaiting.remove(id)
                continue
            }
            let limit = g.budget.approvalTimeoutMillis ?? ApprovalLimits.defaultTimeoutMillis
            if now &- since > Int64(limit) {
                events.append(.taskDenied(task: id, by: "timeout",
                                          reason: "approval timed out after \(limit) ms (budget.approval_timeout_ms); denied", at: now))
            }
        }
        return events
    }
}
