import FoundationEssentials
import HiveCore
import Testing

/// HiveCore's `TraceAssembler`: a goal's spans from its records and the attempts' timings, without a service.
@Suite struct TraceAssemblerTests {
    static let context = TraceContext(traceID: "0af7651916cd43dd8448eb211c80319c", parentSpanID: "b7ad6b7169203331")

    func submitted(now: Int64 = 1_000, traced: Bool = true) throws -> (ControlState, GoalID) {
        let state = ControlState()
        var s = try spec(#"{"name": "pair", "root": {"kind": "fork", "children": [{"kind": "noop"}, {"kind": "noop"}]}}"#)
        if traced { s.trace = Self.context }
        let (id, _) = try state.submit(s, now: now)
        return (state, id)
    }

    @Test func spansNestGoalTasksAttemptsAndRuns() throws {
        let (state, id) = try submitted()
        let run = SpanReport(spanID: "00f067aa0ba902b7", startUnixNano: 6_000, endUnixNano: 8_000)
        let attempts = [AttemptTiming(task: "\(id).1", attempt: 2, drone: "d1", start: 5_500, end: 9_000, outcome: "succeeded", run: run),
                        AttemptTiming(task: "\(id).1", attempt: 1, drone: "d1", start: 2_000, end: 3_000, outcome: "expired: drone lost")]
        let trace = try #require(TraceAssembler.trace(of: state.goals[id]!, tasks: state.tasks(of: id), attempts: attempts,
                                                      droneName: { $0 == "d1" ? "worker-1" : nil }))
        #expect(trace.goal == id && trace.traceID == Self.context.traceID)
        #expect(trace.spans.map(\.kind) == [.goal, .task, .task, .attempt, .attempt, .run, .task])
        let ctx = Self.context
        let goal = trace.spans[0], root = trace.spans[1], child = trace.spans[2]
        #expect(goal.parentSpanID == ctx.parentSpanID && goal.startUnixNano == 1_000_000_000 && goal.endUnixNano == nil && !goal.error)
        #expect(root.parentSpanID == goal.spanID && child.parentSpanID == root.spanID)
        // Attempts in order under their task; an expired one is an error; the run under its attempt, named by the drone.
        let first = trace.spans[3], second = trace.spans[4]
        #expect(first.attributes["hive.attempt"] == "1" && first.error && first.parentSpanID == child.spanID)
        #expect(second.attributes["hive.outcome"] == "succeeded" && !second.error && second.spanID == ctx.spanID("attempt", "\(id).1", 2))
        #expect(trace.spans[5].parentSpanID == second.spanID && trace.spans[5].name == "noop on worker-1" && trace.spans[5].spanID == run.spanID)
        // The same inputs give the same trace.
        #expect(trace == TraceAssembler.trace(of: state.goals[id]!, tasks: state.tasks(of: id), attempts: attempts, droneName: { _ in "worker-1" }))
    }

    @Test func aGoalWithoutATraceContextHasNoTrace() throws {
        let (state, id) = try submitted(traced: false)
        #expect(TraceAssembler.trace(of: state.goals[id]!, tasks: state.tasks(of: id), attempts: [], droneName: { _ in nil }) == nil)
    }

    @Test func aTimeNoClockCouldGiveSaturatesInsteadOfTrapping() throws {
        let (state, id) = try submitted(now: Int64.max / 1_000)
        let trace = try #require(TraceAssembler.trace(of: state.goals[id]!, tasks: state.tasks(of: id), attempts: [], droneName: { _ in nil }))
        #expect(trace.spans[0].startUnixNano == Int64.max)
    }
}
