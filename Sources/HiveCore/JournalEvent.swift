/// Every change to durable control-plane state, as journaled. `ControlState.apply` is the only code that
/// mutates state, and it does so only from these events, so replaying the journal rebuilds the same state.
public enum JournalEvent: Codable, Sendable, Equatable {
    /// Indirect: a goal's spec (a plan with its step templates) is kilobytes inline, and every event would be that
    /// size; the hot events (leases, results) are copied in arrays on every dispatch.
    indirect case goalSubmitted(goal: GoalID, spec: GoalSpec, at: Int64)
    /// `tier`: the drone's tier at lease time, journaled because the drone registry is not (core-call budgets
    /// must replay the same).
    /// `cost`: the call's worst-case cost reserved against `budget.max_cost` (prices are config, not journal).
    case taskLeased(task: TaskID, attempt: Int, drone: DroneID, token: String, deadline: Int64, at: Int64, tier: Tier? = nil,
                    cost: Double? = nil)
    case taskFinished(task: TaskID, attempt: Int, succeeded: Bool, output: TaskOutput, at: Int64)
    /// The attempt ended without a result (lease expired, drone lost); `countsAttempt` is false for a release.
    case taskExpired(task: TaskID, attempt: Int, reason: String, countsAttempt: Bool, at: Int64)
    case taskForked(task: TaskID, children: [TaskSpec], join: JoinPolicy, at: Int64)
    case goalCancelled(goal: GoalID, reason: String, at: Int64)
    case goalFailed(goal: GoalID, reason: String, at: Int64)
    /// A pending task needs approval before it runs (`Approval.swift`): it waits, with what it will run and why.
    case taskAwaitingApproval(task: TaskID, request: ApprovalRequest, at: Int64)
    /// An operator (`by`: the principal, or `operator` on the bus) approved it: pending again, never asked again.
    case taskApproved(task: TaskID, by: String, at: Int64)
    /// Denied by an operator or by the approval timeout: the task is dead with `reason`.
    case taskDenied(task: TaskID, by: String, reason: String, at: Int64)

    public var at: Int64 {
        switch self {
        case .goalSubmitted(_, _, let at), .taskLeased(_, _, _, _, _, let at, _, _), .taskFinished(_, _, _, _, let at),
             .taskExpired(_, _, _, _, let at), .taskForked(_, _, _, let at), .goalCancelled(_, _, let at),
             .goalFailed(_, _, let at), .taskAwaitingApproval(_, _, let at), .taskApproved(_, _, let at),
             .taskDenied(_, _, _, let at):
            return at
        }
    }
}
