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

    public init(drone: DroneID, name: String, tier: Tier, slots: Int, capabilities: [String], host: HostFacts?,
                version: String, models: [ModelDescriptor]? = nil, instance: String? = nil) {
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

    /// Why a hello is refused for its size, or nil.
    public static func problem(_ h: DroneHello) -> String? {
        if h.name.utf8.count > maxNameBytes { return "the drone's name is \(h.name.utf8.count) bytes; the limit is \(maxNameBytes)" }
        if h.version.utf8.count > maxVersionBytes { return "version is \(h.version.utf8.count) bytes; the limit is \(maxVersionBytes)" }
        if h.capabilities.count > maxCapabilities { return "\(h.capabilities.count) capabilities; the limit is \(maxCapabilities)" }
        if let long = h.capabilities.first(where: { $0.utf8.count > maxCapabilityBytes }) {
            return "a capability of \(long.utf8.count) bytes; the limit is \(maxCapabilityBytes)"
        }
        if (h.models?.count ?? 0) > maxModels { return "\(h.models?.count ?? 0) models; the limit is \(maxModels)" }
        if (h.instance?.utf8.count ?? 0) > 64 { return "instance is longer than 64 bytes" }
        return nil
    }
}

public struct HelloReply: Codable, Sendable, Equatable {
    public var accepted: Bool
    public var reason: String?
    public var heartbeatMillis: Int

    public init(accepted: Bool, reason: String? = nil, heartbeatMillis: Int) {
        self.accepted = accepted
        self.reason = reason
        self.heartbeatMillis = heartbeatMillis
    }

    enum CodingKeys: String, CodingKey { case accepted, reason, heartbeatMillis = "heartbeat_ms" }
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

    public init(task: TaskID, goal: GoalID, attempt: Int, token: String, kind: String, input: TaskInput?, index: Int, timeoutMillis: Int) {
        self.task = task
        self.goal = goal
        self.attempt = attempt
        self.token = token
        self.kind = kind
        self.input = input
        self.index = index
        self.timeoutMillis = timeoutMillis
    }

    enum CodingKeys: String, CodingKey { case task, goal, attempt, token, kind, input, index, timeoutMillis = "timeout_ms" }
}

/// drone → honeycombd on `hive.v1.drone.<id>.result`.
public struct TaskResult: Codable, Sendable, Equatable {
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
    public var exitCode: Int?
    public var output: String?
    public var error: String?
    public var wallMillis: Int?
    public var usage: Usage?
    /// A failure retrying cannot fix (see `TaskOutput.permanent`).
    public var permanent: Bool?
    /// A task may answer by forking: these children replace its own result, joined under `join`.
    public var fork: [TaskSpec]?
    public var join: JoinPolicy?
    /// WebAssembly tasks: instructions executed (the fuel the module used).
    public var fuel: Int64?
    /// An output too large for one result message: the blob the drone uploaded (`blob_add`) before reporting.
    public var outputBlob: StoredBlob?

    public init(task: TaskID, attempt: Int, token: String, drone: DroneID, outcome: Outcome, exitCode: Int? = nil,
                output: String? = nil, error: String? = nil, wallMillis: Int? = nil, usage: Usage? = nil,
                permanent: Bool? = nil, fork: [TaskSpec]? = nil, join: JoinPolicy? = nil) {
        self.task = task
        self.attempt = attempt
        self.token = token
        self.drone = drone
        self.outcome = outcome
        self.exitCode = exitCode
        self.output = output
        self.error = error
        self.wallMillis = wallMillis
        self.usage = usage
        self.permanent = permanent
        self.fork = fork
        self.join = join
    }

    enum CodingKeys: String, CodingKey {
        case task, attempt, token, drone, outcome, output, error, usage, permanent, fork, join, fuel
        case exitCode = "exit_code", wallMillis = "wall_ms", outputBlob = "output_blob"
    }
}

/// honeycombd → drone on `hive.v1.drone.<id>.cancel`: stop a task (its goal ended, or a join no longer needs it).
public struct CancelTask: Codable, Sendable, Equatable {
    public var task: TaskID
    public init(task: TaskID) { self.task = task }
}
