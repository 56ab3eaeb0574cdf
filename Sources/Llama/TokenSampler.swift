import CLlama

/// One sequence's sampler: llama.cpp's chain (top-k, top-p, temperature and a seeded draw), or for greedy
/// decoding no chain at all, just the argmax of the logits; plus, apart from the chain, an optional grammar.
///
/// The greedy shortcut matters for batching: llama.cpp's `llama_sampler_sample` first copies every logit into a
/// candidate array (262k entries for Gemma), serially on the decode thread while the compute threads wait; an
/// argmax over the logits in place picks the same token (the first maximum, as llama.cpp's greedy sampler does)
/// at a fraction of the cost.
///
/// The grammar is checked, not applied, as llama.cpp's own server samples (`common_sampler_sample`): the token
/// is drawn without it, then only that token is checked against the grammar; only when the grammar rejects it
/// is the grammar applied to the whole vocabulary and the token drawn again. Applying a grammar costs one
/// match of every token's text against the grammar's stacks: for Gemma's 262k tokens that made JSON 2.5–4×
/// slower than free text, while a model writing JSON picks an allowed token most of the time. Greedy output is
/// the same either way (the argmax, when allowed, is the argmax of the allowed tokens); a sampled token is
/// drawn from the unconstrained distribution when the grammar allows it, the redraw otherwise
/// (`SamplingParams.grammarFirst` keeps the exact grammar-first draw). Either way the grammar advances by the
/// token taken, so the output stays in its language; under a grammar the output is also kept well-formed UTF-8
/// (`UTF8Guard`: llama.cpp's grammar lets malformed bytes through).
///
/// Built on the caller's thread (a grammar that does not compile fails the request there), then used only by
/// the engine's thread: `@unchecked Sendable` is that hand-over.
final class TokenSampler: @unchecked Sendable {
    /// Nil for greedy decoding (argmax).
    private let chain: UnsafeMutablePointer<llama_sampler>?
    /// Not in the chain: it is checked against the chain's pick first (see above).
    private let grammar: UnsafeMutablePointer<llama_sampler>?
    private let grammarFirst: Bool
    /// Under a grammar: the tokens' bytes, and where the output stands in UTF-8.
    private let texts: TokenTexts?
    private var utf8 = UTF8Guard()
    /// When the chain starts with top-k: the k best logits are picked here and the chain runs on those alone
    /// (what its top-k would have left, in the same order), not on a copy of the whole vocabulary.
    private let prefilterK: Int
    private var candidates: [llama_token_data] = []

    /// How a token came out of the grammar (counted in `EngineStats`).
    enum GrammarPath: Equatable {
        /// No grammar.
        case none
        /// The grammar allowed the unconstrained pick: one token checked.
        case checked
        /// The grammar was applied to the whole vocabulary (the pick was rejected, or `grammarFirst`).
        case applied
    }

    /// The greedy fallback after a rejection looks for the best allowed token among this many best logits
    /// before applying the grammar to the whole vocabulary (the result is the same; only the cost differs).
    static let greedyRescan = 64

    /// `prefilter: false` runs the chain on the whole vocabulary (tests compare the two). `texts`: the engine's
    /// table of token bytes (shared by its sequences; only its thread reads it), made here when nil.
    init(_ params: SamplingParams, vocab: OpaquePointer, texts: TokenTexts? = nil, prefilter: Bool = true) throws(LlamaError) {
        grammarFirst = params.grammarFirst
        if let text = params.grammar {
            LlamaRuntime.clearErrors()
            guard let g = llama_sampler_init_grammar(vocab, text, "root") else {
                throw .grammarFailed(LlamaRuntime.lastError() ?? "the grammar does not parse")
            }
            grammar = g
            self.texts = texts ?? TokenTexts(vocab: vocab)
        } else {
            grammar = nil
            self.texts = nil
        }
        // Defence in depth (callers validate): NaN or infinite settings fall back to greedy / no filter.
        guard params.temperature > 0 && params.temperature.isFinite else {
            chain = nil
            prefilterK = 0
            return
        }
        let chain = llama_sampler_chain_init(llama_sampler_chain_default_params())!
        var prefilterK = 0
        if params.topK > 0 {
            llama_sampler_chain_add(chain, llama_sampler_init_top_k(params.topK))
            if prefilter { prefilterK = Int(params.topK) }
        }
        if params.topP >= 0 && params.topP < 1 { llama_sampler_chain_add(chain, llama_sampler_init_top_p(params.topP, 1)) }
        llama_sampler_chain_add(chain, llama_sampler_init_temp(params.temperature))
        llama_sampler_chain_add(chain, llama_sampler_init_dist(params.seed))
        self.chain = chain
        self.prefilterK = prefilterK
    }

    deinit {
        if let chain { llama_sampler_free(chain) }
        if let grammar { llama_sampler_free(grammar) }
    }

    /// The next token from the logits at batch index `index` of the last decode (engine thread only); the chain
    /// and the grammar have accepted it.
    func sample(_ ctx: OpaquePointer, index: Int32, vocabularySize: Int) -> (token: Int32, grammar: GrammarPath) {
        let logits = llama_get_logits_ith(ctx, index)!
        guard let grammar else {
            let token = unconstrained(logits, count: vocabularySize)
            if let chain { llama_sampler_accept(chain, token) }
            return (token, .none)
        }
        var path = GrammarPath.applied
        var chosen: Int32?
        if !grammarFirst {
            let token = unconstrained(logits, count: vocabularySize)
            if allows(token) {
                chosen = token
                path = .checked
            } else if chain == nil {
                chosen = bestAllowed(logits, count: vocabularySize)
            }
        }
        let token = chosen ?? constrained(logits, count: vocabularySize, grammar: grammar)
        if let texts, !utf8.advance(over: texts.bytes(token)) { utf8 = UTF8Guard() }  // only when nothing was allowed
        llama_sampler_accept(grammar, token)
        if let chain { llama_sampler_accept(chain, token) }
        return (token, path)
    }

    /// The chain's (or argmax's) pick from the logits, no grammar.
    private func unconstrained(_ logits: UnsafePointer<Float>, count: Int) -> Int32 {
        guard let chain else { return Self.argmax(logits, count: count) }
        let prefiltered = prefilterK > 0 && prefilterK < count
        if prefiltered {
            Self.largest(prefilterK, of: logits, count: count, into: &candidates)
        } else {
            fill(logits, count: count)
        }
        return apply(chain, sorted: prefiltered)
    }

    /// The grammar applied to the whole vocabulary, then the chain (or the first maximum) over what it allows.
    private func constrained(_ logits: UnsafePointer<Float>, count: Int, grammar: UnsafeMutablePointer<llama_sampler>) -> Int32 {
        fill(logits, count: count)
        candidates.withUnsafeMutableBufferPointer { buf in
            var array = llama_token_data_array(data: buf.baseAddress, size: buf.count, selected: -1, sorted: false)
            llama_sampler_apply(grammar, &array)
        }
        if let texts {
            // Malformed UTF-8 out too, unless that leaves nothing (then the grammar alone decides).
            let malformed = candidates.indices.filter {
                candidates[$0].logit != -Float.infinity && !texts.allows(candidates[$0].id, after: utf8)
            }
            if malformed.count < candidates.lazy.filter({ $0.logit != -Float.infinity }).count {
                for i in malformed { candidates[i].logit = -Float.infinity }
            }
        }
        if let chain { return apply(chain, sorted: false) }
        var best = 0
        for i in candidates.indices where candidates[i].logit > candidates[best].logit { best = i }
        return candidates[best].id
    }

    /// Greedy after a rejection: the grammar applied to the best `greedyRescan` logits (in order, so the first
    /// one it allows is the argmax of everything it allows); nil when it allows none of them.
    private func bestAllowed(_ logits: UnsafePointer<Float>, count: Int) -> Int32? {
        guard let grammar, Self.greedyRescan < count else { return nil }
        Self.largest(Self.greedyRescan, of: logits, count: count, into: &candidates)
        return candidates.withUnsafeMutableBufferPointer { buf -> Int32? in
            var array = llama_token_data_array(data: buf.baseAddress, size: buf.count, selected: -1, sorted: true)
            llama_sampler_apply(grammar, &array)
            return buf.first(where: { $0.logit != -Float.infinity && well(formed: $0.id) })?.id
        }
    }

    /// Whether `token`'s bytes continue the output as well-formed UTF-8.
    private func well(formed token: Int32) -> Bool {
        guard let texts else { return true }
        return utf8.allows(texts.bytes(token))
    }

    /// Whether the grammar, in its current state, allows `token` next (one token matched, not the vocabulary),
    /// and its bytes are well-formed there.
    private func allows(_ token: Int32) -> Bool {
        guard let grammar else { return true }
        guard well(formed: token) else { return false }
        var one = llama_token_data(id: token, logit: 1, p: 0)
        return withUnsafeMutablePointer(to: &one) { p in
            var array = llama_token_data_array(data: p, size: 1, selected: -1, sorted: false)
            llama_sampler_apply(grammar, &array)
            return array.size == 1 && array.data[0].logit != -Float.infinity
        }
    }

    private func fill(_ logits: UnsafePointer<Float>, count: Int) {
        candidates.removeAll(keepingCapacity: true)
        candidates.reserveCapacity(count)
        for i in 0..<count { candidates.append(llama_token_data(id: Int32(i), logit: logits[i], p: 0)) }
    }

    /// Runs `chain` over `candidates` (which it may reorder and filter); returns its selection.
    private func apply(_ chain: UnsafeMutablePointer<llama_sampler>, sorted: Bool) -> Int32 {
        candidates.withUnsafeMutableBufferPointer { buf in
            var array = llama_token_data_array(data: buf.baseAddress, size: buf.count, selected: -1, sorted: sorted)
            llama_sampler_apply(chain, &array)
            return array.data[Int(array.selected)].id
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
