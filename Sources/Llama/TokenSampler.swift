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
    /// When the chain starts with top-k and has no grammar: the k best logits are picked here and the chain runs
    /// on those alone (what its top-k would have left, in the same order), not on a copy of the whole vocabulary.
    private let prefilterK: Int
    private var candidates: [llama_token_data] = []

    /// `prefilter: false` runs the chain on the whole vocabulary (tests compare the two).
    init(_ params: SamplingParams, vocab: OpaquePointer, prefilter: Bool = true) throws(LlamaError) {
        if params.isPlainGreedy {
            chain = nil
            prefilterK = 0
            return
        }
        let chain = llama_sampler_chain_init(llama_sampler_chain_default_params())!
        var prefilterK = 0
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
            if params.topK > 0 {
                llama_sampler_chain_add(chain, llama_sampler_init_top_k(params.topK))
                if params.grammar == nil && prefilter { prefilterK = Int(params.topK) }
            }
            if params.topP >= 0 && params.topP < 1 { llama_sampler_chain_add(chain, llama_sampler_init_top_p(params.topP, 1)) }
            llama_sampler_chain_add(chain, llama_sampler_init_temp(params.temperature))
            llama_sampler_chain_add(chain, llama_sampler_init_dist(params.seed))
        }
        self.chain = chain
        self.prefilterK = prefilterK
    }

    deinit { if let chain { llama_sampler_free(chain) } }

    /// The next token from the logits at batch index `index` of the last decode (engine thread only).
    func sample(_ ctx: OpaquePointer, index: Int32, vocabularySize: Int) -> Int32 {
        guard let chain else { return Self.argmax(llama_get_logits_ith(ctx, index), count: vocabularySize) }
        guard prefilterK > 0 && prefilterK < vocabularySize else { return llama_sampler_sample(chain, ctx, index) }
        Self.largest(prefilterK, of: llama_get_logits_ith(ctx, index), count: vocabularySize, into: &candidates)
        return candidates.withUnsafeMutableBufferPointer { buf in
            var array = llama_token_data_array(data: buf.baseAddress, size: buf.count, selected: -1, sorted: true)
            llama_sampler_apply(chain, &array)
            let token = buf[Int(array.selected)].id
            llama_sampler_accept(chain, token)
            return token
        }
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

    /// The `k` largest values as token data, largest first (among equal values the lower token first).
    static func largest(_ k: Int, of values: UnsafePointer<Float>, count: Int, into out: inout [llama_token_data]) {
        out.removeAll(keepingCapacity: true)
        // Kept ascending while filling, so the smallest kept value is out[0] and most values fail one comparison.
        var floor = -Float.infinity
        for i in 0..<count {
            let v = values[i]
            if out.count == k && !(v > floor) { continue }
            if out.count == k { out.removeFirst() }
            var lo = 0, hi = out.count
            while lo < hi {
                let mid = (lo + hi) / 2
                if out[mid].logit < v { lo = mid + 1 } else { hi = mid }
            }
            out.insert(llama_token_data(id: Int32(i), logit: v, p: 0), at: lo)
            floor = out[0].logit
        }
        out.reverse()
    }
}
