import HiveCore

/// What changed since the last tick, for event-stream subscribers (`EventFeed`): goals, and the tasks of goals
/// someone follows task by task. Marked as events are journaled (only while anyone is subscribed), turned into
/// frames on the tick, so a task that changed three times inside one tick is sent once, in its latest state.
struct FeedChanges {
    private(set) var tasks: Set<TaskID> = []
    private(set) var goals: Set<GoalID> = []

    /// Marks what `e` changed. `about`: the event's task and that task's goal, if it is about a known task.
    mutating func mark(_ e: JournalEvent, about: (task: TaskID, goal: GoalID)?, state: ControlState, feed: EventFeed) {
        switch e {
        case .taskForked(let task, let children, _, _):
            // The children are new tasks: a follower of the goal hears of each.
            if let about, feed.wantsTasks(of: about.goal) { tasks.formUnion(state.tasks[task]?.children.suffix(children.count) ?? []) }
        case .goalSubmitted(let goal, _, _), .goalCancelled(let goal, _, _), .goalFailed(let goal, _, _):
            goals.insert(goal)
            if case .goalSubmitted = e, feed.wantsTasks(of: goal) { tasks.formUnion(state.tasks(of: goal).map(\.id)) }
        default: break
        }
        if let about {
            goals.insert(about.goal)
            if feed.wantsTasks(of: about.goal) { tasks.insert(about.task) }
        }
    }

    /// The frames for what changed (parents before children, then each changed goal), or nil when nothing did;
    /// the marks are cleared either way. `feed`: frames are built only while it has subscribers.
    mutating func frames(state: ControlState, feed: EventFeed) -> [EventFeed.Frame]? {
        guard !tasks.isEmpty || !goals.isEmpty else { return nil }
        var goals = self.goals
        // A join settles inside `apply` when a child finishes: the forks above a changed task may have changed too.
        var changed = tasks
        for id in tasks {
            var parent = state.tasks[id]?.parent
            while let p = parent, changed.insert(p).inserted { parent = state.tasks[p]?.parent }
        }
        self.tasks.removeAll(keepingCapacity: true)
        self.goals.removeAll(keepingCapacity: true)
        guard feed.isActive else { return nil }
        let records = changed.compactMap { state.tasks[$0] }.sorted { ($0.depth, $0.index) < ($1.depth, $1.index) }
        var frames: [EventFeed.Frame] = []
        for t in records {
            frames.append((t.goal, "task", FeedJSON.task(t)))
            goals.insert(t.goal)
        }
        for g in goals.sorted() { if let r = state.goals[g] { frames.append((g, "goal", FeedJSON.goal(r, root: state.tasks[r.root]))) } }
        return frames
    }
}

extension JournalEvent {
    /// The task the event is about; nil for goal-level events.
    var aboutTask: TaskID? {
        switch self {
        case .taskLeased(let l): return l.task
        case .taskFinished(let f): return f.task
        case .taskExpired(let x): return x.task
        case .taskForked(let task, _, _, _), .taskAwaitingApproval(let task, _, _), .taskApproved(let task, _, _),
             .taskDenied(let task, _, _, _):
            return task
        case .goalSubmitted, .goalCancelled, .goalFailed:
            return nil
        }
    }
}
