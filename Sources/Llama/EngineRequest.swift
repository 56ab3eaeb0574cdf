#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// One generation handed to the engine's thread: tokens, sampling, and the continuation that gets its result.
///
/// Created by the caller's task, then owned by the engine thread, which resumes the continuation exactly once
/// (with the generation, an error, or `engineStopped` when the engine goes away first).
final class EngineRequest: @unchecked Sendable {
    let prompt: [Int32]
    let params: SamplingParams
    let sampler: TokenSampler
    let cancellation: CancelFlag
    /// Called on the engine thread after each generated token with the count so far (tests, progress).
    let onToken: (@Sendable (Int) -> Void)?
    private let continuation: CheckedContinuation<Result<Generation, LlamaError>, Never>

    init(prompt: [Int32], params: SamplingParams, sampler: TokenSampler, cancellation: CancelFlag,
         onToken: (@Sendable (Int) -> Void)?, continuation: CheckedContinuation<Result<Generation, LlamaError>, Never>) {
        self.prompt = prompt
        self.params = params
        self.sampler = sampler
        self.cancellation = cancellation
        self.onToken = onToken
        self.continuation = continuation
    }

    var isCancelled: Bool { cancellation.isSet }

    func finish(_ result: Result<Generation, LlamaError>) { continuation.resume(returning: result) }

    /// The result of a request cancelled before it got a sequence.
    func finishCancelledUnstarted() {
        finish(.success(Generation(text: "", promptTokens: prompt.count, generatedTokens: 0, promptMillis: 0,
                                   generationMillis: 0, stopReason: "cancelled")))
    }
}

/// Set once from any thread (a task's cancellation handler), read by the engine between decode steps.
public final class CancelFlag: Sendable {
    private let flag = Atomic<Bool>(false)
    public init() {}
    public func set() { flag.store(true, ordering: .relaxed) }
    public var isSet: Bool { flag.load(ordering: .relaxed) }
}

/// Milliseconds on the monotonic clock.
func monotonicMillis() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) * 1000 + Double(ts.tv_nsec) / 1e6
}
