/// What the engine has done since it started: what batching and prefix sharing saved, and the timing of the
/// decode steps that carried only generated tokens (the figure `llama-batched-bench` reports as S_TG).
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
    /// Tokens sampled across all sequences.
    public var generatedTokens = 0
    /// The most sequences that ever shared one decode call.
    public var mostSequencesInOneDecode = 0
    /// Decode steps without prompt tokens: how many, the generated tokens they decoded, their milliseconds.
    public var generationSteps = 0
    public var generationStepTokens = 0
    public var generationStepMillis = 0.0
    /// Requests finished (any way: done, cancelled, failed).
    public var finished = 0

    public init() {}
}
