/// The range of every number and the length of every string honeycombd accepts in a submitted goal.
///
/// Submissions come from the network, so each number is checked before anything does arithmetic or an integer
/// conversion on it (drones clamp too, but a goal that would crash one is refused here, with the field's path).
/// `Docs/plan.schema.json` carries the same ranges as `minimum`/`maximum` and `maxLength`/`maxItems`, and
/// `Docs/PLANS.md` lists them; `SpecLimitsTests` checks that the schema agrees with this table.
public enum SpecLimits {
    // MARK: Task fields

    public static let maxAttempts = 1...1_000
    public static let timeoutMillis = 1...TaskSpec.maxTimeoutMillis
    /// `input.sleep_ms` of sleep tasks (at most the longest timeout).
    public static let sleepMillis = 0...TaskSpec.maxTimeoutMillis
    public static let maxTokens = 1...TaskSpec.maxTokensLimit
    /// Sampling temperature (providers accept less; llama.cpp takes any non-negative value).
    public static let temperature = 0.0...100.0
    public static let topK = 0...100_000
    public static let topP = 0.0...1.0
    /// Model seeds are 32-bit in llama.cpp.
    public static let seed = 0...Int(UInt32.max)
    /// WebAssembly instructions a task may execute.
    public static let fuel = 1...(1 << 50)
    /// WebAssembly linear memory: 65,536 pages of 64 KiB at most (wasm32).
    public static let memoryMiB = 1...4_096
    /// `input.agent`: turns, the loop's wall time and one tool call's time.
    public static let agentSteps = 1...AgentSpec.maxStepsLimit
    public static let agentWallMillis = 1...TaskSpec.maxTimeoutMillis
    /// `agent.tool_bytes`: the allowed tools' definitions in a prompt, bytes (64 tools of a 64 KiB schema and an
    /// 8 KiB description each fit).
    public static let agentToolBytes = 0...(8 << 20)
    public static let callTimeoutMillis = 1...TaskSpec.maxTimeoutMillis
    /// `input.size`: a `stdin_blob`'s bytes (honeycombd's `--max-blob-bytes` is at most this).
    public static let blobSize = 0...(1 << 30)
    /// `quorum:K` and `synthesize:K`.
    public static let joinK = 1...1_000_000

    // MARK: Goal and budget

    public static let priority = -1_000_000...1_000_000
    public static let budgetMaxTasks = 1...1_000_000
    /// Task trees deeper than this are refused before anything walks them recursively.
    public static let budgetMaxDepth = 1...64
    public static let deadlineMillis = 1...TaskSpec.maxDeadlineMillis
    public static let budgetMaxTokens = 1...(1 << 40)
    public static let maxCoreCalls = 0...1_000_000_000
    public static let tierTokens = 0...(1 << 40)
    public static let maxCost = 0.0...1e12
    /// `budget.approval_timeout_ms`: up to a week (default `ApprovalLimits.defaultTimeoutMillis`, one hour).
    public static let approvalTimeoutMillis = 1...TaskSpec.maxTimeoutMillis

    // MARK: Plans

    public static let candidates = 1...PlanValidator.maxCandidates
    public static let critics = 0...PlanValidator.maxCritics
    public static let reforks = 0...PlanValidator.maxReforks
    public static let subtasks = 1...PlanValidator.maxSubtasks
    public static let minScore = 0.0...10.0
    public static let steps = 64

    // MARK: Strings (UTF-8 bytes) and lists (entries)

    public static let nameBytes = 1_024
    public static let kindBytes = 64
    public static let commandBytes = 4_096
    public static let args = 1_024, argBytes = 65_536
    public static let envEntries = 256, envKeyBytes = 256, envValueBytes = 65_536
    public static let stdinBytes = 1 << 20, textBytes = 1 << 20
    public static let promptBytes = 256 << 10, systemBytes = 64 << 10
    public static let stops = 16, stopBytes = 256
    public static let jsonSchemaBytes = 64 << 10
    public static let moduleBytes = 64
    /// `input.stdin_blob`: `sha256:` and 64 hex digits.
    public static let blobNameBytes = 71
    public static let requires = 64, requireBytes = 256
    public static let goalTextBytes = 64 << 10, stepPromptBytes = 64 << 10, frameBytes = 64 << 10
    public static let idBytes = 64, inputs = 64, frames = 8
    /// `input.agent.tools` (names `<server>.<tool>`) and `input.agent.pins` (`sha256:<hex>`).
    public static let agentTools = 64, toolNameBytes = 128, pinBytes = 80

    /// JSON nesting a submission may have: a task tree of the deepest `max_depth` is two levels per node
    /// (object, `children` array) plus the goal's wrapper and the input's objects. Checked on the raw bytes
    /// before decoding, so no decoder or walk recurses deeper than this.
    public static let jsonNesting = 2 * budgetMaxDepth.upperBound + 16
    /// The whole submission, in bytes (honeycombd's `max_spec_bytes` default).
    public static let defaultSpecBytes = 4 << 20
}

/// Why a submission breaks one of `SpecLimits`: the field's path and the limit, so the user knows what to change.
public enum SpecViolation: Error, Equatable, Sendable, CustomStringConvertible {
    case outOfRange(path: String, value: String, range: String)
    case tooLong(path: String, bytes: Int, limit: Int)
    case tooMany(path: String, count: Int, limit: Int)
    case nestedTooDeep(limit: Int)
    case tooLarge(bytes: Int, limit: Int)

    public var description: String {
        switch self {
        case .outOfRange(let p, let v, let r): return "\(p) must be \(r) (got \(v))"
        case .tooLong(let p, let n, let l): return "\(p) is \(n) bytes; the limit is \(l)"
        case .tooMany(let p, let n, let l): return "\(p) has \(n) entries; the limit is \(l)"
        case .nestedTooDeep(let l):
            return "the goal's JSON nests more than \(l) levels deep (task trees may be at most \(SpecLimits.budgetMaxDepth.upperBound) deep)"
        case .tooLarge(let n, let l): return "the goal is \(n) bytes; honeycombd accepts at most \(l) (max_spec_bytes)"
        }
    }
}
