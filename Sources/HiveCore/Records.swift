public typealias GoalID = String
public typealias TaskID = String
public typealias DroneID = String

/// Where a task is in its life (DESIGN.md). `failed`/`expired` are transitions, not resting states: a failed or
/// expired attempt goes back to `pending` while attempts remain, else the task is `dead`.
public enum TaskState: String, Codable, Sendable {
    case pending, leased, running
    /// Side-effecting work parked until an operator approves or denies it (or its timeout denies it); see `Approval`.
    case awaitingApproval = "awaiting_approval"
    /// A fork waiting on its children.
    case waiting
    case succeeded, dead, cancelled

    public var isFinal: Bool { self == .succeeded || self == .dead || self == .cancelled }
}

public enum GoalState: String, Codable, Sendable {
    case running, succeeded, failed, cancelled

    public var isFinal: Bool { self != .running }
}

/// A drone's lease on a task. Results must carry the token; a stale token is dropped.
public struct Lease: Codable, Sendable, Equatable {
    public var drone: DroneID
    public var token: String
    /// Monotonic-clock millis after which the lease expires.
    public var deadline: Int64
    /// True when the lease is a core-tier call (counted against `budget.max_core_calls`).
    public var core: Bool?
    /// The drone's tier when a per-tier token budget counts it, and the worst-case cost reserved for the call.
    public var tier: Tier?
    public var cost: Double?
}

/// What a model call cost: tokens and time, per model (the economic ledger adds these up per goal and tier).
public struct Usage: Codable, Sendable, Equatable {
    public var model: String
    public var promptTokens: Int
    public var generatedTokens: Int
    public var promptMillis: Double
    public var generationMillis: Double

    public init(model: String, promptTokens: Int, generatedTokens: Int, promptMillis: Double, generationMillis: Double) {
        self.model = model
        self.promptTokens = promptTokens
        self.generatedTokens = generatedTokens
        self.promptMillis = promptMillis
        self.generationMillis = generationMillis
    }

    public var promptTokensPerSecond: Double { promptMillis > 0 ? Double(promptTokens) * 1000 / promptMillis : 0 }
    public var generationTokensPerSecond: Double { generationMillis > 0 ? Double(generatedTokens) * 1000 / generationMillis : 0 }

    enum CodingKeys: String, CodingKey {
        case model
        case promptTokens = "prompt_tokens", generatedTokens = "generated_tokens"
        case promptMillis = "prompt_ms", generationMillis = "generation_ms"
    }
}

/// A model a drone serves, as it reports it.
public struct ModelDescriptor: Codable, Sendable, Equatable {
    public var name: String
    public var architecture: String
    public var parameters: UInt64
    public var sizeBytes: UInt64
    /// llama.cpp's one-line description (architecture, size, quantization).
    public var description: String
    public var contextLength: Int
    public var sha256: String
    /// Whether the GGUF carries a chat template (instruct models do; base models usually do not).
    public var chatTemplate: Bool?
    /// How the drone prompts it (`--prompt-format`; auto: chat when it has a template), so honeycombd sends
    /// completion-model drones the completion rendering of plan calls. Absent (older drones): chat.
    public var promptFormat: PromptFormat?

    public init(name: String, architecture: String, parameters: UInt64, sizeBytes: UInt64, description: String,
                contextLength: Int, sha256: String, chatTemplate: Bool? = nil, promptFormat: PromptFormat? = nil) {
        self.chatTemplate = chatTemplate
        self.promptFormat = promptFormat
        self.name = name
        self.architecture = architecture
        self.parameters = parameters
        self.sizeBytes = sizeBytes
        self.description = description
        self.contextLength = contextLength
        self.sha256 = sha256
    }

    enum CodingKeys: String, CodingKey {
        case name, architecture, parameters, description, sha256
        case sizeBytes = "size_bytes", contextLength = "context_length"
        case chatTemplate = "chat_template", promptFormat = "prompt_format"
    }
}

/// What an attempt produced, as honeycombd journals and keeps it: the drone's `TaskProduct` (clamped) with who
/// produced it and what it cost.
public struct TaskOutput: Codable, Sendable, Equatable, TaskProductCarrier {
    public var drone: DroneID
    /// Its fields read as the output's own (`output.exitCode`).
    public var product: TaskProduct
    /// The tier of the drone that produced this (for the economic ledger).
    public var tier: Tier?
    /// What the call cost at the configured price of its model, when it has one.
    public var cost: Double?

    public init(drone: DroneID, product: TaskProduct, tier: Tier? = nil, cost: Double? = nil) {
        self.drone = drone
        self.product = product
        self.tier = tier
        self.cost = cost
    }

    public init(drone: DroneID, exitCode: Int? = nil, output: String? = nil, error: String? = nil, wallMillis: Int? = nil,
                usage: Usage? = nil, permanent: Bool? = nil, tier: Tier? = nil, cost: Double? = nil) {
        self.init(drone: drone, product: TaskProduct(exitCode: exitCode, output: output, error: error, wallMillis: wallMillis,
                                                     usage: usage, permanent: permanent),
                  tier: tier, cost: cost)
    }

    /// The product's keys sit beside the output's own (the journal's format predates `TaskProduct`).
    enum CodingKeys: String, TaskProductCodingKeys {
        case drone, tier, cost
        case output, error, usage, permanent, fuel
        case exitCode = "exit_code", wallMillis = "wall_ms", outputBlob = "output_blob"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        drone = try c.decode(DroneID.self, forKey: .drone)
        product = try TaskProduct(from: c)
        tier = try c.decodeIfPresent(Tier.self, forKey: .tier)
        cost = try c.decodeIfPresent(Double.self, forKey: .cost)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(drone, forKey: .drone)
        try product.encode(to: &c)
        try c.encodeIfPresent(tier, forKey: .tier)
        try c.encodeIfPresent(cost, forKey: .cost)
    }
}

public struct TaskRecord: Codable, Sendable {
    public let id: TaskID
    public let goal: GoalID
    public let parent: TaskID?
    /// Position among its siblings (exec tasks see it as HIVE_TASK_INDEX).
    public let index: Int
    public let depth: Int
    public var kind: String
    public var name: String?
    public var tier: TierRequirement?
    public var requires: [String]
    public var input: TaskInput?
    public var timeoutMillis: Int
    public var maxAttempts: Int
    public var children: [TaskID] = []
    public var join: JoinPolicy?
    /// Children that succeeded, and that reached any final state (kept by `apply`, so joins cost O(1)).
    public var childrenSucceeded = 0
    public var childrenFinal = 0
    /// For a `vote` fork: successful children per normalized answer.
    public var votes: [String: Int]?
    public var state: TaskState
    public var attempts = 0
    public var lease: Lease?
    /// Drones that ran an attempt (a retry prefers others).
    public var tried: [DroneID] = []
    public var result: TaskOutput?
    /// Why the task ended dead or cancelled.
    public var reason: String?
    /// Why each recent attempt ended without success (`AttemptNote`; the latest `AttemptNote.keptPerTask`).
    public var failedAttempts: [AttemptNote]?
    /// Enqueue order: among equal priorities, older first.
    public var seq: Int64 = 0
    public var createdAt: Int64
    public var finishedAt: Int64?
    /// In a plan: the cognitive role of this call (or step node), its re-fork round, and for a critique or verify
    /// call the candidate it checks.
    public var role: Role?
    public var round: Int?
    public var candidate: TaskID?
    /// Drones this task should not run on when another can take it (a critic avoids the candidate's author).
    public var avoid: [DroneID]?
    /// Approvals (see `Approval.swift`): the declared policy (inherited from the fork or step above), the drone
    /// whose fork proposed it, what it waits for (kept after the decision) and who approved it.
    public var approval: ApprovalPolicy?
    public var proposedBy: DroneID?
    public var approvalRequest: ApprovalRequest?
    public var approvedBy: String?

    /// Plan, step and fork nodes do no work of their own.
    public var isStructural: Bool { kind == "fork" || kind == TaskSpec.planKind || kind == TaskSpec.stepKind }
}

public struct GoalRecord: Codable, Sendable {
    public let id: GoalID
    public var name: String?
    public var priority: Int
    public var budget: Budget
    public var root: TaskID
    public var state: GoalState = .running
    public var reason: String?
    public var createdAt: Int64
    public var deadline: Int64?
    public var finishedAt: Int64?
    public var taskCount = 0
    /// What its budgets have spent and reserved: tokens, per-tier tokens, cost, core calls.
    public internal(set) var budgetLedger = GoalBudgetLedger()
    /// A plan goal's steps and their progress.
    public var plan: PlanRecord?
    /// The trace its spans belong to (set at submission; absent for goals from before tracing).
    public var trace: TraceContext?

    /// Model tokens settled from finished calls; worst cases of the model calls now leased (`budgetLedger`).
    public var tokensSpent: Int { budgetLedger.tokensSpent }
    public var tokensReserved: Int { budgetLedger.tokensReserved }
    /// Core-tier calls made (every ended core lease counts: the call ran or may have), and those now leased.
    public var coreCalls: Int { budgetLedger.coreCalls }
    public var coreReserved: Int { budgetLedger.coreReserved }
    /// Tokens per tier, spent and reserved (`budget.max_tokens_by_tier`); cost spent and reserved (`budget.max_cost`).
    public var tierTokensSpent: [String: Int] { budgetLedger.tierTokensSpent }
    public var tierTokensReserved: [String: Int] { budgetLedger.tierTokensReserved }
    public var costSpent: Double { budgetLedger.costSpent }
    public var costReserved: Double { budgetLedger.costReserved }
}

extension GoalRecord {
    enum CodingKeys: String, CodingKey {
        case id, name, priority, budget, root, state, reason, createdAt, deadline, finishedAt, taskCount
        case tokensSpent, tokensReserved, coreCalls, coreReserved, plan, tierTokensSpent, tierTokensReserved, costSpent, costReserved
        case trace
    }

    /// Snapshots from before token budgets lack the token counters: they decode as zero.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        id = try c.decode(GoalID.self, forKey: .id)
        name = try c.decodeIfPresent(String.self, forKey: .name)
        priority = try c.decode(Int.self, forKey: .priority)
        budget = try c.decode(Budget.self, forKey: .budget)
        root = try c.decode(TaskID.self, forKey: .root)
        state = try c.decode(GoalState.self, forKey: .state)
        reason = try c.decodeIfPresent(String.self, forKey: .reason)
        createdAt = try c.decode(Int64.self, forKey: .createdAt)
        deadline = try c.decodeIfPresent(Int64.self, forKey: .deadline)
        finishedAt = try c.decodeIfPresent(Int64.self, forKey: .finishedAt)
        taskCount = try c.decode(Int.self, forKey: .taskCount)
        budgetLedger = GoalBudgetLedger(
            tokensSpent: try c.decodeIfPresent(Int.self, forKey: .tokensSpent) ?? 0,
            tokensReserved: try c.decodeIfPresent(Int.self, forKey: .tokensReserved) ?? 0,
            coreCalls: try c.decodeIfPresent(Int.self, forKey: .coreCalls) ?? 0,
            coreReserved: try c.decodeIfPresent(Int.self, forKey: .coreReserved) ?? 0,
            tierTokensSpent: try c.decodeIfPresent([String: Int].self, forKey: .tierTokensSpent) ?? [:],
            tierTokensReserved: try c.decodeIfPresent([String: Int].self, forKey: .tierTokensReserved) ?? [:],
            costSpent: try c.decodeIfPresent(Double.self, forKey: .costSpent) ?? 0,
            costReserved: try c.decodeIfPresent(Double.self, forKey: .costReserved) ?? 0)
        plan = try c.decodeIfPresent(PlanRecord.self, forKey: .plan)
        trace = try c.decodeIfPresent(TraceContext.self, forKey: .trace)
    }

    /// The budget counters stay flat keys beside the others, as snapshots have always held them.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id)
        try c.encodeIfPresent(name, forKey: .name)
        try c.encode(priority, forKey: .priority)
        try c.encode(budget, forKey: .budget)
        try c.encode(root, forKey: .root)
        try c.encode(state, forKey: .state)
        try c.encodeIfPresent(reason, forKey: .reason)
        try c.encode(createdAt, forKey: .createdAt)
        try c.encodeIfPresent(deadline, forKey: .deadline)
        try c.encodeIfPresent(finishedAt, forKey: .finishedAt)
        try c.encode(taskCount, forKey: .taskCount)
        let l = budgetLedger
        try c.encode(l.tokensSpent, forKey: .tokensSpent)
        try c.encode(l.tokensReserved, forKey: .tokensReserved)
        try c.encode(l.coreCalls, forKey: .coreCalls)
        try c.encode(l.coreReserved, forKey: .coreReserved)
        try c.encodeIfPresent(plan, forKey: .plan)
        try c.encode(l.tierTokensSpent, forKey: .tierTokensSpent)
        try c.encode(l.tierTokensReserved, forKey: .tierTokensReserved)
        try c.encode(l.costSpent, forKey: .costSpent)
        try c.encode(l.costReserved, forKey: .costReserved)
        try c.encodeIfPresent(trace, forKey: .trace)
    }
}

/// A drone as the registry knows it (not journaled: drones announce themselves again after a restart).
public struct DroneRecord: Codable, Sendable {
    /// `draining`: it said goodbye (SIGTERM) and finishes or releases its work; `left`: it then went quiet, as
    /// announced; `lost`: it went quiet without a word (killed, crashed, cut off).
    public enum State: String, Codable, Sendable {
        case active, draining, left, lost

        /// Still connected as far as honeycombd knows (heartbeats are welcome).
        public var isPresent: Bool { self == .active || self == .draining }
    }
    public let id: DroneID
    public var name: String
    public var tier: Tier
    public var slots: Int
    public var capabilities: Set<String>
    public var host: HostFacts?
    public var state: State = .active
    public var lastSeen: Int64
    public var running: Set<TaskID> = []
    /// The model it serves (its first model descriptor, or an API drone's `model:` capability), for prices.
    public var model: String?
    /// How its model is prompted (its first model's `prompt_format`; chat for API drones and older drones): the
    /// lease sends it the matching rendering of a call (`TaskInput.choosing`).
    public var promptFormat: PromptFormat = .chat
    public var completed = 0
    public var failed = 0
    /// Slots its last heartbeat showed busy with work not leased to it here (e.g. leases voided by a restart of
    /// honeycombd while the drone kept running them). The drone's own account of its slots is the truth.
    public var occupied = 0
    /// It gave back an assignment for lack of a free slot: nothing more is leased to it until its next heartbeat
    /// says how many slots are really free (without this, lease and release chase each other in a hot loop).
    public var saturated = false
    /// The drone process's `DroneHello.instance`.
    public var instance: String?
    /// Its tools' pins by name (`DroneHello.tools`): what a goal's agent tasks are pinned to.
    public var toolPins: [String: String]?
    /// Its tools' `ToolAdvert.bytes` by name (the definitions' prompt cost, for agents' token reservations).
    public var toolBytes: [String: Int]?
    /// The most assignments it takes in one message (its hello's `batch`, clamped to `max_batch`); nil: one.
    public var batch: Int?

    public var freeSlots: Int { state == .active && !saturated ? max(0, slots - running.count - occupied) : 0 }
}

public struct HostFacts: Codable, Sendable, Equatable {
    public var hostname: String
    public var os: String
    public var cpus: Int
    public var memoryMB: Int

    public init(hostname: String, os: String, cpus: Int, memoryMB: Int) {
        self.hostname = hostname
        self.os = os
        self.cpus = cpus
        self.memoryMB = memoryMB
    }

    enum CodingKeys: String, CodingKey { case hostname, os, cpus, memoryMB = "memory_mb" }
}
