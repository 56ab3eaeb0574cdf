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

    @Test func anAgentsCallsAreToolSpansInsideItsRunWhateverTheDroneClaims() throws {
        let state = ControlState()
        var s = try spec(#"{"root": {"kind": "agent", "input": {"prompt": "p", "agent": {"tools": ["exec.date", "exec.echo"]}}}}"#)
        s.trace = Self.context
        let (id, _) = try state.submit(s, now: 1_000)
        let task = "\(id).0"
        _ = state.hello(DroneHello(drone: "d1", name: "d1", tier: .worker, slots: 1,
                                   capabilities: ["backend:agent", "tool:exec.date", "tool:exec.echo"], host: nil, version: "t"), now: 1_000)
        let leased = state.schedule(now: 1_000) { "tok" }
        #expect(leased.assignments.count == 1)
        // A drone's numbers: one call 2 ms in, one with an absurd offset and length (clamped into the run).
        let output = #"{"answer":"x","steps":[{"tool":"exec.date","arguments":{},"result":"Mon","is_error":false,"ms":3,"at_ms":2},"#
            + #"{"tool":"exec.echo","arguments":{},"result":"boom","is_error":true,"ms":9223372036854775807,"at_ms":-5}]}"#
        _ = state.receive(TaskResult(task: task, attempt: 1, token: "tok", drone: "d1", outcome: .succeeded, output: output), now: 1_010)
        let run = SpanReport(spanID: "00f067aa0ba902b7", startUnixNano: 1_000_000_000, endUnixNano: 1_020_000_000)
        let attempts = [AttemptTiming(task: task, attempt: 1, drone: "d1", start: 999_000_000, end: 1_021_000_000, outcome: "succeeded", run: run)]
        let trace = try #require(TraceAssembler.trace(of: state.goals[id]!, tasks: state.tasks(of: id), attempts: attempts, droneName: { _ in nil }))
        let tools = trace.spans.filter { $0.kind == .tool }
        #expect(tools.map(\.name) == ["tool exec.date", "tool exec.echo"])
        #expect(tools.allSatisfy { $0.parentSpanID == run.spanID })
        #expect(tools[0].startUnixNano == 1_002_000_000 && tools[0].endUnixNano == 1_005_000_000 && !tools[0].error)
        #expect(tools[1].startUnixNano == 1_000_000_000 && tools[1].endUnixNano == 1_020_000_000 && tools[1].error)
        #expect(tools[1].attributes["hive.error"] == "boom")
        // The ledger counts them per tool.
        let ledger = GoalLedger(goal: state.goals[id]!, tasks: state.tasks(of: id), now: 2_000)
        #expect(ledger.byTool?["exec.date"]?.calls == 1 && ledger.byTool?["exec.echo"]?.errors == 1)
        #expect(ledger.byTool?["exec.echo"]?.millis == 1 << 40, "a drone's absurd time is clamped, never trapped on")
    }
}
