/// What the engine has done since it started: what batching and prefix sharing saved, and the timing of the
/// steps that carried only generated tokens (the steps `llama-batched-bench` times for its S_TG).
public struct EngineStats: Sendable, Equatable {
    /// Sequences with a request (prompt or generation in progress).
    public var running = 0
    /// Requests waiting for a free sequence.
    public var waiting = 0
    /// Sequences that still hold KV cells: equals `running` unless a finished sequence leaked its cache.
    public var sequencesHoldingCache = 0
    /// `llama_decode` calls.
    public var decodeCalls = 0
    /// Prompt tokens evaluated by llama.cpp.
    public var promptTokensEvaluated = 0
    /// Prompt tokens whose KV was copied from another sequence instead (prefix sharing).
    public var promptTokensReused = 0
    /// Whole-cache copies between sequences (prefix sharing, compaction).
    public var cacheCopies = 0
    /// Tokens sampled across all sequences.
    public var generatedTokens = 0
    /// Tokens sampled under a grammar, and how many of them the grammar allowed as drawn without it (one token
    /// checked instead of the grammar applied to the whole vocabulary: `TokenSampler`).
    public var grammarTokens = 0
    public var grammarTokensChecked = 0
    /// The most sequences that ever shared one decode call.
    public var mostSequencesInOneDecode = 0
    /// Steps whose decode carried no prompt tokens: how many, the generated tokens they decoded, and their
    /// milliseconds from the step's start to its end (intake, batch, decode, sampling, results).
    public var generationSteps = 0
    public var generationStepTokens = 0
    public var generationStepMillis = 0.0
    /// The same steps by how many sequences they decoded.
    public var generationStepsBySize: [Int: StepTotals] = [:]
    /// Requests finished (any way: done, cancelled, failed).
    public var finished = 0

    public init() {}
}

/// Steps, their total milliseconds, and how many of those were spent inside `llama_decode`.
public struct StepTotals: Sendable, Equatable {
    public var steps = 0
    public var millis = 0.0
    public var decodeMillis = 0.0

    public init() {}
}
