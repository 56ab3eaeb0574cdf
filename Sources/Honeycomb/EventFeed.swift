import HiveCore
import HiveHTTP
import HiveJSON
import Synchronization

/// Live state changes for Server-Sent Events subscribers (the dashboard, `curl /api/events`).
///
/// Cheap for the scheduler by construction: without subscribers it costs one atomic load per journaled batch;
/// with them, the service only marks what changed (set inserts) and, on its 50 ms tick, writes one compact JSON
/// line per changed goal, and per changed task of the goals someone follows task by task (a task that went
/// queued → leased → succeeded inside one tick is sent once, in its latest state). The global stream is
/// goal-level unless asked for every task (`?tasks=all`): a dashboard watching the goal list costs a line per
/// goal per tick, however many tasks run. Each subscriber has its own bounded queue (`EventStream`), so a slow browser loses events
/// (and is told, so it can reload) instead of slowing anything down.
final class EventFeed: Sendable {
    private struct Subscriber: Sendable {
        let stream: EventStream
        /// Only this goal's events; nil for every goal.
        let goal: GoalID?
        /// Task events too (a goal's own stream always has them; the global stream only when asked).
        let tasks: Bool
    }

    private let subscribers = Mutex<[ObjectIdentifier: Subscriber]>([:])
    private let count = Atomic<Int>(0)
    /// Global subscribers that want every task's changes, and goals whose own stream is open (with counts).
    private let allTasks = Atomic<Int>(0)
    private let watchedGoals = Mutex<[GoalID: Int]>([:])
    /// Frames a subscriber may have queued before it starts losing them.
    static let capacity = 20_000

    var isActive: Bool { count.load(ordering: .relaxed) > 0 }
    var subscriberCount: Int { count.load(ordering: .relaxed) }

    /// Whether anyone follows `goal`'s tasks (so the scheduler marks them); goal-level changes are always sent.
    func wantsTasks(of goal: GoalID) -> Bool {
        if allTasks.load(ordering: .relaxed) > 0 { return true }
        return watchedGoals.withLock { $0[goal] != nil }
    }

    /// A new stream for events of `goal` (with its tasks), or of every goal (with every task only when `tasks`),
    /// registered at once: the caller queues its snapshot first, inside the same actor step, so nothing falls
    /// between the snapshot and the live events.
    func subscribe(goal: GoalID?, tasks: Bool) -> EventStream {
        let stream = EventStream(capacity: Self.capacity)
        let id = ObjectIdentifier(stream)
        let wantsAll = goal == nil && tasks
        subscribers.withLock { $0[id] = Subscriber(stream: stream, goal: goal, tasks: goal != nil || tasks) }
        count.wrappingAdd(1, ordering: .relaxed)
        if wantsAll { allTasks.wrappingAdd(1, ordering: .relaxed) }
        if let goal { watchedGoals.withLock { $0[goal, default: 0] += 1 } }
        stream.onClose { [weak self] in
            guard let self, self.subscribers.withLock({ $0.removeValue(forKey: id) }) != nil else { return }
            self.count.wrappingSubtract(1, ordering: .relaxed)
            if wantsAll { self.allTasks.wrappingSubtract(1, ordering: .relaxed) }
            if let goal {
                self.watchedGoals.withLock {
                    $0[goal, default: 1] -= 1
                    if $0[goal] == 0 { $0[goal] = nil }
                }
            }
        }
        return stream
    }

    /// One event for subscribers: the goal it belongs to, the SSE event name (`goal`, `task`) and its JSON line.
    typealias Frame = (goal: GoalID, event: String, data: String)

    /// A new stream for `goal` (nil: every goal, and every task too with `allTasks`) that starts with a snapshot
    /// of `state`: the goal and all its tasks (parents first), or the latest `snapshotGoals` goals; then `synced`.
    /// Nil when the goal is unknown. Called on the actor that owns `state`, so nothing falls between the snapshot
    /// and the live changes.
    func open(goal: GoalID?, allTasks: Bool, state: ControlState) -> EventStream? {
        if let goal, state.goals[goal] == nil { return nil }
        let stream = subscribe(goal: goal, tasks: allTasks)
        if let goal, let g = state.goals[goal] {
            stream.send(event: "goal", data: FeedJSON.goal(g, root: state.tasks[g.root]))
            for t in state.tasks(of: goal).sorted(by: { ($0.depth, $0.index) < ($1.depth, $1.index) }) {
                stream.send(event: "task", data: FeedJSON.task(t))
            }
        } else {
            for g in state.goals.values.sorted(by: { ($0.createdAt, $0.id) < ($1.createdAt, $1.id) }).suffix(Self.snapshotGoals) {
                stream.send(event: "goal", data: FeedJSON.goal(g, root: state.tasks[g.root]))
            }
        }
        stream.send(event: "synced", data: "{}")
        return stream
    }

    /// Goals in the global stream's snapshot (the latest ones).
    static let snapshotGoals = 500

    /// Sends each frame (built once) to the subscribers that follow it.
    func publish(_ frames: [Frame]) {
        let all = subscribers.withLock { Array($0.values) }
        guard !all.isEmpty else { return }
        let built = frames.map { (goal: $0.goal, task: $0.event == "task", text: EventStream.frame(event: $0.event, data: $0.data)) }
        for s in all {
            for f in built where (s.goal == nil || s.goal == f.goal) && (s.tasks || !f.task) { s.stream.send(frame: f.text) }
        }
    }

    /// Ends every stream (shutdown).
    func closeAll() {
        for s in subscribers.withLock({ Array($0.values) }) { s.stream.close() }
    }
}

/// The compact JSON lines of the event stream, written by hand: the feed runs beside the scheduler, and a
/// `JSONEncoder` per task change would cost more than the change.
enum FeedJSON {
    static func task(_ t: TaskRecord) -> String {
        var w = JSONWriter()
        w.beginObject()
        w.field("type", "task"); w.field("goal", t.goal); w.field("task", t.id); w.field("index", t.index)
        w.field("depth", t.depth)
        w.optional("parent", t.parent)
        w.field("kind", t.kind); w.field("state", t.state.rawValue); w.field("attempts", t.attempts)
        w.optional("drone", t.lease?.drone ?? t.result?.drone)
        w.optional("role", t.role?.rawValue)
        w.optional("round", t.round)
        w.optional("reason", t.reason)
        w.optional("tier", t.result?.tier?.rawValue)
        w.optional("name", t.name)
        w.optional("join", t.join?.description)
        if let a = t.approvalRequest {
            w.key("approval"); w.beginObject()
            w.field("runs", a.runs); w.field("proposed_by", a.proposedBy); w.field("why", a.why); w.field("since", a.since)
            w.optional("drone", a.drone)
            w.optional("tier", a.tier)
            w.endObject()
        }
        w.optional("approved_by", t.approvedBy)
        w.endObject()
        return w.text
    }

    /// `done` of `children`: the root's children that reached a final state (a goal's top-level progress).
    static func goal(_ g: GoalRecord, root: TaskRecord?) -> String {
        var w = JSONWriter()
        w.beginObject()
        w.field("type", "goal"); w.field("goal", g.id); w.field("state", g.state.rawValue); w.field("tasks", g.taskCount)
        if let root, !root.children.isEmpty { w.field("done", root.childrenFinal); w.field("children", root.children.count) }
        w.optional("name", g.name)
        w.optional("reason", g.reason)
        w.endObject()
        return w.text
    }
}
