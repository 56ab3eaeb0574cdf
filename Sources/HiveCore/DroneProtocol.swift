/// Messages between drones and honeycombd (JSON on the bus; subjects in `APISubject`).

/// drone → honeycombd on connect (request/reply on `hive.v1.drone.<id>.hello`).
public struct DroneHello: Codable, Sendable, Equatable {
    public var drone: DroneID
    public var name: String
    public var tier: Tier
    public var slots: Int
    /// Backends and grants: `backend:exec`, `exec:/bin/echo`, `backend:noop`, …
    public var capabilities: [String]
    public var host: HostFacts?
    public var version: String
    /// Models this drone serves (llama backend), with their descriptors.
    public var models: [ModelDescriptor]?
    /// A random value per drone process: a hello with the same id but another instance is a restarted drone, whose
    /// earlier process (and the work it held) is gone.
    public var instance: String?
    /// Tools this drone's agents may call, with each one's pin and side effects (it also advertises
    /// `tool:<name>` and, for side-effecting ones, `effect:tool:<name>`). Absent from older drones.
    public var tools: [ToolAdvert]?
    /// The most assignments this drone reads from one message (`drone --batch`): 2 or more asks honeycombd for
    /// assignment lists (`DroneBatch`). Absent (older drones) or under 2: one assignment per message, as before.
    public var batch: Int?

    public init(drone: DroneID, name: String, tier: Tier, slots: Int, capabilities: [String], host: HostFacts?,
                version: String, models: [ModelDescriptor]? = nil, instance: String? = nil, tools: [ToolAdvert]? = nil,
                batch: Int? = nil) {
        self.batch = batch
        self.tools = tools
        self.instance = instance
        self.drone = drone
        self.name = name
        self.tier = tier
        self.slots = slots
        self.capabilities = capabilities
        self.host = host
        self.version = version
        self.models = models
    }
}

extension DroneHello {
    /// Bounds on what a drone may say of itself (honeycombd keeps it while the drone is registered).
    public static let maxNameBytes = 256, maxCapabilities = 4_096, maxCapabilityBytes = 4_096, maxVersionBytes = 64, maxModels = 16
    /// `host.hostname`, `host.os` and each model descriptor's text fields (name, architecture, description, sha256).
    public static let maxFactBytes = 256
    /// Tools a hello may list: each name `ToolAdvert.isValidName` (at most `SpecLimits.toolNameBytes`), each pin
    /// `ToolAdvert.isValidPin` (`sha256:` and 64 lowercase hex digits), each name once.
    public static let maxTools = 1_024

    /// Why a hello is refused, or nil. Everything a drone says of itself is checked here, before honeycombd keeps
    /// any of it: sizes against the named limits above, and tool names and pins against their formats (a pin
    /// honeycombd would copy into every goal that uses the tool).
    public static func problem(_ h: DroneHello) -> String? {
        if h.name.utf8.count > maxNameBytes { return "the drone's name is \(h.name.utf8.count) bytes; the limit is \(maxNameBytes)" }
        if h.version.utf8.count > maxVersionBytes { return "version is \(h.version.utf8.count) bytes; the limit is \(maxVersionBytes)" }
        if h.capabilities.count > maxCapabilities { return "\(h.capabilities.count) capabilities; the limit is \(maxCapabilities)" }
        if let long = h.capabilities.first(where: { $0.utf8.count > maxCapabilityBytes }) {
            return "a capability of \(long.utf8.count) bytes; the limit is \(maxCapabilityBytes)"
        }
        if (h.models?.count ?? 0) > maxModels { return "\(h.models?.count ?? 0) models; the limit is \(maxModels)" }
        if (h.instance?.utf8.count ?? 0) > 64 { return "instance is longer than 64 bytes" }
        if let why = factsProblem(h) { return why }
        if let tools = h.tools { return toolsProblem(tools) }
        return nil
    }

    private static func factsProblem(_ h: DroneHello) -> String? {
        var facts: [(String, String)] = []
        if let host = h.host { facts += [("host.hostname", host.hostname), ("host.os", host.os)] }
        for (i, m) in (h.models ?? []).enumerated() {
            facts += [("models[\(i)].name", m.name), ("models[\(i)].architecture", m.architecture),
                      ("models[\(i)].description", m.description), ("models[\(i)].sha256", m.sha256)]
        }
        guard let (field, value) = facts.first(where: { $0.1.utf8.count > maxFactBytes }) else { return nil }
        return "\(field) is \(value.utf8.count) bytes; the limit is \(maxFactBytes)"
    }

    private static func toolsProblem(_ tools: [ToolAdvert]) -> String? {
        if tools.count > maxTools { return "\(tools.count) tools; the limit is \(maxTools)" }
        var seen = Set<String>()
        for t in tools {
            // Names are quoted only once they passed the rule (letters, digits, `_-.`): nothing else reaches a log.
            guard ToolAdvert.isValidName(t.name) else {
                return "a tool name (\(t.name.utf8.count) bytes) is not <server>.<tool> in letters, digits, _, - and . (at most \(SpecLimits.toolNameBytes) bytes)"
            }
            guard seen.insert(t.name).inserted else { return "tool '\(t.name)' is listed twice" }
            guard ToolAdvert.isValidPin(t.pin) else {
                return "tool '\(t.name)' has a pin that is not sha256: and 64 lowercase hex digits"
            }
            guard SpecLimits.agentToolBytes.contains(t.bytes ?? 0) else {
                return "tool '\(t.name)' advertises \(t.bytes ?? 0) definition bytes; the limit is \(SpecLimits.agentToolBytes.upperBound)"
            }
        }
        return nil
    }
}

public struct HelloReply: Codable, Sendable, Equatable {
    public var accepted: Bool
    public var reason: String?
    public var heartbeatMillis: Int
    /// The most results honeycombd reads from one result list (its `max_batch`), given only to a drone whose hello
    /// asked for batches. Absent (an older honeycombd, or batching off): the drone sends one result per message.
    public var batch: Int?

    public init(accepted: Bool, reason: String? = nil, heartbeatMillis: Int, batch: Int? = nil) {
        self.accepted = accepted
        self.reason = reason
        self.heartbeatMillis = heartbeatMillis
        self.batch = batch
    }

    enum CodingKeys: String, CodingKey { case accepted, reason, heartbeatMillis = "heartbeat_ms", batch }
}

/// drone → honeycombd every heartbeat interval (request/reply on `hive.v1.drone.<id>.hb`).
public struct Heartbeat: Codable, Sendable, Equatable {
    public var drone: DroneID
    public var running: [TaskID]

    public init(drone: DroneID, running: [TaskID]) {
        self.drone = drone
        self.running = running
    }
}

/// `known: false` asks the drone to announce itself again (honeycombd restarted, or had marked it lost).
public struct HeartbeatReply: Codable, Sendable, Equatable {
    public var known: Bool
    public init(known: Bool) { self.known = known }
}

/// honeycombd → drone on `hive.v1.drone.<id>.task`.
public struct Assignment: Codable, Sendable, Equatable {
    public var task: TaskID
    public var goal: GoalID
    public var attempt: Int
    public var token: String
    public var kind: String
    public var input: TaskInput?
    public var index: Int
    public var timeoutMillis: Int
    /// The attempt's trace parent when the assignment is an entry of a list (a message has one set of headers, not
    /// one per entry); a single assignment carries it in the message's `traceparent` header instead.
    public var traceparent: String?

    public init(task: TaskID, goal: GoalID, attempt: Int, token: String, kind: String, input: TaskInput?, index: Int, timeoutMillis: Int,
                traceparent: String? = nil) {
        self.traceparent = traceparent
        self.task = task
        self.goal = goal
        self.attempt = attempt
        self.token = token
        self.kind = kind
        self.input = input
        self.index = index
        self.timeoutMillis = timeoutMillis
    }

    enum CodingKeys: String, CodingKey { case task, goal, attempt, token, kind, input, index, timeoutMillis = "timeout_ms", traceparent }
}

/// drone → honeycombd on `hive.v1.drone.<id>.result`.
public struct TaskResult: Codable, Sendable, Equatable, TaskProductCarrier {
    /// The `error` of a `released` result when the drone had no free slot for the assignment.
    public static let noFreeSlot = "no free slot"

    public enum Outcome: String, Codable, Sendable {
        case succeeded, failed
        /// The drone gave the task back unrun or unfinished (shutting down): re-dispatch without using an attempt.
        case released
    }

    public var task: TaskID
    public var attempt: Int
    public var token: String
    public var drone: DroneID
    public var outcome: Outcome
    /// What the attempt produced (its fields read as the result's own: `result.output`).
    public var product: TaskProduct
    /// A task may answer by forking: these children replace its own result, joined under `join`.
    public var fork: [TaskSpec]?
    public var join: JoinPolicy?
    /// The run's span when the result is an entry of a list (`traceparent` and `Hive-Span-Time`, which a single
    /// result carries in its message's headers).
    public var traceparent: String?
    public var spanTime: String?

    public init(task: TaskID, attempt: Int, token: String, drone: DroneID, outcome: Outcome, product: TaskProduct,
                fork: [TaskSpec]? = nil, join: JoinPolicy? = nil) {
        self.task = task
        self.attempt = attempt
        self.token = token
        self.drone = drone
        self.outcome = outcome
        self.product = product
        self.fork = fork
        self.join = join
    }

    public init(task: TaskID, attempt: Int, token: String, drone: DroneID, outcome: Outcome, exitCode: Int? = nil,
                output: String? = nil, error: String? = nil, wallMillis: Int? = nil, usage: Usage? = nil,
                permanent: Bool? = nil, fork: [TaskSpec]? = nil, join: JoinPolicy? = nil) {
        self.init(task: task, attempt: attempt, token: token, drone: drone, outcome: outcome,
                  product: TaskProduct(exitCode: exitCode, output: output, error: error, wallMillis: wallMillis, usage: usage,
                                       permanent: permanent),
                  fork: fork, join: join)
    }

    /// The product's keys sit beside the result's own (the wire format predates `TaskProduct`).
    enum CodingKeys: String, TaskProductCodingKeys {
        case task, attempt, token, drone, outcome, fork, join, traceparent
        case output, error, usage, permanent, fuel, spanTime = "span_time"
        case exitCode = "exit_code", wallMillis = "wall_ms", outputBlob = "output_blob"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        task = try c.decode(TaskID.self, forKey: .task)
        attempt = try c.decode(Int.self, forKey: .attempt)
        token = try c.decode(String.self, forKey: .token)
        drone = try c.decode(DroneID.self, forKey: .drone)
        outcome = try c.decode(Outcome.self, forKey: .outcome)
        product = try TaskProduct(from: c)
        fork = try c.decodeIfPresent([TaskSpec].self, forKey: .fork)
        join = try c.decodeIfPresent(JoinPolicy.self, forKey: .join)
        traceparent = try c.decodeIfPresent(String.self, forKey: .traceparent)
        spanTime = try c.decodeIfPresent(String.self, forKey: .spanTime)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(task, forKey: .task)
        try c.encode(attempt, forKey: .attempt)
        try c.encode(token, forKey: .token)
        try c.encode(drone, forKey: .drone)
        try c.encode(outcome, forKey: .outcome)
        try product.encode(to: &c)
        try c.encodeIfPresent(fork, forKey: .fork)
        try c.encodeIfPresent(join, forKey: .join)
        try c.encodeIfPresent(traceparent, forKey: .traceparent)
        try c.encodeIfPresent(spanTime, forKey: .spanTime)
    }
}

/// honeycombd → drone on `hive.v1.drone.<id>.cancel`: stop a task (its goal ended, or a join no longer needs it).
public struct CancelTask: Codable, Sendable, Equatable {
    public var task: TaskID
    public init(task: TaskID) { self.task = task }
}
