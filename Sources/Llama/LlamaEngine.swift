#if canImport(Glibc)
import Glibc
#endif
import CLlama
import HiveSystem

/// A model's one llama.cpp context, shared by every generation on the drone through continuous batching.
///
/// Why one context instead of one per slot: on a CPU a decode step costs about the same for one sequence as for
/// several (the weights are read once per step), so eight sequences decoded together cost far less than eight
/// decodes (llama.cpp's batched-bench: about twice the aggregate tokens/s at 8 sequences), and candidates of one
/// prompt can share its evaluation. Each sequence gets its own KV stream of `contextLength` cells (the drone's
/// `--ctx`; llama.cpp pads it to a multiple of 256): attention then only reads that sequence's cells, where
/// llama.cpp's unified cache makes every token scan every sequence's cells (batched-bench itself runs up to 27%
/// slower with it, Docs/BENCHMARKS.md). Sliding-window layers keep only their window (`swa_full` off, as
/// llama.cpp's tools do).
///
/// One OS thread (`DecodeLoop`) owns the context; `generate` hands it a request and suspends until the result.
/// What `generate` does before that (tokenizing the prompt, compiling its grammar) is synchronous and can take
/// seconds for a long prompt or a large schema: it runs on `ThreadPool.blocking`, never on the caller's
/// cooperative thread, so other tasks' results and replies do not wait for it.
public final class LlamaEngine: Sendable {
    public let model: LlamaModel
    /// Tokens one sequence may hold (prompt plus generated).
    public let contextLength: Int
    /// Sequences decoded together; more requests wait for a free one.
    public let sequences: Int
    private let inbox = EngineInbox()
    /// Token bytes for the samplers' UTF-8 check under a grammar (read only by the engine's thread).
    private let texts: TokenTexts

    /// `sequences` is capped by llama.cpp's limit (256). `promptChunk`: prompt tokens per step while other
    /// sequences are generating.
    public init(model: LlamaModel, sequences: Int = 1, contextLength: Int = 2048, threads: Int32 = 2,
                promptChunk: Int = 256) throws(LlamaError) {
        let sequences = min(max(1, sequences), 256)
        let n = contextLength > 0 ? contextLength : model.descriptor.contextLength
        self.model = model
        self.contextLength = n
        self.sequences = sequences
        self.texts = TokenTexts(vocab: model.vocab)
        let capacity = 512
        var params = llama_context_default_params()
        params.n_ctx = UInt32(clamping: n * sequences)
        params.n_batch = UInt32(capacity)
        params.n_ubatch = UInt32(capacity)
        params.n_seq_max = UInt32(sequences)
        params.kv_unified = false
        params.swa_full = false
        params.n_threads = threads
        params.n_threads_batch = threads
        params.no_perf = true
        LlamaRuntime.clearErrors()
        guard let ctx = llama_init_from_model(model.model, params) else {
            throw .contextFailed(LlamaRuntime.lastError() ?? "out of memory?")
        }
        // Compute threads that live as long as the context. Without them ggml starts and joins threads on every
        // `llama_decode` (every step): measured 0.75× llama-bench's generation rate that way.
        var tp = ggml_threadpool_params_default(threads)
        tp.poll = 50  // llama.cpp's own default: spin briefly between graph computations, then sleep
        let threadpool = ggml_threadpool_new(&tp)
        if let threadpool { llama_attach_threadpool(ctx, threadpool, threadpool) }
        let loop = DecodeLoop(model: model, ctx: ctx, threadpool: threadpool, inbox: inbox, sequences: sequences,
                              contextLength: n, batchCapacity: capacity, promptChunk: promptChunk)
        // The decode loop blocks in llama.cpp for milliseconds at a time: its own thread, never Swift's
        // cooperative pool. It ends when the engine is released.
        OSThread(name: "llama-decode") { loop.run() }.detach()
    }

    /// Stops the engine thread: requests still running or waiting fail with `engineStopped`.
    deinit { inbox.stop() }

    /// What the engine has done so far (a snapshot taken after its last step).
    public var stats: EngineStats { inbox.stats }

    /// The engine takes no new request until `count` are queued, then all of them in one step (tests use this to
    /// make requests join together, or mid-flight at a chosen token, without timing assumptions).
    func hold(untilQueued count: Int) { inbox.hold(untilQueued: count) }

    /// Generates from `prompt` (already templated). Task cancellation ends the generation at the next step with
    /// stop reason `cancelled` and frees its sequence. A prompt of `contextLength` tokens or more fails only this
    /// request; so does a grammar llama.cpp cannot compile. `onToken` runs on the engine thread after each token.
    public func generate(prompt: String, params: SamplingParams,
                         onToken: (@Sendable (Int) -> Void)? = nil) async throws(LlamaError) -> Generation {
        try await generate(text: prompt, tokens: nil, params: params, onToken: onToken, onQueued: nil)
    }

    /// Generates from prompt tokens (BOS included when the model wants one).
    public func generate(tokens: [Int32], params: SamplingParams,
                         onToken: (@Sendable (Int) -> Void)? = nil) async throws(LlamaError) -> Generation {
        try await generate(text: nil, tokens: tokens, params: params, onToken: onToken, onQueued: nil)
    }

    /// `onQueued` runs once the request is in the engine's queue, or has failed before getting there (tests use
    /// it to queue requests in a known order, hence known sequence ids).
    func generate(tokens: [Int32], params: SamplingParams, onToken: (@Sendable (Int) -> Void)?,
                  onQueued: (@Sendable () -> Void)?) async throws(LlamaError) -> Generation {
        try await generate(text: nil, tokens: tokens, params: params, onToken: onToken, onQueued: onQueued)
    }

    /// Tokenizes `text` (when given, else takes `tokens`) and builds the sampler, both on `ThreadPool.blocking`
    /// in one hop, then queues the request.
    private func generate(text: String?, tokens given: [Int32]?, params: SamplingParams,
                          onToken: (@Sendable (Int) -> Void)?,
                          onQueued: (@Sendable () -> Void)?) async throws(LlamaError) -> Generation {
        let (model, texts, contextLength) = (self.model, self.texts, self.contextLength)
        let tokens: [Int32]
        let sampler: TokenSampler
        do throws(LlamaError) {
            (tokens, sampler) = try await ThreadPool.blocking.value { () throws(LlamaError) -> ([Int32], TokenSampler) in
                let tokens: [Int32]
                if let given { tokens = given } else { tokens = try model.tokenize(text ?? "") }
                guard !tokens.isEmpty else { throw LlamaError.emptyPrompt }
                guard tokens.count < contextLength else { throw LlamaError.promptTooLong(tokens: tokens.count, context: contextLength) }
                return (tokens, try TokenSampler(params, vocab: model.vocab, texts: texts))
            }
        } catch {
            onQueued?()
            throw error
        }
        let cancellation = CancelFlag()
        let inbox = self.inbox
        let result = await withTaskCancellationHandler {
            await withCheckedContinuation { (c: CheckedContinuation<Result<Generation, LlamaError>, Never>) in
                let request = EngineRequest(prompt: tokens, params: params, sampler: sampler, cancellation: cancellation,
                                            onToken: onToken, continuation: c)
                if !inbox.submit(request) { request.finish(.failure(.engineStopped)) }
                onQueued?()
            }
        } onCancel: {
            cancellation.set()
            inbox.wake()
        }
        return try result.get()
    }
}
