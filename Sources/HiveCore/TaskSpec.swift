/// What a task is asked to do. Backends read the fields they understand (`exec`: command, args, stdin, env;
/// `sleep`: sleepMillis; model backends: prompt and sampling, in their issue).
public struct TaskInput: Codable, Sendable, Equatable {
    public var command: String?
    public var args: [String]?
    public var stdin: String?
    public var env: [String: String]?
    public var sleepMillis: Int?
    public var text: String?
    /// Model tasks: the user prompt, an optional system message, and sampling.
    public var prompt: String?
    public var system: String?
    /// Apply the model's chat template (default true when the model has one).
    public var chat: Bool?
    public var maxTokens: Int?
    public var temperature: Double?
    public var topK: Int?
    public var topP: Double?
    public var seed: Int?
    public var stop: [String]?
    /// Model tasks: the output must be a JSON object (`json`), or match this JSON Schema (`json_schema`, as text).
    public var json: Bool?
    public var jsonSchema: String?
    /// Model tasks: the call's rendering for completion (base) models, chosen over `prompt` when the call is
    /// leased to one (`choosing(_:)`); plans fill it from their `ROLE.completion` frames.
    public var completion: CompletionPrompt?
    /// WebAssembly tasks: the module's SHA-256 (hex, as `hive module add` printed it), the instruction budget and
    /// the memory cap in MiB. `stdin`, `args` and `env` are the module's.
    public var module: String?
    public var fuel: Int?
    public var memoryMiB: Int?
    /// WebAssembly tasks: grant the module a fresh directory of its own as `/scratch` (removed after the task).
    public var scratch: Bool?
    /// Agent tasks: the tools the loop may call and its bounds (`prompt`, `system` and `max_tokens` per turn are
    /// the model fields above).
    public var agent: AgentSpec?
    /// Exec and wasm tasks: the stdin, as a blob in honeycombd's store (`sha256:HEX`), in place of `stdin`, and its
    /// size in bytes. Inputs over `BlobTransfer.inlineThreshold`, or not UTF-8 text, travel this way.
    public var stdinBlob: String?
    public var size: Int?
    /// Model and agent tasks: the prompt, as a blob in honeycombd's store (`sha256:HEX`), in place of `prompt`; its
    /// bytes are `size` (a task names one blob: `stdin_blob` or `prompt_blob`). The drone fetches it and runs the
    /// task as if the text had been inline (`TaskInput+PromptBlob.swift`).
    public var promptBlob: String?

    public init(command: String? = nil, args: [String]? = nil, stdin: String? = nil, env: [String: String]? = nil,
                sleepMillis: Int? = nil, text: String? = nil, prompt: String? = nil, system: String? = nil,
                chat: Bool? = nil, maxTokens: Int? = nil, temperature: Double? = nil, topK: Int? = nil,
                topP: Double? = nil, seed: Int? = nil, stop: [String]? = nil, json: Bool? = nil, jsonSchema: String? = nil,
                module: String? = nil, fuel: Int? = nil, memoryMiB: Int? = nil, completion: CompletionPrompt? = nil,
                agent: AgentSpec? = nil) {
        self.agent = agent
        self.completion = completion
        self.module = module
        self.fuel = fuel
        self.memoryMiB = memoryMiB
        self.command = command
        self.args = args
        self.stdin = stdin
        self.env = env
        self.sleepMillis = sleepMillis
        self.text = text
        self.prompt = prompt
        self.system = system
        self.chat = chat
        self.maxTokens = maxTokens
        self.temperature = temperature
        self.topK = topK
        self.topP = topP
        self.seed = seed
        self.stop = stop
        self.json = json
        self.jsonSchema = jsonSchema
    }

    enum CodingKeys: String, CodingKey {
        case command, args, stdin, env, text, prompt, system, chat, temperature, seed, stop, json, module, fuel, scratch, completion, agent
        case sleepMillis = "sleep_ms", maxTokens = "max_tokens", topK = "top_k", topP = "top_p", jsonSchema = "json_schema"
        case memoryMiB = "memory_mb", stdinBlob = "stdin_blob", size, promptBlob = "prompt_blob"
    }
}

/// A node of a goal's task tree: work for a drone (`kind` names the backend), or a fork (`kind` "fork") whose
/// `children` are joined under `join`. A fork does no work itself; it completes when its join is decided.
public struct TaskSpec: Codable, Sendable, Equatable {
    public var name: String?
    /// Backend for work tasks (`exec`, `noop`, `sleep`, …); `fork` for a fork node.
    public var kind: String
    public var tier: TierRequirement?
    /// Capabilities the drone must advertise (e.g. `exec:/bin/echo`, `model:llama`).
    public var requires: [String]?
    public var input: TaskInput?
    public var maxAttempts: Int?
    public var timeoutMillis: Int?
    public var children: [TaskSpec]?
    public var join: JoinPolicy?
    /// `required`: the task (on a fork, every task under it) waits in `awaiting_approval` until approved.
    public var approval: ApprovalPolicy?

    public init(name: String? = nil, kind: String, tier: TierRequirement? = nil, requires: [String]? = nil,
                input: TaskInput? = nil, maxAttempts: Int? = nil, timeoutMillis: Int? = nil,
                children: [TaskSpec]? = nil, join: JoinPolicy? = nil, approval: ApprovalPolicy? = nil) {
        self.approval = approval
        self.name = name
        self.kind = kind
        self.tier = tier
        self.requires = requires
        self.input = input
        self.maxAttempts = maxAttempts
        self.timeoutMillis = timeoutMillis
        self.children = children
        self.join = join
    }

    /// A fork of `children` under `join`.
    public static func fork(_ children: [TaskSpec], join: JoinPolicy = .all, name: String? = nil) -> TaskSpec {
        TaskSpec(name: name, kind: "fork", children: children, join: join)
    }

    public var isFork: Bool { kind == "fork" }

    /// Upper bounds on numbers a user or a drone hands the control plane, so arithmetic on them cannot overflow
    /// (a trap inside `apply` would crash honeycombd again on every replay).
    public static let maxTokensLimit = 1 << 24, maxTimeoutMillis = 7 * 86_400_000, maxDeadlineMillis = 366 * 86_400_000

    /// Kinds of the nodes a plan goal's tree is made of (see `ControlState+Plans`).
    public static let planKind = "plan", stepKind = "step"

    /// The kinds of work a drone can run: one per backend (`Drone.Backend.kind`). A closed list, so that a typo
    /// (`"exce"`) is refused at submission instead of waiting forever for a backend nobody has.
    public static let workKinds = ["agent", "exec", "model", "noop", "sleep", "wasm"]

    /// Plan, step and fork nodes do no work of their own.
    public var isStructural: Bool { isFork || kind == Self.planKind || kind == Self.stepKind }

    /// The most model tokens one call of this task can use, or nil when unbounded (a model task without
    /// `max_tokens`). Bytes bound tokens (every vocabulary here encodes a byte in at most one token); 64 more
    /// covers the chat template and BOS. Zero for tasks that call no model.
    /// An agent's loop: `AgentSpec.worstCaseTokens` (always bounded).
    public static func worstCaseTokens(kind: String, input: TaskInput?) -> Int? {
        if kind == "agent" { return AgentSpec.worstCaseTokens(input) }
        guard kind == "model" else { return 0 }
        guard let limit = input?.maxTokens else { return nil }
        // The larger of the two renderings: which one runs is only known when a drone is picked.
        let chat = (input?.promptBytes ?? 0) + (input?.system?.utf8.count ?? 0)
        let prompt = max(chat, input?.completion?.prompt.utf8.count ?? 0)
        return prompt + 64 + max(1, limit)
    }

    enum CodingKeys: String, CodingKey {
        case name, kind, tier, requires, input, children, join, approval
        case maxAttempts = "max_attempts", timeoutMillis = "timeout_ms"
    }

    /// Nodes in this subtree, and its depth (a leaf is depth 1). Without recursion: trees come from the network.
    public var size: (nodes: Int, depth: Int) {
        var stack = [(self, 1)], nodes = 0, depth = 0
        while let (t, d) = stack.popLast() {
            nodes += 1
            depth = max(depth, d)
            for c in t.children ?? [] { stack.append((c, d + 1)) }
        }
        return (nodes, depth)
    }
}

/// Limits on one goal. Exhausting one ends the goal with the reason: no runaway loops.
public struct Budget: Codable, Sendable, Equatable {
    public var maxTasks: Int
    public var maxDepth: Int
    /// Default attempts per task (a task's own `max_attempts` wins).
    public var maxAttempts: Int
    /// Time from submission until the goal is failed; nil for none.
    public var deadlineMillis: Int?
    /// Model tokens (prompt + generated, every tier) the goal may spend; nil for none. Enforced before each call:
    /// a model call is leased only if its worst case fits beside what is spent and what running calls reserved.
    public var maxTokens: Int?
    /// Calls on core-tier drones the goal may make; nil for none. Tasks that any tier may run go elsewhere
    /// once it is spent; a core-only task then fails the goal.
    public var maxCoreCalls: Int?
    /// Model tokens per tier (`{"core": 20000}`); a tier whose budget cannot fit a call's worst case is skipped.
    public var maxTokensByTier: [String: Int]?
    /// Money (in the unit of honeycombd's `prices`): a call is admitted on a drone only if its worst case at that
    /// drone's model price fits; cheaper drones take the work once dear ones would not fit.
    public var maxCost: Double?
    /// How long a task may wait in `awaiting_approval` before it is denied (nil: `ApprovalLimits.defaultTimeoutMillis`).
    public var approvalTimeoutMillis: Int?

    /// Whether calls need a known worst case (a token or cost budget is set).
    public var needsWorstCase: Bool { maxTokens != nil || maxTokensByTier != nil || maxCost != nil }

    public init(maxTasks: Int = 100_000, maxDepth: Int = 16, maxAttempts: Int = 3, deadlineMillis: Int? = nil,
                maxTokens: Int? = nil, maxCoreCalls: Int? = nil, maxTokensByTier: [String: Int]? = nil, maxCost: Double? = nil,
                approvalTimeoutMillis: Int? = nil) {
        self.approvalTimeoutMillis = approvalTimeoutMillis
        self.maxTokensByTier = maxTokensByTier
        self.maxCost = maxCost
        self.maxTasks = maxTasks
        self.maxDepth = maxDepth
        self.maxAttempts = maxAttempts
        self.deadlineMillis = deadlineMillis
        self.maxTokens = maxTokens
        self.maxCoreCalls = maxCoreCalls
    }

    enum CodingKeys: String, CodingKey {
        case maxTasks = "max_tasks", maxDepth = "max_depth", maxAttempts = "max_attempts", deadlineMillis = "deadline_ms"
        case maxTokens = "max_tokens", maxCoreCalls = "max_core_calls", maxTokensByTier = "max_tokens_by_tier", maxCost = "max_cost"
        case approvalTimeoutMillis = "approval_timeout_ms"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = Budget()
        maxTasks = try c.decodeIfPresent(Int.self, forKey: .maxTasks) ?? d.maxTasks
        maxDepth = try c.decodeIfPresent(Int.self, forKey: .maxDepth) ?? d.maxDepth
        maxAttempts = try c.decodeIfPresent(Int.self, forKey: .maxAttempts) ?? d.maxAttempts
        deadlineMillis = try c.decodeIfPresent(Int.self, forKey: .deadlineMillis)
        maxTokens = try c.decodeIfPresent(Int.self, forKey: .maxTokens)
        maxCoreCalls = try c.decodeIfPresent(Int.self, forKey: .maxCoreCalls)
        maxTokensByTier = try c.decodeIfPresent([String: Int].self, forKey: .maxTokensByTier)
        maxCost = try c.decodeIfPresent(Double.self, forKey: .maxCost)
        approvalTimeoutMillis = try c.decodeIfPresent(Int.self, forKey: .approvalTimeoutMillis)
        if let keys = maxTokensByTier?.keys, let bad = keys.first(where: { Tier(rawValue: $0) == nil }) {
            throw DecodingError.dataCorrupted(.init(codingPath: c.codingPath + [CodingKeys.maxTokensByTier],
                                                    debugDescription: "max_tokens_by_tier has '\(bad)'; tiers are edge, worker, core"))
        }
    }
}

/// A goal as submitted: a task tree or a plan, a priority and a budget.
///
/// A plan is written at the top level (`goal`, `steps`, …, see `PlanSpec`) and kept under `plan` in the journal.
public struct GoalSpec: Codable, Sendable, Equatable {
    public var name: String?
    /// Higher runs first.
    public var priority: Int
    public var budget: Budget
    /// The task tree; for a plan, a `plan` node the steps grow under.
    public var root: TaskSpec
    public var plan: PlanSpec?
    /// The trace the goal's spans join: honeycombd sets it at submission (from the submitter's `traceparent`
    /// header, else a new trace), so the journal replays it.
    public var trace: TraceContext?

    public init(name: String? = nil, priority: Int = 0, budget: Budget = Budget(), root: TaskSpec) {
        self.name = name
        self.priority = priority
        self.budget = budget
        self.root = root
    }

    public init(name: String? = nil, priority: Int = 0, budget: Budget = Budget(), plan: PlanSpec) {
        self.init(name: name, priority: priority, budget: budget, root: TaskSpec(name: "plan", kind: TaskSpec.planKind))
        self.plan = plan
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        name = try c.decodeIfPresent(String.self, forKey: .name)
        priority = try c.decodeIfPresent(Int.self, forKey: .priority) ?? 0
        budget = try c.decodeIfPresent(Budget.self, forKey: .budget) ?? Budget()
        trace = try c.decodeIfPresent(TraceContext.self, forKey: .trace)
        if let p = try c.decodeIfPresent(PlanSpec.self, forKey: .plan) {
            plan = p
        } else if c.contains(.goal) {
            plan = try PlanSpec(from: decoder)
        }
        if plan != nil {
            root = TaskSpec(name: "plan", kind: TaskSpec.planKind)
        } else {
            root = try c.decode(TaskSpec.self, forKey: .root)
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encodeIfPresent(name, forKey: .name)
        try c.encode(priority, forKey: .priority)
        try c.encode(budget, forKey: .budget)
        try c.encodeIfPresent(trace, forKey: .trace)
        if let plan { try c.encode(plan, forKey: .plan) } else { try c.encode(root, forKey: .root) }
    }

    enum CodingKeys: String, CodingKey { case name, priority, budget, root, plan, goal, trace }
}
