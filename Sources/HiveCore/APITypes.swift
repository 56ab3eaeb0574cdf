/// Request and reply bodies of honeycombd's API (`hive.v1.api.*`), shared by the CLI and the service.

/// Names a goal. As a request to `tasks` and `result`, `limit` and `cursor` ask for one page of its tasks. As
/// the reply to `submit`, `unrunnable` lists the tasks no live drone can run now and why (the goal is accepted all
/// the same: a drone may join later), and `warning` says the same in one sentence.
public struct GoalRef: Codable, Sendable {
    public var goal: GoalID
    public var limit: Int?
    public var cursor: String?
    public var warning: String?
    public var unrunnable: [TaskWait]?
    public init(goal: GoalID, limit: Int? = nil, cursor: String? = nil, unrunnable: [TaskWait]? = nil) {
        self.goal = goal
        self.limit = limit
        self.cursor = cursor
        if let unrunnable, !unrunnable.isEmpty {
            self.unrunnable = unrunnable
            warning = "no live drone can run " + unrunnable.map(\.description).joined(separator: "; ")
        }
    }
}

/// Pending tasks of a goal that wait for the same reason: the first of them, how many, and why (`TaskBlocker`).
public struct TaskWait: Codable, Sendable, Equatable, CustomStringConvertible {
    public var task: TaskID
    /// Tasks waiting for this reason (`task` is the first).
    public var tasks: Int
    public var kind: String
    public var tier: TierRequirement?
    /// The reason's kind: `no_drones`, `tier`, `backend`, `command`, `capability` (no live drone can run it),
    /// `budget`, `busy` (waiting for a free slot); `more`: tasks past the reasons a list shows.
    public var blocker: String
    public var reason: String

    public init(task: TaskID, tasks: Int = 1, kind: String, tier: TierRequirement?, blocker: String, reason: String) {
        self.task = task
        self.tasks = tasks
        self.kind = kind
        self.tier = tier
        self.blocker = blocker
        self.reason = reason
    }

    public init(task: TaskID, tasks: Int = 1, kind: String, tier: TierRequirement?, blocker: TaskBlocker) {
        self.init(task: task, tasks: tasks, kind: kind, tier: tier, blocker: blocker.kind, reason: blocker.description)
    }

    /// `task g1.3 (model, tier core): no active drone of tier core (live: worker d1 [model:gemma-3-270m])`.
    public var description: String {
        let which = tasks > 1 ? "tasks \(task) and \(tasks - 1) more" : "task \(task)"
        return "\(which) (\(kind), tier \(tier?.description ?? "any")): \(reason)"
    }
}

/// A request for one page of a list (`goals`, `drones`): at most `limit` items from `cursor` (absent: the start).
public struct PageRequest: Codable, Sendable {
    public var limit: Int?
    public var cursor: String?
    public init(limit: Int? = nil, cursor: String? = nil) {
        self.limit = limit
        self.cursor = cursor
    }
}

/// How list replies page. Every reply must fit one bus message (the server's `max_payload`), so a list
/// (`goals`, `drones`, a goal's `tasks`, the tasks of its `result`) comes in pages of at most `limit` items
/// that also fit that size. A page that is not the last says where the next starts: the bus reply carries a
/// `Hive-Next-Cursor` header, the HTTP response the same header; the next request passes it as `cursor`
/// (`?cursor=` over HTTP). The CLI pages through and puts the pages together.
public enum Paging {
    public static let cursorHeader = "Hive-Next-Cursor"
    /// Items per page when the request names no `limit`, and the most it may name.
    public static let defaultLimit = 1_000, maxLimit = 10_000
    /// Bytes of a bus message left for the reply's headers and protocol line.
    public static let headroom = 4_096

    /// The offset a cursor stands for (cursors are offsets, opaque to clients), or why it is not one.
    public static func offset(_ cursor: String?, count: Int) -> Result<Int, APIError> {
        guard let cursor else { return .success(0) }
        guard let n = Int(cursor), (0...count).contains(n) else {
            return .failure(APIError("cursor '\(cursor.prefix(40))' is not one this list gave out (pass the \(cursorHeader) of the previous page)"))
        }
        return .success(n)
    }

    /// A requested page size, or why it is out of range.
    public static func limit(_ limit: Int?) -> Result<Int, APIError> {
        guard let limit else { return .success(defaultLimit) }
        guard (1...maxLimit).contains(limit) else { return .failure(APIError("limit must be 1 to \(maxLimit) (got \(limit))")) }
        return .success(limit)
    }
}

/// Any API error: `{"error": "…", "kind": "not_found"}` on the bus, and a kind that says what went wrong without
/// naming a transport.
///
/// The HTTP edge turns the kind into a status (`HTTPAPI`, in one place; its body stays `{"error": "…"}`); on the bus
/// it travels as `kind`, so a client can act on it (a drone gives up on an unknown blob at once) without matching
/// message text. A reply without `kind` (an older honeycombd), or with one this version does not know, decodes as
/// `.badRequest`.
public struct APIError: Codable, Sendable, Error, Equatable, CustomStringConvertible {
    /// What went wrong, as a caller would act on it.
    public enum Kind: String, Sendable, Equatable, CaseIterable {
        /// The request is unreadable or out of range: fix it and send it again.
        case badRequest
        /// It names a goal, module or route that does not exist.
        case notFound
        /// The caller may not do this.
        case forbidden
        /// It conflicts with the current state (nothing awaits approval, a running goal names the module, …).
        case conflict
        /// It, or its reply, is over a named size limit.
        case tooLarge
        /// A store is full (a named quota): make room first.
        case storageFull
        /// The service cannot answer now (the reply could not be sent): try again.
        case unavailable
    }

    public var error: String
    public var kind: Kind

    public init(_ error: String) { self.init(.badRequest, error) }
    public init(_ kind: Kind, _ error: String) {
        self.kind = kind
        self.error = error
    }

    public var description: String { error }

    enum CodingKeys: String, CodingKey { case error, kind }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        error = try c.decode(String.self, forKey: .error)
        kind = (try? c.decodeIfPresent(String.self, forKey: .kind)).flatMap { Kind(wireName: $0) } ?? .badRequest
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(error, forKey: .error)
        try c.encode(kind.wireName, forKey: .kind)
    }
}

extension APIError.Kind {
    /// The kind as the bus carries it: `bad_request`, `not_found`, `storage_full`, …
    public var wireName: String {
        var name = ""
        for c in rawValue {
            if c.isUppercase { name += "_" + c.lowercased() } else { name.append(c) }
        }
        return name
    }

    /// The kind a wire name stands for, or nil for one this version does not know.
    public init?(wireName: String) {
        guard let kind = Self.allCases.first(where: { $0.wireName == wireName }) else { return nil }
        self = kind
    }
}

public struct GoalSummary: Codable, Sendable, Equatable {
    public var goal: GoalID
    public var name: String?
    public var state: GoalState
    public var reason: String?
    public var priority: Int
    /// Every node of the goal's task tree: work tasks plus fork, plan and step nodes (which do no work).
    public var tasks: Int
    /// Work tasks by state (fork, plan and step nodes excluded).
    public var counts: [String: Int]
    /// Work tasks: the sum of `counts`, the number `hive goals` and `hive result` both show as TASKS.
    public var workTasks: Int?
    public var createdAt: Int64
    public var finishedAt: Int64?
    /// The limits the goal runs under, and where its token budget stands (spent, and reserved by running calls).
    public var budget: Budget?
    public var tokensSpent: Int?
    public var tokensReserved: Int?
    /// Calls made on core-tier drones (the expensive tier), counted against `budget.max_core_calls`.
    public var coreCalls: Int?
    /// Tokens per tier where a per-tier budget counts them, and the cost spent at the configured prices.
    public var tierTokens: [String: Int]?
    public var costSpent: Double?
    /// Why its pending tasks wait, grouped by reason (the `goal` and `result` verbs fill it; lists do not).
    public var waiting: [TaskWait]?
    /// The goal's answer once its root decided one, and how its vote joins stand (the `goal` and `result` verbs
    /// fill them; lists do not).
    public var answer: String?
    public var votes: [VoteView]?

    public init(_ g: GoalRecord, counts: [String: Int]) {
        goal = g.id
        name = g.name
        state = g.state
        reason = g.reason
        priority = g.priority
        tasks = g.taskCount
        self.counts = counts
        workTasks = counts.values.reduce(0, +)
        createdAt = g.createdAt
        finishedAt = g.finishedAt
        budget = g.budget
        tokensSpent = g.tokensSpent
        tokensReserved = g.tokensReserved
        coreCalls = g.coreCalls
        tierTokens = g.tierTokensSpent.isEmpty ? nil : g.tierTokensSpent
        costSpent = g.costSpent
    }

    enum CodingKeys: String, CodingKey {
        case goal, name, state, reason, priority, tasks, counts, budget
        case createdAt = "created_at", finishedAt = "finished_at"
        case tokensSpent = "tokens_spent", tokensReserved = "tokens_reserved", coreCalls = "core_calls"
        case tierTokens = "tier_tokens", costSpent = "cost_spent", waiting
        case workTasks = "work_tasks", answer, votes
    }

    /// Characters of the answer the `goal` verb carries (`result` carries it whole): a goal's state stays small.
    public static let answerChars = 4_096
    public static func clipAnswer(_ a: String) -> String { a.count > answerChars ? String(a.prefix(answerChars)) + "…" : a }

    /// Work tasks, from `counts` when honeycombd is older than `work_tasks`.
    public var workTaskCount: Int { workTasks ?? counts.values.reduce(0, +) }
}

public struct TaskView: Codable, Sendable, Equatable, TaskProductCarrier {
    public var task: TaskID
    public var parent: TaskID?
    public var index: Int
    public var depth: Int
    public var kind: String
    public var state: TaskState
    public var attempts: Int
    public var drone: DroneID?
    /// What its latest attempt produced (empty before one finished); its fields read as the view's own.
    public var product: TaskProduct
    public var reason: String?
    /// In a plan: the call's role and round.
    public var role: Role?
    public var round: Int?
    /// Side effects: what it waits for (what it will run, where, who proposed it, why), and who approved it.
    public var approval: ApprovalRequest?
    public var approvedBy: String?
    /// A pending task: why it is not running (`TaskBlocker`), filled by the API verbs that list tasks.
    public var waiting: String?
    /// Why its recent attempts ended without success (retried, or the last one before it died).
    public var failedAttempts: [AttemptNote]?
    /// Its name (a plan step's id on a step node, `STEP.ROLE` on a call), and how a fork's children join.
    public var name: String?
    public var join: String?

    public init(_ t: TaskRecord) {
        task = t.id
        parent = t.parent
        index = t.index
        depth = t.depth
        kind = t.kind
        state = t.state
        attempts = t.attempts
        drone = t.lease?.drone ?? t.result?.drone
        product = t.result?.product ?? TaskProduct()
        reason = t.reason
        role = t.role
        round = t.round
        approval = t.approvalRequest
        approvedBy = t.approvedBy
        failedAttempts = t.failedAttempts
        name = t.name
        join = t.join?.description
    }

    /// The product's keys sit beside the view's own (the API's format predates `TaskProduct`).
    enum CodingKeys: String, TaskProductCodingKeys {
        case task, parent, index, depth, kind, state, attempts, drone, reason, role, round, approval, waiting
        case approvedBy = "approved_by", failedAttempts = "failed_attempts"
        case name, join
        case output, error, usage, permanent, fuel
        case exitCode = "exit_code", wallMillis = "wall_ms", outputBlob = "output_blob"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        task = try c.decode(TaskID.self, forKey: .task)
        parent = try c.decodeIfPresent(TaskID.self, forKey: .parent)
        index = try c.decode(Int.self, forKey: .index)
        depth = try c.decode(Int.self, forKey: .depth)
        kind = try c.decode(String.self, forKey: .kind)
        state = try c.decode(TaskState.self, forKey: .state)
        attempts = try c.decode(Int.self, forKey: .attempts)
        drone = try c.decodeIfPresent(DroneID.self, forKey: .drone)
        product = try TaskProduct(from: c)
        reason = try c.decodeIfPresent(String.self, forKey: .reason)
        role = try c.decodeIfPresent(Role.self, forKey: .role)
        round = try c.decodeIfPresent(Int.self, forKey: .round)
        approval = try c.decodeIfPresent(ApprovalRequest.self, forKey: .approval)
        approvedBy = try c.decodeIfPresent(String.self, forKey: .approvedBy)
        waiting = try c.decodeIfPresent(String.self, forKey: .waiting)
        failedAttempts = try c.decodeIfPresent([AttemptNote].self, forKey: .failedAttempts)
        name = try c.decodeIfPresent(String.self, forKey: .name)
        join = try c.decodeIfPresent(String.self, forKey: .join)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(task, forKey: .task)
        try c.encodeIfPresent(parent, forKey: .parent)
        try c.encode(index, forKey: .index)
        try c.encode(depth, forKey: .depth)
        try c.encode(kind, forKey: .kind)
        try c.encode(state, forKey: .state)
        try c.encode(attempts, forKey: .attempts)
        try c.encodeIfPresent(drone, forKey: .drone)
        try product.encode(to: &c)
        try c.encodeIfPresent(reason, forKey: .reason)
        try c.encodeIfPresent(role, forKey: .role)
        try c.encodeIfPresent(round, forKey: .round)
        try c.encodeIfPresent(approval, forKey: .approval)
        try c.encodeIfPresent(approvedBy, forKey: .approvedBy)
        try c.encodeIfPresent(waiting, forKey: .waiting)
        try c.encodeIfPresent(failedAttempts, forKey: .failedAttempts)
        try c.encodeIfPresent(name, forKey: .name)
        try c.encodeIfPresent(join, forKey: .join)
    }
}

/// A goal's outcome with every work task's result.
public struct GoalResult: Codable, Sendable {
    public var goal: GoalSummary
    /// The goal's own answer when its root decided one (a `vote` fork's winning answer, or a work task's output).
    public var answer: String?
    public var ledger: GoalLedger?
    /// A plan goal's steps with their candidates' provenance.
    public var steps: [StepView]?
    public var tasks: [TaskView]
    public init(goal: GoalSummary, answer: String? = nil, ledger: GoalLedger? = nil, steps: [StepView]? = nil, tasks: [TaskView]) {
        self.goal = goal
        self.answer = answer
        self.ledger = ledger
        self.steps = steps
        self.tasks = tasks
    }
}

public struct DroneView: Codable, Sendable, Equatable {
    public var drone: DroneID
    public var name: String
    public var tier: Tier
    public var state: DroneRecord.State
    public var slots: Int
    public var running: Int
    public var completed: Int
    public var failed: Int
    /// Milliseconds since the last heartbeat.
    public var lastSeenMillisAgo: Int64
    public var capabilities: [String]
    public var host: HostFacts?
    /// Model drones: how their model is prompted (`chat` or `completion`).
    public var promptFormat: PromptFormat?
    /// Agent drones: each tool's pin as last announced (a tool whose definition changed shows its new pin after the
    /// drone announces it again).
    public var toolPins: [String: String]?

    public init(_ d: DroneRecord, now: Int64) {
        drone = d.id
        name = d.name
        tier = d.tier
        state = d.state
        slots = d.slots
        running = d.running.count
        completed = d.completed
        failed = d.failed
        lastSeenMillisAgo = now - d.lastSeen
        capabilities = d.capabilities.sorted()
        host = d.host
        promptFormat = d.capabilities.contains("backend:model") ? d.promptFormat : nil
        toolPins = d.toolPins
    }

    enum CodingKeys: String, CodingKey {
        case drone, name, tier, state, slots, running, completed, failed, capabilities, host
        case lastSeenMillisAgo = "last_seen_ms_ago", promptFormat = "prompt_format", toolPins = "tool_pins"
    }
}

/// Published on `hive.v1.events.<goal>` when a goal ends (after it is durable).
public struct GoalEvent: Codable, Sendable {
    public var goal: GoalID
    public var state: GoalState
    public var reason: String?
    public init(goal: GoalID, state: GoalState, reason: String?) {
        self.goal = goal
        self.state = state
        self.reason = reason
    }
}

/// A WebAssembly module in honeycombd's store: its SHA-256 (hex) and size. As a `module_get` request, `offset`
/// asks for the part from there on; as the reply to one part of a chunked `module_add`, `received` says how many
/// bytes honeycombd holds so far (absent once the module is stored).
public struct ModuleRef: Codable, Sendable, Equatable {
    public var module: String
    public var size: Int?
    public var offset: Int?
    public var received: Int?

    public init(module: String, size: Int? = nil, offset: Int? = nil, received: Int? = nil) {
        self.module = module
        self.size = size
        self.offset = offset
        self.received = received
    }
}

/// The module store's contents and quota (`hive.v1.api.modules`, `GET /api/modules`, `hive module ls`).
public struct ModuleList: Codable, Sendable, Equatable {
    public struct Entry: Codable, Sendable, Equatable {
        public var module: String
        public var size: Int
        public init(module: String, size: Int) {
            self.module = module
            self.size = size
        }
    }

    public var modules: [Entry]
    public var totalBytes: Int
    public var maxBytes: Int
    public var maxCount: Int

    public init(modules: [Entry], totalBytes: Int, maxBytes: Int, maxCount: Int) {
        self.modules = modules
        self.totalBytes = totalBytes
        self.maxBytes = maxBytes
        self.maxCount = maxCount
    }

    enum CodingKeys: String, CodingKey {
        case modules, totalBytes = "total_bytes", maxBytes = "max_bytes", maxCount = "max_count"
    }
}

/// Modules larger than one bus message (the broker's `max_payload`) move in parts, described by NATS headers:
/// `module_add` parts carry the module's hash, the part's offset and the whole size, in order from offset 0;
/// `module_get` replies carry the whole size, and the requester asks again from where the part ended.
public enum ModuleTransfer {
    public static let hashHeader = "Hive-Module"
    public static let offsetHeader = "Hive-Module-Offset"
    public static let sizeHeader = "Hive-Module-Size"
    /// Room left in each part for the headers and the protocol line.
    public static let headroom = 4096

    /// The part size for a connection whose server accepts `maxPayload`-byte messages.
    public static func partSize(maxPayload: Int) -> Int { Swift.max(maxPayload - headroom, 1024) }
}

/// `hive drone add NAME --tier T` / `hive drone revoke NAME`: the drone's name (its id on the bus) and tier.
public struct DroneAdd: Codable, Sendable, Equatable {
    public var name: String
    public var tier: Tier?
    public init(name: String, tier: Tier? = nil) {
        self.name = name
        self.tier = tier
    }
}

/// A drone credential honeycombd issued: the drone runs as `drone --honeycomb nats://TOKEN@HOST:PORT --name NAME
/// --tier TIER`, and may announce only that name and tier.
public struct DroneCredential: Codable, Sendable, Equatable {
    public var name: String
    public var token: String
    public var tier: Tier
    public init(name: String, token: String, tier: Tier) {
        self.name = name
        self.token = token
        self.tier = tier
    }
}
