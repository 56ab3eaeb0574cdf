import HiveCore

/// What a backend produced for one attempt.
public struct BackendOutcome: Sendable, Equatable, TaskProductCarrier {
    public var succeeded: Bool
    /// What the run produced (`TaskProduct`; its fields read as the outcome's own: `outcome.output`). The drone
    /// adds the wall time and sends it on as the `TaskResult`'s product.
    public var product: TaskProduct
    /// A backend may answer with a fork instead of a result.
    public var fork: [TaskSpec]?
    public var join: JoinPolicy?
    /// The output's bytes when they cannot travel inline in a result (over `BlobTransfer.inlineThreshold`, or not
    /// UTF-8): the drone uploads them as a blob and reports `output_blob` in place of `output`. Drone-local: never
    /// part of the product.
    public var rawOutput: [UInt8]?

    /// Keeps `bytes` as `rawOutput` when they are too large or too binary for `output` (which is their text).
    public mutating func keepRaw(_ bytes: [UInt8]) {
        rawOutput = BlobTransfer.inlineText(bytes) == nil ? bytes : nil
    }

    public init(succeeded: Bool, exitCode: Int? = nil, output: String? = nil, error: String? = nil,
                usage: Usage? = nil, fork: [TaskSpec]? = nil, join: JoinPolicy? = nil) {
        self.succeeded = succeeded
        self.product = TaskProduct(exitCode: exitCode, output: output, error: error, usage: usage)
        self.fork = fork
        self.join = join
    }

    /// A failure; `permanent` when retrying cannot fix it (the control plane marks the task dead at once).
    public static func failure(_ why: String, permanent: Bool = false) -> BackendOutcome {
        var o = BackendOutcome(succeeded: false, error: why)
        o.permanent = permanent ? true : nil
        return o
    }
}

/// One way a drone can run a task. llama.cpp, HTTP model APIs and WebAssembly plug in here in their issues.
///
/// `run` must honour task cancellation (the drone cancels a task honeycombd no longer needs, or that passed its
/// timeout) and must never throw: every failure is an outcome the control plane can act on.
public protocol Backend: Sendable {
    /// The task kind this backend serves (`exec`, `noop`, `sleep`, …).
    var kind: String { get }
    /// Capabilities to advertise besides `backend:<kind>` (e.g. `exec:/bin/echo`).
    var capabilities: [String] { get }
    /// Models served, reported in the drone's hello (empty for non-model backends).
    var models: [ModelDescriptor] { get }
    /// Tools its agents may call, advertised with their pins in the hello (empty for all but `AgentBackend`).
    var tools: [ToolDefinition] { get }
    func run(_ task: Assignment) async -> BackendOutcome
}

extension Backend {
    public var models: [ModelDescriptor] { [] }
    public var tools: [ToolDefinition] { [] }
}

/// A backend whose work is immediate and never blocks (no I/O, no wait, nothing to cancel): the drone runs it where
/// the assignment is read, with no task, deadline or slot bookkeeping of its own (a drone may run tens of thousands
/// of these a second, and each of those costs more than the work).
public protocol InlineBackend: Backend {
    func runInline(_ task: Assignment) -> BackendOutcome
}

extension InlineBackend {
    public func run(_ task: Assignment) async -> BackendOutcome { runInline(task) }
}

/// Does nothing and succeeds: measures the hive's own overhead (dispatch benchmarks).
public struct NoopBackend: InlineBackend {
    public init() {}
    public var kind: String { "noop" }
    public var capabilities: [String] { [] }
    public func runInline(_ task: Assignment) -> BackendOutcome {
        BackendOutcome(succeeded: true, output: task.input?.text)
    }
}

/// Waits `sleep_ms` and succeeds: a stand-in for model latency in scaling benchmarks.
public struct SleepBackend: Backend {
    public init() {}
    public var kind: String { "sleep" }
    public var capabilities: [String] { [] }
    public func run(_ task: Assignment) async -> BackendOutcome {
        // Never past the task's timeout (the submitter's number may be anything).
        let ms = min(max(0, task.input?.sleepMillis ?? 0), max(0, task.timeoutMillis))
        do { try await Task.sleep(for: .milliseconds(ms)) } catch { return .failure("cancelled") }
        return BackendOutcome(succeeded: true, output: "slept \(ms) ms")
    }
}
