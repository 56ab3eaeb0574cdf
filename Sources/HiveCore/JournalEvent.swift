/// Every change to durable control-plane state, as journaled. `ControlState.apply` is the only code that
/// mutates state, and it does so only from these events, so replaying the journal rebuilds the same state.
///
/// The events with many fields carry a payload struct (`TaskLeased`, `TaskFinished`, `TaskExpired`): read by
/// name, built with `.init(…)`. On disk every event is what it always was, `{"<case>": {<field>: …}}`; the
/// encoding goes through `JournalEvent.Wire`, the journal's shape spelled out once, so a journal written before
/// still replays (`JournalFormatTests`).
public enum JournalEvent: Sendable, Equatable {
    /// Indirect: a goal's spec (a plan with its step templates) is kilobytes inline, and every event would be that
    /// size; the hot events (leases, results) are copied in arrays on every dispatch.
    indirect case goalSubmitted(goal: GoalID, spec: GoalSpec, at: Int64)
    case taskLeased(TaskLeased)
    case taskFinished(TaskFinished)
    /// The attempt ended without a result (lease expired, drone lost, released).
    case taskExpired(TaskExpired)
    case taskForked(task: TaskID, children: [TaskSpec], join: JoinPolicy, at: Int64)
    case goalCancelled(goal: GoalID, reason: String, at: Int64)
    case goalFailed(goal: GoalID, reason: String, at: Int64)
    /// A pending task needs approval before it runs (`Approval.swift`): it waits, with what it will run and why.
    case taskAwaitingApproval(task: TaskID, request: ApprovalRequest, at: Int64)
    /// An operator (`by`: the principal, or `operator` on the bus) approved it: pending again, never asked again.
    case taskApproved(task: TaskID, by: String, at: Int64)
    /// Denied by an operator or by the approval timeout: the task is dead with `reason`.
    case taskDenied(task: TaskID, by: String, reason: String, at: Int64)

    /// A task leased to a drone for one attempt.
    public struct TaskLeased: Codable, Sendable, Equatable {
        public var task: TaskID
        public var attempt: Int
        public var drone: DroneID
        public var token: String
        public var deadline: Int64
        public var at: Int64
        /// The drone's tier at lease time, journaled because the drone registry is not (core-call and per-tier
        /// budgets must replay the same).
        public var tier: Tier?
        /// The call's worst-case cost reserved against `budget.max_cost` (prices are config, not journal).
        public var cost: Double?
        /// An agent's tool pins taken from this drone at its first lease (no live drone offered them at submission):
        /// from here on they are the goal's (`AgentSpec.pins`).
        public var pins: [String: String]?

        public init(task: TaskID, attempt: Int, drone: DroneID, token: String, deadline: Int64, at: Int64, tier: Tier? = nil,
                    cost: Double? = nil, pins: [String: String]? = nil) {
            self.pins = pins
            self.task = task
            self.attempt = attempt
            self.drone = drone
            self.token = token
            self.deadline = deadline
            self.at = at
            self.tier = tier
            self.cost = cost
        }
    }

    /// An attempt's result, as accepted (a refused fork is a failed attempt with the reason).
    public struct TaskFinished: Codable, Sendable, Equatable {
        public var task: TaskID
        public var attempt: Int
        public var succeeded: Bool
        public var output: TaskOutput
        public var at: Int64

        public init(task: TaskID, attempt: Int, succeeded: Bool, output: TaskOutput, at: Int64) {
            self.task = task
            self.attempt = attempt
            self.succeeded = succeeded
            self.output = output
            self.at = at
        }
    }

    /// An attempt that ended without a result; `countsAttempt` is false for a release (the task did nothing wrong).
    public struct TaskExpired: Codable, Sendable, Equatable {
        public var task: TaskID
        public var attempt: Int
        public var reason: String
        public var countsAttempt: Bool
        public var at: Int64

        public init(task: TaskID, attempt: Int, reason: String, countsAttempt: Bool, at: Int64) {
            self.task = task
            self.attempt = attempt
            self.reason = reason
            self.countsAttempt = countsAttempt
            self.at = at
        }
    }

    public var at: Int64 {
        switch self {
        case .taskLeased(let e): return e.at
        case .taskFinished(let e): return e.at
        case .taskExpired(let e): return e.at
        case .goalSubmitted(_, _, let at), .taskForked(_, _, _, let at), .goalCancelled(_, _, let at),
             .goalFailed(_, _, let at), .taskAwaitingApproval(_, _, let at), .taskApproved(_, _, let at),
             .taskDenied(_, _, _, let at):
            return at
        }
    }
}

extension JournalEvent: Codable {
    /// The journal's shape: Swift's encoding of this enum with every field a labelled associated value, as the
    /// journal has always been written. Changing it is a journal format change (and needs a migration).
    enum Wire: Codable {
        indirect case goalSubmitted(goal: GoalID, spec: GoalSpec, at: Int64)
        case taskLeased(task: TaskID, attempt: Int, drone: DroneID, token: String, deadline: Int64, at: Int64, tier: Tier? = nil,
                        cost: Double? = nil, pins: [String: String]? = nil)
        case taskFinished(task: TaskID, attempt: Int, succeeded: Bool, output: TaskOutput, at: Int64)
        case taskExpired(task: TaskID, attempt: Int, reason: String, countsAttempt: Bool, at: Int64)
        case taskForked(task: TaskID, children: [TaskSpec], join: JoinPolicy, at: Int64)
        case goalCancelled(goal: GoalID, reason: String, at: Int64)
        case goalFailed(goal: GoalID, reason: String, at: Int64)
        case taskAwaitingApproval(task: TaskID, request: ApprovalRequest, at: Int64)
        case taskApproved(task: TaskID, by: String, at: Int64)
        case taskDenied(task: TaskID, by: String, reason: String, at: Int64)
    }

    var wire: Wire {
        switch self {
        case .goalSubmitted(let goal, let spec, let at): return .goalSubmitted(goal: goal, spec: spec, at: at)
        case .taskLeased(let e):
            return .taskLeased(task: e.task, attempt: e.attempt, drone: e.drone, token: e.token, deadline: e.deadline, at: e.at,
                               tier: e.tier, cost: e.cost, pins: e.pins)
        case .taskFinished(let e): return .taskFinished(task: e.task, attempt: e.attempt, succeeded: e.succeeded, output: e.output, at: e.at)
        case .taskExpired(let e):
            return .taskExpired(task: e.task, attempt: e.attempt, reason: e.reason, countsAttempt: e.countsAttempt, at: e.at)
        case .taskForked(let task, let children, let join, let at): return .taskForked(task: task, children: children, join: join, at: at)
        case .goalCancelled(let goal, let reason, let at): return .goalCancelled(goal: goal, reason: reason, at: at)
        case .goalFailed(let goal, let reason, let at): return .goalFailed(goal: goal, reason: reason, at: at)
        case .taskAwaitingApproval(let task, let request, let at): return .taskAwaitingApproval(task: task, request: request, at: at)
        case .taskApproved(let task, let by, let at): return .taskApproved(task: task, by: by, at: at)
        case .taskDenied(let task, let by, let reason, let at): return .taskDenied(task: task, by: by, reason: reason, at: at)
        }
    }

    init(_ wire: Wire) {
        switch wire {
        case .goalSubmitted(let goal, let spec, let at): self = .goalSubmitted(goal: goal, spec: spec, at: at)
        case .taskLeased(let task, let attempt, let drone, let token, let deadline, let at, let tier, let cost, let pins):
            self = .taskLeased(.init(task: task, attempt: attempt, drone: drone, token: token, deadline: deadline, at: at, tier: tier,
                                     cost: cost, pins: pins))
        case .taskFinished(let task, let attempt, let succeeded, let output, let at):
            self = .taskFinished(.init(task: task, attempt: attempt, succeeded: succeeded, output: output, at: at))
        case .taskExpired(let task, let attempt, let reason, let counts, let at):
            self = .taskExpired(.init(task: task, attempt: attempt, reason: reason, countsAttempt: counts, at: at))
        case .taskForked(let task, let children, let join, let at): self = .taskForked(task: task, children: children, join: join, at: at)
        case .goalCancelled(let goal, let reason, let at): self = .goalCancelled(goal: goal, reason: reason, at: at)
        case .goalFailed(let goal, let reason, let at): self = .goalFailed(goal: goal, reason: reason, at: at)
        case .taskAwaitingApproval(let task, let request, let at): self = .taskAwaitingApproval(task: task, request: request, at: at)
        case .taskApproved(let task, let by, let at): self = .taskApproved(task: task, by: by, at: at)
        case .taskDenied(let task, let by, let reason, let at): self = .taskDenied(task: task, by: by, reason: reason, at: at)
        }
    }

    public init(from decoder: any Decoder) throws { self.init(try Wire(from: decoder)) }

    public func encode(to encoder: any Encoder) throws { try wire.encode(to: encoder) }
}
