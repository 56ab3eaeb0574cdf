/// Snapshots: the durable part of the state for journal compaction, and rebuilding the indexes (queue, running
/// and budgeted goals, tasks by goal, tasks awaiting approval) from one.
extension ControlState {
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
        leaseHeap.removeAll()
        for t in s.tasks { if let lease = t.lease { watchLease(t.id, deadline: lease.deadline) } }
    }
}
