import HiveCore
import HiveHTTP
import Synchronization

/// Live state changes for Server-Sent Events subscribers (the dashboard, `curl /api/events`).
///
/// Cheap for the scheduler by construction: without subscribers it costs one atomic load per journaled batch;
/// with them, the service only marks what changed (set inserts) and, on its 50 ms tick, writes one compact JSON
/// line per changed task and goal (a task that went queued → leased → succeeded inside one tick is sent once, in
/// its latest state). Each subscriber has its own bounded queue (`EventStream`), so a slow browser loses events
/// (and is told, so it can reload) instead of slowing anything down.
final class EventFeed: Sendable {
    private struct Subscriber: Sendable {
        let stream: EventStream
        let goal: GoalID?
    }

    private let subscribers = Mutex<[ObjectIdentifier: Subscriber]>([:])
    private let count = Atomic<Int>(0)
    /// Frames a subscriber may have queued before it starts losing them.
    static let capacity = 20_000

    var isActive: Bool { count.load(ordering: .relaxed) > 0 }
    var subscriberCount: Int { count.load(ordering: .relaxed) }

    /// A new stream for events of `goal` (or of every goal), registered at once: the caller queues its snapshot
    /// first, inside the same actor step, so nothing falls between the snapshot and the live events.
    func subscribe(goal: GoalID?) -> EventStream {
        let stream = EventStream(capacity: Self.capacity)
        let id = ObjectIdentifier(stream)
        subscribers.withLock { $0[id] = Subscriber(stream: stream, goal: goal) }
        count.wrappingAdd(1, ordering: .relaxed)
        stream.onClose { [weak self] in
            guard let self else { return }
            if self.subscribers.withLock({ $0.removeValue(forKey: id) }) != nil { self.count.wrappingSubtract(1, ordering: .relaxed) }
        }
        return stream
    }

    /// Sends each frame to the subscribers that watch its goal (or all goals).
    func publish(_ frames: [(goal: GoalID, event: String, data: String)]) {
        let all = subscribers.withLock { Array($0.values) }
        for s in all {
            for f in frames where s.goal == nil || s.goal == f.goal { s.stream.send(event: f.event, data: f.data) }
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
        var o = "{\"type\":\"task\",\"goal\":\(q(t.goal)),\"task\":\(q(t.id)),\"index\":\(t.index),\"depth\":\(t.depth)"
        if let p = t.parent { o += ",\"parent\":\(q(p))" }
        o += ",\"kind\":\(q(t.kind)),\"state\":\(q(t.state.rawValue)),\"attempts\":\(t.attempts)"
        if let d = t.lease?.drone ?? t.result?.drone { o += ",\"drone\":\(q(d))" }
        if let r = t.role { o += ",\"role\":\(q(r.rawValue))" }
        if let r = t.round { o += ",\"round\":\(r)" }
        if let r = t.reason { o += ",\"reason\":\(q(r))" }
        if let tier = t.result?.tier { o += ",\"tier\":\(q(tier.rawValue))" }
        return o + "}"
    }

    static func goal(_ g: GoalRecord) -> String {
        var o = "{\"type\":\"goal\",\"goal\":\(q(g.id)),\"state\":\(q(g.state.rawValue)),\"tasks\":\(g.taskCount)"
        if let n = g.name { o += ",\"name\":\(q(n))" }
        if let r = g.reason { o += ",\"reason\":\(q(r))" }
        return o + "}"
    }

    static func q(_ s: String) -> String { HTTPResponse.jsonString(s) }
}
