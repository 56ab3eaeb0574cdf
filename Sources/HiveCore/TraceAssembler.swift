/// One attempt of a task as the control plane timed it (Unix nanoseconds), and the drone's report of its run: what
/// only the process that leased it saw (honeycombd's `TraceLog` keeps them), as `TraceAssembler` takes them.
public struct AttemptTiming: Sendable, Equatable {
    public var task: TaskID
    public var attempt: Int
    public var drone: DroneID
    public var start: Int64
    /// Nil while it runs.
    public var end: Int64?
    /// `succeeded`, `failed` or `expired: WHY`; nil while it runs.
    public var outcome: String?
    public var run: SpanReport?

    public init(task: TaskID, attempt: Int, drone: DroneID, start: Int64, end: Int64? = nil, outcome: String? = nil,
                run: SpanReport? = nil) {
        self.task = task
        self.attempt = attempt
        self.drone = drone
        self.start = start
        self.end = end
        self.outcome = outcome
        self.run = run
    }
}

/// Builds a goal's trace (`TraceView`) from the journaled state and the attempts' timings: the goal's span, one
/// span per node of its task tree, one per attempt (as leased) under its task, and one per drone run (as the drone
/// timed it) under its attempt. Pure: the same records give the same spans, whoever asks (the API's `trace` verb,
/// the OTLP export of a finished goal).
public enum TraceAssembler {
    /// The goal's spans, or nil for a goal from before tracing (no trace context). `tasks` are the goal's task
    /// records; `droneName` names a drone for its run span (its id when unknown).
    public static func trace(of g: GoalRecord, tasks: [TaskRecord], attempts: [AttemptTiming],
                             droneName: (DroneID) -> String?) -> TraceView? {
        guard let ctx = g.trace else { return nil }
        // Journal times are milliseconds; a time no clock could give saturates instead of trapping.
        func wall(_ ms: Int64) -> Int64 {
            let (ns, overflow) = ms.multipliedReportingOverflow(by: 1_000_000)
            return overflow ? (ms < 0 ? .min : .max) : ns
        }
        let goalSpan = ctx.spanID("goal")
        var spans = [SpanView(spanID: goalSpan, parentSpanID: ctx.parentSpanID, name: "goal \(g.name ?? g.id)", kind: .goal,
                              startUnixNano: wall(g.createdAt), endUnixNano: g.finishedAt.map(wall),
                              error: g.state == .failed, attributes: ["hive.goal": g.id, "hive.state": g.state.rawValue])]
        let byTask = Dictionary(grouping: attempts, by: \.task)
        for t in tasks {
            let taskSpan = ctx.spanID("task", t.id)
            var attributes = ["hive.task": t.id, "hive.kind": t.kind, "hive.state": t.state.rawValue, "hive.attempts": String(t.attempts)]
            if let role = t.role { attributes["hive.role"] = role.rawValue }
            if let round = t.round { attributes["hive.round"] = String(round) }
            spans.append(SpanView(spanID: taskSpan, parentSpanID: t.parent.map { ctx.spanID("task", $0) } ?? goalSpan,
                                  name: "\(t.kind) \(t.id)", kind: .task, startUnixNano: wall(t.createdAt),
                                  endUnixNano: t.finishedAt.map(wall), error: t.state == .dead,
                                  attributes: attributes))
            for a in (byTask[t.id] ?? []).sorted(by: { $0.attempt < $1.attempt }) {
                let attemptSpan = ctx.spanID("attempt", t.id, a.attempt)
                var attrs = ["hive.drone": a.drone, "hive.attempt": String(a.attempt)]
                if let o = a.outcome { attrs["hive.outcome"] = o }
                spans.append(SpanView(spanID: attemptSpan, parentSpanID: taskSpan, name: "attempt \(a.attempt) @\(a.drone)",
                                      kind: .attempt, startUnixNano: a.start, endUnixNano: a.end,
                                      error: a.outcome.map { $0 != "succeeded" } ?? false, attributes: attrs))
                if let run = a.run {
                    spans.append(SpanView(spanID: run.spanID, parentSpanID: attemptSpan,
                                          name: "\(t.kind) on \(droneName(a.drone) ?? a.drone)", kind: .run,
                                          startUnixNano: run.startUnixNano, endUnixNano: run.endUnixNano,
                                          attributes: ["hive.drone": a.drone]))
                    // An agent's tool calls, placed inside the run by the transcript of the attempt that gave the result.
                    if t.kind == "agent", a.attempt == t.attempts, let transcript = AgentTranscript.parse(t.result?.output) {
                        spans += toolSpans(transcript, run: run, drone: a.drone, id: { ctx.spanID("tool", "\(t.id)#\(a.attempt)", $0) })
                    }
                }
            }
        }
        return TraceView(goal: g.id, traceID: ctx.traceID, spans: spans)
    }

    /// Spans of an agent's calls (`AgentStep.atMillis` after the run began, `millis` long; the drone's numbers,
    /// so clamped to the run), at most `maxToolSpans`.
    static func toolSpans(_ t: AgentTranscript, run: SpanReport, drone: DroneID, id: (Int) -> String) -> [SpanView] {
        var out: [SpanView] = []
        let end = run.endUnixNano
        for (i, step) in t.steps.prefix(maxToolSpans).enumerated() where !step.tool.isEmpty {
            let at = Int64(min(max(0, step.atMillis ?? 0), 1 << 40)) * 1_000_000
            let length = Int64(min(max(0, step.millis), 1 << 40)) * 1_000_000
            let start = min(run.startUnixNano.saturatingAdd(at), end)
            var attributes = ["hive.drone": drone, "hive.tool": step.tool]
            if step.isError { attributes["hive.error"] = String(step.result.prefix(200)) }
            out.append(SpanView(spanID: id(i), parentSpanID: run.spanID, name: "tool \(step.tool)", kind: .tool,
                                startUnixNano: start, endUnixNano: min(start.saturatingAdd(length), end),
                                error: step.isError, attributes: attributes))
        }
        return out
    }

    /// Tool spans per agent run (a transcript holds at most `AgentSpec.maxStepsLimit` calls anyway).
    static let maxToolSpans = AgentSpec.maxStepsLimit
}

extension Int64 {
    func saturatingAdd(_ other: Int64) -> Int64 {
        let (sum, overflow) = addingReportingOverflow(other)
        return overflow ? (other > 0 ? .max : .min) : sum
    }
}
