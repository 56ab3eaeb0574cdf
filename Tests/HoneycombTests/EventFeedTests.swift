import FoundationEssentials
import HiveCore
@testable import HiveHTTP
@testable import Honeycomb
import Testing

/// The event feed: a new stream's snapshot, what a tick sends (and to whom), and the JSON lines.
@Suite struct EventFeedTests {
    static let pair = #"{"name": "pair", "root": {"kind": "fork", "children": [{"kind": "noop"}, {"kind": "noop"}]}}"#

    /// Every frame queued on `stream`, as (event, data) pairs.
    func frames(_ stream: EventStream) -> [(event: String, data: String)] {
        (stream.take(waiting: 0) ?? []).map { frame in
            var event = "", data = ""
            for line in frame.split(separator: "\n") {
                if line.hasPrefix("event: ") { event = String(line.dropFirst(7)) }
                if line.hasPrefix("data: ") { data = String(line.dropFirst(6)) }
            }
            return (event, data)
        }
    }

    @Test func aGoalsStreamStartsWithItsGoalAndTasksParentsFirstThenSynced() throws {
        let state = ControlState(), feed = EventFeed()
        let (id, _) = try state.submit(try spec(Self.pair), now: 1_000)
        #expect(feed.open(goal: "g404", allTasks: false, state: state) == nil)
        let stream = try #require(feed.open(goal: id, allTasks: false, state: state))
        let got = frames(stream)
        #expect(got.map(\.event) == ["goal", "task", "task", "task", "synced"])
        struct Line: Decodable { var type: String, task: String, kind: String, depth: Int }
        let lines = try got[1...3].map { try JSONDecoder().decode(Line.self, from: Data($0.data.utf8)) }
        #expect(lines[0].type == "task" && lines[0].task == "\(id).0" && lines[0].kind == "fork")
        #expect(lines[1...].allSatisfy { $0.kind == "noop" && $0.depth > lines[0].depth })
        #expect(got[0].data.contains(#""name":"pair""#) && got[0].data.contains(#""state":"running""#))
        #expect(feed.subscriberCount == 1 && feed.wantsTasks(of: id) && !feed.wantsTasks(of: "g9"))
        stream.close()
        #expect(feed.subscriberCount == 0 && !feed.wantsTasks(of: id))
    }

    @Test func aTickSendsEachChangeOnceToTheStreamsThatFollowIt() throws {
        let state = ControlState(), feed = EventFeed()
        var changes = FeedChanges()
        let goalsOnly = try #require(feed.open(goal: nil, allTasks: false, state: state))
        let everyTask = try #require(feed.open(goal: nil, allTasks: true, state: state))
        #expect(frames(goalsOnly).map(\.event) == ["synced"] && frames(everyTask).map(\.event) == ["synced"])

        let (id, fx) = try state.submit(try spec(Self.pair), now: 1_000)
        changes.mark(fx.events[0], about: nil, state: state, feed: feed)
        // The same task changing twice inside one tick is one frame.
        changes.mark(.taskApproved(task: "\(id).1", by: "x", at: 1), about: ("\(id).1", id), state: state, feed: feed)
        changes.mark(.taskApproved(task: "\(id).1", by: "x", at: 2), about: ("\(id).1", id), state: state, feed: feed)
        let pending = changes.frames(state: state, feed: feed)
        let built = try #require(pending)
        #expect(built.map(\.event) == ["task", "task", "task", "goal"])
        #expect(changes.tasks.isEmpty && changes.goals.isEmpty)
        let again = changes.frames(state: state, feed: feed)
        #expect(again == nil)
        feed.publish(built)
        #expect(frames(goalsOnly).map(\.event) == ["goal"])
        #expect(frames(everyTask).map(\.event) == ["task", "task", "task", "goal"])
        goalsOnly.close(); everyTask.close()
    }

    @Test func withoutSubscribersNothingIsBuilt() throws {
        let state = ControlState(), feed = EventFeed()
        var changes = FeedChanges()
        let (_, fx) = try state.submit(try spec(Self.pair), now: 1_000)
        changes.mark(fx.events[0], about: nil, state: state, feed: feed)
        let none = changes.frames(state: state, feed: feed)
        #expect(none == nil)
        #expect(changes.goals.isEmpty)
    }
}
