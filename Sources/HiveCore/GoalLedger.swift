/// What a goal cost and how parallel it ran, from its tasks' recorded results: the economic ledger's read side.
///
/// Counts the attempt that produced each task's final result (earlier failed attempts are not recorded with
/// their usage yet). The core tier is the expensive one: its share of calls is the number to keep low.
public struct GoalLedger: Codable, Sendable, Equatable {
    public struct Line: Codable, Sendable, Equatable {
        public var calls = 0
        public var promptTokens = 0
        public var generatedTokens = 0
        /// Sum of the drones' own task times.
        public var taskMillis = 0
        /// At the configured model prices (0 where models have none).
        public var cost: Double = 0

        public init() {}

        mutating func add(_ o: TaskOutput) {
            calls += 1
            cost += o.cost ?? 0
            promptTokens += o.usage?.promptTokens ?? 0
            generatedTokens += o.usage?.generatedTokens ?? 0
            taskMillis += o.wallMillis ?? 0
        }

        enum CodingKeys: String, CodingKey {
            case calls, cost
            case promptTokens = "prompt_tokens", generatedTokens = "generated_tokens", taskMillis = "task_ms"
        }
    }

    /// An agent's tool calls, per tool: how many, how many were errors, and their time.
    public struct ToolLine: Codable, Sendable, Equatable {
        public var calls = 0
        public var errors = 0
        public var millis = 0

        public init() {}

        enum CodingKeys: String, CodingKey { case calls, errors, millis = "ms" }
    }

    public var total = Line()
    public var byTier: [String: Line] = [:]
    public var byDrone: [String: Line] = [:]
    /// Share of calls made on the core tier (0…1).
    public var coreShare: Double = 0
    /// Submission to end (or to now for a running goal).
    public var wallMillis: Int64 = 0
    /// Sum of task times over wall time: how many drones' worth of work ran at once.
    public var parallelSpeedup: Double = 0
    /// Speculative candidates (children of `any`, `quorum` and `vote` forks, and plan steps' candidates) that
    /// produced an answer.
    public var candidatesProposed = 0
    /// Of those, the ones the join used: the winning answer's voters, or the successes a quorum needed.
    public var candidatesAccepted = 0
    /// Attempts beyond each task's first (retries after failures, expired leases, lost drones).
    public var retries = 0
    /// Plan steps re-forked after failed validation (rounds beyond each step's first).
    public var reforks = 0
    /// Agents' tool calls by tool name (from the transcripts of their results); nil when the goal made none.
    public var byTool: [String: ToolLine]?

    public init() {}

    public init(goal: GoalRecord, tasks: [TaskRecord], now: Int64) {
        for t in tasks {
            retries += max(0, t.attempts - 1)
            if let join = t.join, join != .all {
                let (proposed, accepted) = Self.candidates(of: t, join: join)
                candidatesProposed += proposed
                candidatesAccepted += accepted
            }
            guard !t.isStructural, let o = t.result else { continue }
            total.add(o)
            byTier[o.tier?.rawValue ?? "unknown", default: Line()].add(o)
            byDrone[o.drone, default: Line()].add(o)
            if t.kind == "agent", let transcript = AgentTranscript.parse(o.output) {
                for step in transcript.steps.prefix(AgentSpec.maxStepsLimit) where !step.tool.isEmpty {
                    var line = byTool?[step.tool] ?? ToolLine()
                    line.calls += 1
                    line.errors += step.isError ? 1 : 0
                    line.millis = line.millis.saturatingAdding(min(max(0, step.millis), 1 << 40))
                    if byTool == nil { byTool = [:] }
                    byTool?[step.tool] = line
                }
            }
        }
        let succeeded = Set(tasks.lazy.filter { $0.state == .succeeded }.map(\.id))
        for s in goal.plan?.steps ?? [] {
            reforks += s.round
            candidatesProposed += s.candidates.lazy.filter { succeeded.contains($0.task) }.count
            candidatesAccepted += s.candidates.lazy.filter(\.accepted).count
        }
        coreShare = total.calls > 0 ? Double(byTier["core"]?.calls ?? 0) / Double(total.calls) : 0
        wallMillis = max(0, (goal.finishedAt ?? now) - goal.createdAt)
        parallelSpeedup = wallMillis > 0 ? Double(total.taskMillis) / Double(wallMillis) : 0
    }

    static func candidates(of fork: TaskRecord, join: JoinPolicy) -> (proposed: Int, accepted: Int) {
        if join == .vote {
            let votes = fork.votes ?? [:]
            let winner = fork.state == .succeeded ? fork.result?.output.flatMap { votes[JoinPolicy.normalize($0)] } ?? 0 : 0
            return (votes.values.reduce(0, +), winner)
        }
        let used = fork.state == .succeeded ? min(fork.childrenSucceeded, join.needed(of: fork.children.count)) : 0
        return (fork.childrenSucceeded, used)
    }

    enum CodingKeys: String, CodingKey {
        case total
        case byTier = "by_tier", byDrone = "by_drone", coreShare = "core_share", wallMillis = "wall_ms"
        case parallelSpeedup = "parallel_speedup", candidatesProposed = "candidates_proposed"
        case candidatesAccepted = "candidates_accepted", retries, reforks, byTool = "by_tool"
    }
}
