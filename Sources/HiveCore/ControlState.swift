import HiveCollections

/// The control plane's state machine: goals, task trees, leases, joins, budgets, and the drone registry.
///
/// Deterministic and clock-free: every method takes `now` in milliseconds (honeycombd's `ControlClock`: Unix epoch
/// milliseconds that advance monotonically, so recorded times survive a restart). Commands (`submit`,
/// `receive`, `schedule`, `tick`, `cancel`, …) decide, apply their events through `apply`, and return what they
/// did as `ControlEffects`: the events for the journal and what the service must carry out (assignments,
/// cancellations, finished goals). Replaying those events with `apply` rebuilds the same goals and tasks. The drone registry is not
/// journaled: drones announce themselves again after a restart.
///
/// One file per facet: `+Commands` (what the service asks), `+Scheduling` (leases), `+Budgets` (admission under a
/// goal's limits; the counters are `GoalBudgetLedger`), `+Apply` (the only mutator), `+Joins` (deciding a
/// parent), `+Registry` (drones), `+Plans` (plan steps), `+Blockers` (why a task waits), `+Snapshot`
/// (compaction), and `Approval` (side effects an operator must allow). This file holds the state itself.
public final class ControlState {
    public internal(set) var goals: [GoalID: GoalRecord] = [:]
    public internal(set) var tasks: [TaskID: TaskRecord] = [:]
    public internal(set) var drones: [DroneID: DroneRecord] = [:]
    public let config: ControlConfig
    var nextGoal: Int64 = 1
    /// Goal numbers stop below this (2^53): a replayed goal numbered past it does not move `nextGoal`, so numbering
    /// never overflows and no id is handed out twice.
    public static let maxGoalNumber: Int64 = 1 << 53
    var nextSeq: Int64 = 0
    var queue = PendingQueue()
    var runningGoals: Set<GoalID> = []
    /// Per goal, a task its budgets refused at the last scheduling pass (see `budgetRefusal`, `starvedReason`).
    var budgetStarved: [GoalID: TaskID] = [:]
    /// Each goal's tasks in creation order (API reads without scanning every task).
    public internal(set) var tasksByGoal: [GoalID: [TaskID]] = [:]
    /// Goals with a token, cost or core-call budget: only their tasks pay for budget checks when scheduled.
    var budgetedGoals: Set<GoalID> = []
    /// Tasks in `awaiting_approval` (the tick's approval timeouts look only at these).
    var awaiting: Set<TaskID> = []
    /// When each present drone is next looked at for silence, and those times in order (`tick` pops what is due,
    /// so it costs what falls due, not the size of the hive; see `ControlState+Deadlines`).
    var livenessDue: [DroneID: Int64] = [:]
    var livenessHeap = DeadlineHeap<Int64, DroneID>()
    /// Every lease's deadline, in order (entries of leases that ended since are skipped when they fall due).
    var leaseHeap = DeadlineHeap<Int64, TaskID>()
    var leaseHeapSweepAt = ControlState.leaseHeapMinimumSweep

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
}
