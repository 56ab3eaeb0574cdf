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
    /// Apply the grammar to the whole vocabulary before every draw (llama.cpp's `grammar_first`): a sampled token
    /// then comes from exactly the allowed tokens' distribution, at the cost of matching every token's text
    /// each step. Off: the unconstrained pick is checked and kept when allowed (`TokenSampler`). Greedy output
    /// is the same either way; benchmarks and tests compare the two.
    public var grammarFirst = false

    public init() {}
}

/// One generation's text, token counts and timings.
///
/// `promptMillis` runs from the moment the request got a sequence in the engine to the moment its first token's
/// logits were ready (its own prompt chunks, plus whatever else shared those decode calls); `generationMillis`
/// from then to its last token. Time spent queued for a free sequence is in neither.
public struct Generation: Sendable, Equatable {
    public var text: String
    public var promptTokens: Int
    public var generatedTokens: Int
    public var promptMillis: Double
    public var generationMillis: Double
    /// `eos`, `stop` (a stop string), `length` (max tokens), `context` (context full) or `cancelled`.
    public var stopReason: String
    /// Prompt tokens whose KV was copied from another sequence with the same prefix instead of evaluated.
    public var reusedPromptTokens = 0

    public var promptTokensPerSecond: Double { promptMillis > 0 ? Double(promptTokens) / promptMillis * 1000 : 0 }
    public var generationTokensPerSecond: Double { generationMillis > 0 ? Double(generatedTokens) / generationMillis * 1000 : 0 }
}
