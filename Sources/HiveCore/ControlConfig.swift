/// What one million tokens of a model cost, in whatever unit `budget.max_cost` is given in.
public struct ModelPrice: Codable, Sendable, Equatable {
    public var promptPerMTok: Double
    public var generatedPerMTok: Double

    public init(promptPerMTok: Double, generatedPerMTok: Double) {
        self.promptPerMTok = promptPerMTok
        self.generatedPerMTok = generatedPerMTok
    }

    /// What a call with this usage cost.
    public func cost(promptTokens: Int, generatedTokens: Int) -> Double {
        (Double(promptTokens) * promptPerMTok + Double(generatedTokens) * generatedPerMTok) / 1_000_000
    }

    enum CodingKeys: String, CodingKey { case promptPerMTok = "prompt_per_mtok", generatedPerMTok = "generated_per_mtok" }
}

/// Timing knobs of the control plane, and model prices for cost budgets.
public struct ControlConfig: Sendable, Equatable {
    public var heartbeatMillis = 1_000
    /// A drone silent this long is lost and its tasks are re-dispatched.
    public var lostAfterMillis = 1_500
    public var defaultTimeoutMillis = 60_000
    /// Extra time on top of a task's timeout before its lease expires (the drone enforces the timeout itself).
    public var leaseGraceMillis = 2_000
    /// Prices by model name (as drones announce it; `*` for any other model). A model without a price is free.
    public var prices: [String: ModelPrice] = [:]
    /// The largest submission honeycombd reads, in bytes (`max_spec_bytes`); checked before decoding.
    public var maxSpecBytes = SpecLimits.defaultSpecBytes
    /// API replies waiting for the journal at once (`max_replies_awaiting_journal`): requests are applied in order
    /// and their replies wait for durability beside the request loop; past this many the loop waits for one to be
    /// sent before it reads the next request (nothing is refused). Bounds the memory of a stalled journal's backlog.
    public var maxRepliesAwaitingJournal = 1024
    /// Drones in the registry at once (`max_drones`); drones that left or were lost are forgotten first.
    public var maxDrones = 10_000
    /// Results read from one drone message and assignments sent in one (`max_batch`; `DroneBatch`). Entries of a
    /// result list past it are refused.
    public var maxBatch = DroneBatch.defaultMaxBatch

    public init() {}
}
