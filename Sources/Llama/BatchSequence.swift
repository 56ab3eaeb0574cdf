/// A request while it holds one of the engine's llama.cpp sequence ids: its prompt's progress into the KV cache,
/// the token it sampled but has not decoded yet, its text and timings. Engine thread only.
final class BatchSequence {
    /// The llama.cpp sequence id (changes when the engine compacts ids).
    var id: Int32
    let request: EngineRequest
    /// Tokens whose KV this sequence holds, at positions 0..<cached.count (prompt first, then generated tokens).
    var cached: [Int32] = []
    /// Sampled and not yet decoded; nil while the prompt is still being evaluated.
    var pending: Int32?
    /// Where this sequence's logits are in the last decode's output, and for which position; nil when that decode
    /// produced none for it. Valid until the next decode.
    var output: (index: Int32, position: Int)?
    /// Prompt tokens this step's batch carries for it.
    var chunk = 0
    var text: GeneratedText
    var generated = 0
    var reused = 0
    let admittedAt: Double
    var promptDoneAt: Double?
    /// Why it ended (`eos`, `stop`, `length`, `context`, `cancelled`), or the error that ended it.
    var end: Result<String, LlamaError>?

    init(id: Int32, request: EngineRequest, now: Double) {
        self.id = id
        self.request = request
        self.admittedAt = now
        self.text = GeneratedText(stops: request.params.stop)
    }

    var prompt: [Int32] { request.prompt }
    var isPrefilling: Bool { promptDoneAt == nil }
    var remainingPrompt: Int { prompt.count - cached.count }

    func generation(finishedAt now: Double, reason: String) -> Generation {
        let promptEnd = promptDoneAt ?? now
        return Generation(text: text.text, promptTokens: prompt.count, generatedTokens: generated,
                          promptMillis: promptEnd - admittedAt, generationMillis: now - promptEnd,
                          stopReason: reason, reusedPromptTokens: reused)
    }
}

/// Which sequence a prefilling one can copy its prompt's KV from, and whether it should wait for one that is
/// still evaluating the same prefix. Pure functions over token arrays (the engine applies the copies).
///
/// Each sequence has its own KV stream (see `LlamaEngine`), so a copy duplicates the donor's whole cache: it is
/// made once, when the donor holds all of the prefix it ever will, and only when it saves enough evaluation.
enum PrefixSharing {
    /// Length of the common prefix of `a` and `b`.
    static func commonPrefix(_ a: [Int32], _ b: [Int32]) -> Int {
        let n = min(a.count, b.count)
        var i = 0
        while i < n && a[i] == b[i] { i += 1 }
        return i
    }

    /// What a prefilling sequence can take from a donor.
    enum Take: Equatable {
        /// Nothing worth copying (yet).
        case nothing
        /// Copy positions 0..<upTo; the reader evaluates the rest of its prompt itself (at least its last token:
        /// it needs logits of its own).
        case prefix(upTo: Int)
        /// The donor's cache holds the whole prompt and its last logits are for the prompt's last token: copy it
        /// and sample the first token from those logits, evaluating nothing.
        case whole
    }

    /// The least worth sharing short of a whole prompt: evaluating fewer tokens costs less than copying a cache,
    /// and every prompt shares its BOS with every other.
    static let minimumShare = 32

    /// For a reader with `prompt`, `have` tokens of it cached, and a donor that holds `donorCached`, is evaluating
    /// (or has evaluated) `donorPrompt`, and whose last decode produced logits for position `donorOutput`.
    static func take(prompt: [Int32], have: Int, donorCached: [Int32], donorPrompt: [Int32], donorOutput: Int?) -> Take {
        let common = commonPrefix(donorCached, prompt)
        if common == prompt.count, donorOutput == prompt.count - 1 { return .whole }
        if donorCached.count < donorPrompt.count && commonPrefix(donorPrompt, prompt) > common { return .nothing }
        let upTo = min(common, prompt.count - 1)
        return worthSharing(upTo: upTo, have: have, wholePrompt: common == prompt.count) ? .prefix(upTo: upTo) : .nothing
    }

    static func worthSharing(upTo: Int, have: Int, wholePrompt: Bool) -> Bool {
        upTo > have && (upTo - have >= minimumShare || wholePrompt)
    }

    /// True when `earlier` (admitted before the reader, still evaluating its prompt) will put more of the reader's
    /// prompt into the cache than the reader has: the reader waits instead of evaluating the same tokens twice.
    static func shouldWait(prompt: [Int32], have: Int, earlierPrompt: [Int32]) -> Bool {
        let common = commonPrefix(earlierPrompt, prompt)
        if common == prompt.count && common == earlierPrompt.count { return have < prompt.count }  // identical: its logits too
        return worthSharing(upTo: min(common, prompt.count - 1), have: have, wholePrompt: common == prompt.count)
    }
}
