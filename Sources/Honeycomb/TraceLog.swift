import HiveCore
import HiveSystem

/// What only this process saw of a goal's trace: when each attempt was leased and when it ended (Unix
/// nanoseconds), and the drones' reports of their runs. Everything else in a trace (the goal, the task tree)
/// comes from the journaled state. In memory and bounded: the latest `maxGoals` goals, `maxAttempts` each.
struct TraceLog {
    struct Attempt {
        var drone: DroneID
        var start: Int64
        var end: Int64?
        var outcome: String?
        var run: SpanReport?

        /// The first end counts (a late result after an expiry does not move it).
        mutating func close(at: Int64, outcome: String) {
            guard end == nil else { return }
            end = at
            self.outcome = outcome
        }
    }

    struct Key: Hashable {
        var task: TaskID
        var attempt: Int
    }

    static let maxGoals = 2_000
    static let maxAttempts = 50_000
    private(set) var goals: [GoalID: [Key: Attempt]] = [:]
    private var order: [GoalID] = []

    /// Times what one journaled event says about an attempt of `goal`'s (leased, finished, expired), on the wall clock.
    mutating func observe(_ e: JournalEvent, goal: GoalID, at: @autoclosure () -> Int64 = WallClock.unixNanos()) {
        switch e {
        case .taskLeased(let l):
            leased(goal: goal, task: l.task, attempt: l.attempt, drone: l.drone, at: at())
        case .taskFinished(let f):
            ended(goal: goal, task: f.task, attempt: f.attempt, outcome: f.succeeded ? "succeeded" : "failed", at: at())
        case .taskExpired(let x):
            ended(goal: goal, task: x.task, attempt: x.attempt, outcome: "expired: \(x.reason)", at: at())
        default: break
        }
    }

    mutating func leased(goal: GoalID, task: TaskID, attempt: Int, drone: DroneID, at: Int64) {
        if goals[goal] == nil {
            order.append(goal)
            if order.count > Self.maxGoals { goals[order.removeFirst()] = nil }
            goals[goal] = [:]
        }
        guard goals[goal]!.count < Self.maxAttempts else { return }
        goals[goal]![Key(task: task, attempt: attempt)] = Attempt(drone: drone, start: at)
    }

    mutating func ended(goal: GoalID, task: TaskID, attempt: Int, outcome: String, at: Int64) {
        let key = Key(task: task, attempt: attempt)
        goals[goal]?[key]?.close(at: at, outcome: outcome)
    }

    /// A goal's attempts as `TraceAssembler` takes them (none once the goal has aged out of the log).
    func timings(of goal: GoalID) -> [AttemptTiming] {
        (goals[goal] ?? [:]).map { key, a in
            AttemptTiming(task: key.task, attempt: key.attempt, drone: a.drone, start: a.start, end: a.end, outcome: a.outcome, run: a.run)
        }
    }

    mutating func ran(goal: GoalID, task: TaskID, attempt: Int, _ report: SpanReport) {
        goals[goal]?[Key(task: task, attempt: attempt)]?.run = report
    }
}
