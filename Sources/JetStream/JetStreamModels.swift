import FoundationEssentials

/// A stream's configuration as `$JS.API.STREAM.CREATE` takes it and `STREAM.INFO` returns it (the fields this
/// client sets; the server fills in the rest and returns them, which decoding ignores).
public struct StreamConfig: Codable, Sendable, Equatable {
    public var name: String
    public var subjects: [String]
    /// `limits` (keep until a limit or a purge): what a journal needs.
    public var retention: String = "limits"
    /// `file` or `memory`.
    public var storage: String = "file"
    public var numReplicas: Int = 1
    /// Largest message the stream accepts (-1: the server's max_payload).
    public var maxMsgSize: Int32 = -1
    /// How long a `Nats-Msg-Id` is remembered for de-duplication, in nanoseconds.
    public var duplicateWindow: Int64 = 120_000_000_000
    public var discard: String = "old"
    /// Limits that make the stream drop messages on its own (-1 / 0: none). A journal's stream must have none.
    public var maxMsgs: Int64 = -1
    public var maxBytes: Int64 = -1
    /// Nanoseconds a message is kept (0: forever).
    public var maxAge: Int64 = 0
    /// Messages kept per subject (-1: no limit; 1 for a key-value bucket: the newest value of each key).
    public var maxMsgsPerSubject: Int64 = -1
    /// Whether `Nats-Rollup` headers may purge a subject (key-value buckets allow it).
    public var allowRollupHeaders = false
    /// Whether single messages may not be deleted through the API (key-value buckets deny it).
    public var denyDelete = false

    public init(name: String, subjects: [String], storage: String = "file", replicas: Int = 1, maxMsgSize: Int32 = -1) {
        self.name = name
        self.subjects = subjects
        self.storage = storage
        numReplicas = replicas
        self.maxMsgSize = maxMsgSize
    }

    enum CodingKeys: String, CodingKey {
        case name, subjects, retention, storage, discard
        case numReplicas = "num_replicas"
        case maxMsgSize = "max_msg_size"
        case duplicateWindow = "duplicate_window"
        case maxMsgs = "max_msgs"
        case maxBytes = "max_bytes"
        case maxAge = "max_age"
        case maxMsgsPerSubject = "max_msgs_per_subject"
        case allowRollupHeaders = "allow_rollup_hdrs"
        case denyDelete = "deny_delete"
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        name = try c.decode(String.self, forKey: .name)
        subjects = try c.decodeIfPresent([String].self, forKey: .subjects) ?? []
        retention = try c.decodeIfPresent(String.self, forKey: .retention) ?? "limits"
        storage = try c.decodeIfPresent(String.self, forKey: .storage) ?? "file"
        numReplicas = try c.decodeIfPresent(Int.self, forKey: .numReplicas) ?? 1
        maxMsgSize = try c.decodeIfPresent(Int32.self, forKey: .maxMsgSize) ?? -1
        duplicateWindow = try c.decodeIfPresent(Int64.self, forKey: .duplicateWindow) ?? 0
        discard = try c.decodeIfPresent(String.self, forKey: .discard) ?? "old"
        maxMsgs = try c.decodeIfPresent(Int64.self, forKey: .maxMsgs) ?? -1
        maxBytes = try c.decodeIfPresent(Int64.self, forKey: .maxBytes) ?? -1
        maxAge = try c.decodeIfPresent(Int64.self, forKey: .maxAge) ?? 0
        maxMsgsPerSubject = try c.decodeIfPresent(Int64.self, forKey: .maxMsgsPerSubject) ?? -1
        allowRollupHeaders = try c.decodeIfPresent(Bool.self, forKey: .allowRollupHeaders) ?? false
        denyDelete = try c.decodeIfPresent(Bool.self, forKey: .denyDelete) ?? false
    }
}

/// What a stream holds now.
public struct StreamState: Codable, Sendable, Equatable {
    public var messages: UInt64
    public var bytes: UInt64
    public var firstSeq: UInt64
    public var lastSeq: UInt64

    enum CodingKeys: String, CodingKey {
        case messages, bytes
        case firstSeq = "first_seq"
        case lastSeq = "last_seq"
    }
}

/// Where a replicated stream's leader and replicas are (absent on a single server without clustering).
public struct StreamClusterInfo: Codable, Sendable, Equatable {
    public var name: String?
    public var leader: String?
    /// The other replicas, as the leader sees them.
    public var replicas: [PeerInfo]?

    /// A replica: `current` when it has caught up with the leader; `offline` when its node is unreachable.
    public struct PeerInfo: Codable, Sendable, Equatable {
        public var name: String
        public var current: Bool?
        public var offline: Bool?
    }
}

/// `STREAM.INFO`'s answer.
public struct StreamInfo: Codable, Sendable, Equatable {
    public var config: StreamConfig
    public var state: StreamState
    public var cluster: StreamClusterInfo?
}

/// A publish acknowledgement: the stream stored the message at `seq` (`duplicate`: it already had this
/// `Nats-Msg-Id`, at `seq`).
public struct PubAck: Codable, Sendable, Equatable {
    public var stream: String
    public var seq: UInt64
    public var duplicate: Bool?
}

/// A message read back with `STREAM.MSG.GET`.
public struct StoredMessage: Sendable, Equatable {
    public var subject: String
    public var seq: UInt64
    public var headers: [String: String]
    public var data: [UInt8]
}

/// The headers JetStream reads on a publish.
public enum JetStreamHeader {
    /// De-duplication id: a retried publish with the same id is stored once.
    public static let msgID = "Nats-Msg-Id"
    /// The publish fails unless the stream's last sequence is this (a writer fences out any other writer).
    public static let expectedLastSequence = "Nats-Expected-Last-Sequence"
    /// The publish fails unless the last message on this subject has this sequence (compare-and-set on one key).
    public static let expectedLastSubjectSequence = "Nats-Expected-Last-Subject-Sequence"
    public static let expectedStream = "Nats-Expected-Stream"
}
