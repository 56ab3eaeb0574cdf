/// The bus subjects of Hive's control plane (versioned: `hive.v1.…`). Shared by honeycombd, drones and the CLI.
public enum APISubject {
    /// Request/reply: honeycombd's status (`StatusReply`).
    public static let status = "hive.v1.api.status"
    /// Request/reply: a `GoalSpec` → `GoalRef` (after it is durable) or `APIError`.
    public static let submit = "hive.v1.api.submit"
    /// Request/reply: → `[GoalSummary]`.
    public static let goals = "hive.v1.api.goals"
    /// Request/reply: `GoalRef` → `GoalSummary`.
    public static let goal = "hive.v1.api.goal"
    /// Request/reply: `GoalRef` → `[TaskView]` (every node, forks included).
    public static let tasks = "hive.v1.api.tasks"
    /// Request/reply: `GoalRef` → `GoalResult` (work tasks only).
    public static let result = "hive.v1.api.result"
    /// Request/reply: `GoalRef` → `TraceView` (the goal's spans).
    public static let trace = "hive.v1.api.trace"
    /// Request/reply: `GoalRef` → `GoalSummary` after cancelling.
    public static let cancel = "hive.v1.api.cancel"
    /// Request/reply: `ApprovalDecision` → `ApprovalReply` (operators only: observers have no such verb).
    public static let approve = "hive.v1.api.approve"
    public static let deny = "hive.v1.api.deny"
    /// Request/reply: → `[DroneView]`.
    public static let drones = "hive.v1.api.drones"
    /// Request/reply: a WebAssembly module's bytes → `ModuleRef` (validated, stored by SHA-256) or `APIError`.
    /// A module over one message goes in parts (`ModuleTransfer`).
    public static let moduleAdd = "hive.v1.api.module_add"
    /// Request/reply: `ModuleRef` → the module's bytes from `offset` (as many as fit one message, with the whole
    /// size in a `ModuleTransfer.sizeHeader` header), or `APIError` (JSON, so it starts with `{`, never `\0asm`).
    public static let moduleGet = "hive.v1.api.module_get"
    /// Request/reply: `ModuleRef` → the removed `ModuleRef`, or `APIError` (unknown, or named by a running goal).
    public static let moduleRemove = "hive.v1.api.module_rm"
    /// Request/reply: empty → `ModuleList` (every stored module, the bytes they take and the quota).
    public static let modules = "hive.v1.api.modules"
    /// Request/reply: a blob's bytes in parts (`BlobTransfer` headers) → `BlobRef` (progress, then the stored blob)
    /// or `APIError`. Operators upload inputs here; drones upload outputs on their own subject (`blobUpload`).
    public static let blobAdd = "hive.v1.api.blob_add"
    /// Request/reply: `BlobRef` → the blob's bytes from `offset` (as many as fit one message, the whole size in a
    /// `BlobTransfer.sizeHeader` header), or `APIError` (JSON, with a `Hive-Error` header).
    public static let blobGet = "hive.v1.api.blob_get"
    /// Request/reply: `BlobHas` (names) → `BlobHas` (the names honeycombd holds).
    public static let blobHas = "hive.v1.api.blob_has"

    /// Request/reply: `DroneAdd` → `DroneCredential` (a new drone principal and its token) or `APIError`. Operators.
    public static let droneAdd = "hive.v1.api.drone_add"
    /// Request/reply: `DroneAdd` (its name) → the revoked `DroneCredential` (token blanked) or `APIError`. Operators.
    public static let droneRevoke = "hive.v1.api.drone_revoke"

    // Every subject a drone publishes carries its id, and a drone's credential allows it only its own subjects
    // (ARCHITECTURE: Trust): honeycombd takes the sender from the subject (`drone(in:)`), never from the payload.

    /// drone → honeycombd, request/reply on `hive.v1.drone.<id>.hello`: `DroneHello` → `HelloReply`.
    public static func hello(_ drone: DroneID) -> String { "hive.v1.drone.\(drone).hello" }
    public static let hellos = "hive.v1.drone.*.hello"
    /// drone → honeycombd, request/reply on `hive.v1.drone.<id>.hb`: `Heartbeat` → `HeartbeatReply`.
    public static func heartbeat(_ drone: DroneID) -> String { "hive.v1.drone.\(drone).hb" }
    public static let heartbeats = "hive.v1.drone.*.hb"
    /// drone → honeycombd: the drone is shutting down (no new leases).
    public static func bye(_ drone: DroneID) -> String { "hive.v1.drone.\(drone).bye" }
    public static let byes = "hive.v1.drone.*.bye"
    /// drone → honeycombd, request/reply on `hive.v1.drone.<id>.blob`: one part of an output too large for a result
    /// (as `blobAdd`), accepted only while the drone holds a lease, so honeycombd knows whose upload it is.
    public static func blobUpload(_ drone: DroneID) -> String { "hive.v1.drone.\(drone).blob" }
    public static let blobUploads = "hive.v1.drone.*.blob"
    /// drone → honeycombd on `hive.v1.drone.<id>.result`: `TaskResult`.
    public static func result(_ drone: DroneID) -> String { "hive.v1.drone.\(drone).result" }
    public static let results = "hive.v1.drone.*.result"
    /// honeycombd → drone: `Assignment` (lease tokens travel only here, where only that drone may read).
    public static func assign(_ drone: DroneID) -> String { "hive.v1.drone.\(drone).task" }
    /// honeycombd → drone: `CancelTask`.
    public static func cancelTask(_ drone: DroneID) -> String { "hive.v1.drone.\(drone).cancel" }

    /// The drone id in a `hive.v1.drone.<id>.<verb>` subject. Read on the subject's bytes, split at `.` as the
    /// broker splits tokens (one call per heartbeat and per result: splitting into substrings cost 3% of
    /// honeycombd at 10,000 drones).
    public static func drone(in subject: String) -> DroneID? {
        let bytes = subject.utf8
        guard bytes.starts(with: droneSubjectPrefix.utf8) else { return nil }
        let start = bytes.index(bytes.startIndex, offsetBy: droneSubjectPrefix.utf8.count)
        guard let dot = bytes[start...].firstIndex(of: UInt8(ascii: ".")), dot != start,
              !bytes[bytes.index(after: dot)...].contains(UInt8(ascii: ".")) else { return nil }
        return String(subject[start..<dot])
    }

    private static let droneSubjectPrefix = "hive.v1.drone."


    /// A drone id usable as one subject token: letters, digits, `-` and `_`, 1 to 64 of them.
    public static func isValidDroneID(_ id: String) -> Bool {
        !id.isEmpty && id.utf8.count <= 64 && id.allSatisfy { ($0.isASCII && ($0.isLetter || $0.isNumber)) || $0 == "-" || $0 == "_" }
    }

    /// honeycombd → watchers: `GoalEvent` when a goal ends.
    public static func events(_ goal: GoalID) -> String { "hive.v1.events.\(goal)" }
}

/// What `hive.v1.api.status` answers.
public struct StatusReply: Codable, Sendable, Equatable {
    public var service: String
    public var version: String
    /// `embedded` (honeycombd hosts the broker) or `external` (a NATS server or cluster given with --nats).
    public var broker: String
    /// The NATS server honeycombd's control plane is connected to.
    public var busServer: String
    public var startedAt: String
    public var uptimeSeconds: Double

    public init(service: String, version: String, broker: String, busServer: String, startedAt: String, uptimeSeconds: Double) {
        self.service = service
        self.version = version
        self.broker = broker
        self.busServer = busServer
        self.startedAt = startedAt
        self.uptimeSeconds = uptimeSeconds
    }

    enum CodingKeys: String, CodingKey {
        case service, version, broker
        case busServer = "bus_server", startedAt = "started_at", uptimeSeconds = "uptime_seconds"
    }
}

/// Hive's own version (not the NATS protocol version the broker advertises).
public enum HiveVersion {
    public static let current = "0.1.0"
}
