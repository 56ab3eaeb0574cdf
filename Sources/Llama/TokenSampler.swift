import CLlama

/// One sequence's sampler: llama.cpp's chain (grammar first, then top-k, top-p, temperature and a seeded draw),
/// or for plain greedy decoding no chain at all, just the argmax of the logits.
///
/// The greedy shortcut matters for batching: llama.cpp's `llama_sampler_sample` first copies every logit into a
/// candidate array (262k entries for Gemma), serially on the decode thread while the compute threads wait; an
/// argmax over the logits in place picks the same token (the first maximum, as llama.cpp's greedy sampler does)
/// at a fraction of the cost. Built on the caller's thread (a grammar that does not compile fails the request
/// there), then used only by the engine's thread: `@unchecked Sendable` is that hand-over.
final class TokenSampler: @unchecked Sendable {
    private let chain: UnsafeMutablePointer<llama_sampler>?

    init(_ params: SamplingParams, vocab: OpaquePointer) throws(LlamaError) {
        if params.isPlainGreedy {
            chain = nil
            return
        }
        let chain = llama_sampler_chain_init(llama_sampler_chain_default_params())!
        if let grammar = params.grammar {
            // First in the chain: every later sampler only ever sees tokens the grammar allows.
            LlamaRuntime.clearErrors()
            guard let g = llama_sampler_init_grammar(vocab, grammar, "root") else {
                llama_sampler_free(chain)
                throw .grammarFailed(LlamaRuntime.lastError() ?? "the grammar does not parse")
            }
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
        self.chain = chain
    }

    deinit { if let chain { llama_sampler_free(chain) } }

    /// The next token from the logits at batch index `index` of the last decode (engine thread only).
    func sample(_ ctx: OpaquePointer, index: Int32, vocabularySize: Int) -> Int32 {
        if let chain { return llama_sampler_sample(chain, ctx, index) }
        return Self.argmax(llama_get_logits_ith(ctx, index), count: vocabularySize)
    }

    /// The index of the first largest value (NaN never wins).
    static func argmax(_ values: UnsafePointer<Float>, count: Int) -> Int32 {
        var best = 0
        var bestValue = values[0]
        var i = 1
        while i < count {
            if values[i] > bestValue {
                bestValue = values[i]
                best = i
            }
            i += 1
        }
        return Int32(best)
    }
}
