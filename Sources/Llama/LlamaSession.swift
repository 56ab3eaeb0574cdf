#if canImport(Glibc)
import Glibc
#endif
import CLlama

/// Sampling settings from a task.
public struct SamplingParams: Sendable, Equatable {
    /// 0 means greedy (deterministic whatever the seed).
    public var temperature: Float = 0.8
    public var topK: Int32 = 40
    public var topP: Float = 0.95
    public var seed: UInt32 = 0xC0FFEE
    public var maxTokens = 128
    public var stop: [String] = []
    /// A GBNF grammar the output must match (see `JSONGrammar`); nil for free text.
    public var grammar: String?
    /// Keep generating through end-of-generation tokens (benchmarks: random weights may emit EOS at any step).
    public var ignoreEndOfGeneration = false

    public init() {}
}

/// One generation's text, token counts and timings.
public struct Generation: Sendable, Equatable {
    public var text: String
    public var promptTokens: Int
    public var generatedTokens: Int
    public var promptMillis: Double
    public var generationMillis: Double
    /// `eos`, `stop` (a stop string), `length` (max tokens), `context` (context full) or `cancelled`.
    public var stopReason: String

    public var promptTokensPerSecond: Double { promptMillis > 0 ? Double(promptTokens) / promptMillis * 1000 : 0 }
    public var generationTokensPerSecond: Double { generationMillis > 0 ? Double(generatedTokens) / generationMillis * 1000 : 0 }
}

/// A llama.cpp context over a shared `LlamaModel`: the KV cache for one sequence at a time.
///
/// Each drone slot gets its own session (separate contexts rather than sequences in one context): slots then
/// never contend for a context or a decode call, and a long prompt in one slot cannot stall another; the
/// weights are still loaded once. Not thread-safe: one generation at a time, on the caller's thread (a drone
/// runs it on an OS thread, never on Swift's cooperative pool).
public final class LlamaSession: @unchecked Sendable {
    public let model: LlamaModel
    public let contextLength: Int
    private let ctx: OpaquePointer
    /// Compute threads that live as long as the session. Without one, ggml starts and joins threads on every
    /// `llama_decode` (every generated token): measured 0.75× llama-bench's generation rate that way.
    private let threadpool: OpaquePointer?

    public init(model: LlamaModel, contextLength: Int = 2048, threads: Int32 = 2) throws(LlamaError) {
        self.model = model
        let n = contextLength > 0 ? contextLength : model.descriptor.contextLength
        var params = llama_context_default_params()
        params.n_ctx = UInt32(clamping: n)
        params.n_batch = UInt32(clamping: n)
        params.n_ubatch = UInt32(clamping: min(n, 512))
        params.n_threads = threads
        params.n_threads_batch = threads
        params.no_perf = true
        LlamaRuntime.clearErrors()
        guard let c = llama_init_from_model(model.model, params) else {
            throw .contextFailed(LlamaRuntime.lastError() ?? "out of memory?")
        }
        ctx = c
        self.contextLength = n
        var tp = ggml_threadpool_params_default(threads)
        tp.poll = 50  // llama.cpp's own default: spin briefly between graph computations, then sleep
        threadpool = ggml_threadpool_new(&tp)
        if let threadpool { llama_attach_threadpool(c, threadpool, threadpool) }
    }

    deinit {
        llama_free(ctx)
        if let threadpool { ggml_threadpool_free(threadpool) }
    }

    private static func millis() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) * 1000 + Double(ts.tv_nsec) / 1e6
    }

    /// Generates from `prompt` (already templated). `isCancelled` is polled between tokens.
    public func generate(prompt: String, params: SamplingParams, isCancelled: () -> Bool = { false }) throws(LlamaError) -> Generation {
        llama_memory_clear(llama_get_memory(ctx), true)
        var tokens = try model.tokenize(prompt)
        if tokens.count >= contextLength { throw .promptTooLong(tokens: tokens.count, context: contextLength) }
        let t0 = Self.millis()
        let rc = tokens.withUnsafeMutableBufferPointer { llama_decode(ctx, llama_batch_get_one($0.baseAddress, Int32($0.count))) }
        guard rc == 0 else { throw .decodeFailed(rc) }
        let promptMillis = Self.millis() - t0

        let chain = llama_sampler_chain_init(llama_sampler_chain_default_params())!
        defer { llama_sampler_free(chain) }
        if let grammar = params.grammar {
            // First in the chain: every later sampler only ever sees tokens the grammar allows.
            guard let g = llama_sampler_init_grammar(model.vocab, grammar, "root") else { throw .grammarFailed }
            llama_sampler_chain_add(chain, g)
        }
        // Defence in depth (callers validate): NaN or infinite settings fall back to greedy / no filter.
        if !(params.temperature > 0) || !params.temperature.isFinite {
            llama_sampler_chain_add(chain, llama_sampler_init_greedy())
        } else {
            if params.topK > 0 { llama_sampler_chain_add(chain, llama_sampler_init_top_k(params.topK)) }
            if params.topP >= 0 && params.topP < 1 { llama_sampler_chain_add(chain, llama_sampler_init_top_p(params.topP, 1)) }
            llama_sampler_chain_add(chain, llama_sampler_init_temp(params.temperature))
            llama_sampler_chain_add(chain, llama_sampler_init_dist(params.seed))
        }

        let stops = params.stop.filter { !$0.isEmpty }.map { Array($0.utf8) }
        var bytes: [UInt8] = []
        var generated = 0
        var reason = "length"
        let t1 = Self.millis()
        while generated < params.maxTokens {
            if isCancelled() { reason = "cancelled"; break }
            if tokens.count + generated >= contextLength { reason = "context"; break }
            var token = llama_sampler_sample(chain, ctx, -1)
            if model.isEndOfGeneration(token) && !params.ignoreEndOfGeneration { reason = "eos"; break }
            bytes.append(contentsOf: model.piece(token))
            generated += 1
            if let cut = Self.firstStop(stops, in: bytes) {
                bytes.removeSubrange(cut...)
                reason = "stop"
                break
            }
            let rc = llama_decode(ctx, llama_batch_get_one(&token, 1))
            guard rc == 0 else { throw .decodeFailed(rc) }
        }
        let generationMillis = Self.millis() - t1
        return Generation(text: Self.completeUTF8(bytes), promptTokens: tokens.count, generatedTokens: generated,
                          promptMillis: promptMillis, generationMillis: generationMillis, stopReason: reason)
    }

    /// Where the earliest stop string begins, if any.
    static func firstStop(_ stops: [[UInt8]], in bytes: [UInt8]) -> Int? {
        var best: Int?
        for s in stops where s.count <= bytes.count {
            let from = max(0, bytes.count - s.count - 64)  // only the tail can have changed
            var i = from
            while i + s.count <= bytes.count {
                if bytes[i..<(i + s.count)].elementsEqual(s) {
                    best = min(best ?? i, i)
                    break
                }
                i += 1
            }
        }
        return best
    }

    /// The text, without a trailing partial UTF-8 character (a token can end mid-character).
    static func completeUTF8(_ bytes: [UInt8]) -> String {
        var i = bytes.count - 1
        var continuation = 0
        while i >= 0 && bytes[i] & 0xC0 == 0x80 && continuation < 3 {
            i -= 1
            continuation += 1
        }
        if i >= 0 {
            let lead = bytes[i]
            let length = lead < 0x80 ? 1 : lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1
            if continuation + 1 < length { return String(decoding: bytes[..<i], as: UTF8.self) }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
