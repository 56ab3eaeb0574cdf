/// One span of a goal's trace, as `hive trace` and the OTLP export see it. Times are Unix nanoseconds; a span
/// still open has no end.
public struct SpanView: Codable, Sendable, Equatable {
    public enum Kind: String, Codable, Sendable {
        /// The goal, from submission to its end.
        case goal
        /// A node of the task tree (forks and plan steps included), from creation to its final state.
        case task
        /// One lease of a task to a drone, as honeycombd saw it.
        case attempt
        /// The drone's own run of an attempt, as the drone timed it.
        case run
        /// One tool call of an agent's run, as the drone timed it (from its transcript), under the run.
        case tool
    }

    public var spanID: String
    public var parentSpanID: String?
    public var name: String
    public var kind: Kind
    public var startUnixNano: Int64
    public var endUnixNano: Int64?
    public var error: Bool
    public var attributes: [String: String]

    public init(spanID: String, parentSpanID: String?, name: String, kind: Kind, startUnixNano: Int64, endUnixNano: Int64?,
                error: Bool = false, attributes: [String: String] = [:]) {
        self.spanID = spanID
        self.parentSpanID = parentSpanID
        self.name = name
        self.kind = kind
        self.startUnixNano = startUnixNano
        self.endUnixNano = endUnixNano
        self.error = error
        self.attributes = attributes
    }

    enum CodingKeys: String, CodingKey {
        case spanID = "span_id", parentSpanID = "parent_span_id", name, kind, error, attributes
        case startUnixNano = "start_unix_nano", endUnixNano = "end_unix_nano"
    }
}

/// A goal's trace: `GoalRef` → this, on `hive.v1.api.trace` and `GET /api/goals/ID/trace`.
public struct TraceView: Codable, Sendable, Equatable {
    public var goal: GoalID
    public var traceID: String
    public var spans: [SpanView]

    public init(goal: GoalID, traceID: String, spans: [SpanView]) {
        self.goal = goal
        self.traceID = traceID
        self.spans = spans
    }

    enum CodingKeys: String, CodingKey { case goal, traceID = "trace_id", spans }
}

/// A drone's report of its run of an attempt, timed on the drone's clock. It travels in the result message's
/// headers, not its body: `traceparent` names the run's span and `Hive-Span-Time` carries `START END` (Unix
/// nanoseconds), so a result costs the scheduler no extra JSON. honeycombd names the span when it builds a trace.
public struct SpanReport: Sendable, Equatable {
    public static let timeHeader = "Hive-Span-Time"
    /// The latest span time believed (2^62 ns after 1970: the year 2116).
    public static let latestUnixNano: Int64 = 1 << 62

    public var spanID: String
    public var startUnixNano: Int64
    public var endUnixNano: Int64

    public init(spanID: String, startUnixNano: Int64, endUnixNano: Int64) {
        self.spanID = spanID
        self.startUnixNano = startUnixNano
        self.endUnixNano = endUnixNano
    }

    /// `START END`, the `Hive-Span-Time` header's value.
    public var timeHeader: String { "\(startUnixNano) \(endUnixNano)" }

    /// The report in a result's headers (`traceparent` and `Hive-Span-Time`); nil when either is missing or bad.
    public init?(traceparent: String?, time: String?) {
        guard let traceparent, let time, let span = TraceContext(traceparent: traceparent)?.parentSpanID else { return nil }
        let parts = time.split(separator: " ")
        // A drone's clock and numbers are untrusted: times before 1970 or after 2116 (2^62 ns) are not believed, so
        // no difference of two span times can overflow anywhere they are shown.
        guard parts.count == 2, let start = Int64(parts[0]), let end = Int64(parts[1]),
              start >= 0, end >= start, end <= Self.latestUnixNano else { return nil }
        self.init(spanID: span, startUnixNano: start, endUnixNano: end)
    }
}
