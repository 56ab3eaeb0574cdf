import FoundationEssentials

/// Where `--journal jetstream://STREAM[?replicas=N&max_read=N]` keeps the journal: a JetStream stream taking `STREAM.>`, with
/// journal records on `STREAM.records` and snapshots on `STREAM.snapshot`.
public struct JetStreamJournalSettings: Sendable, Equatable {
    /// The stream's name (letters, digits, `-` and `_`: it is also the subjects' first token).
    public var stream: String
    /// The replicas the stream must have (nil: whatever it has; with `--journal-create`, 1).
    public var replicas: Int?
    /// Create the stream when it is missing (`--journal-create`); otherwise a missing stream stops startup.
    public var create = false
    /// How long an acknowledged reply waits for the stream's publish ack before answering "unavailable"
    /// (`--journal-ack-timeout-ms`); the records stay queued and are written when the stream is back.
    public var ackTimeout: Double = 5
    /// How often the active honeycombd renews the leader lease (`--leader-heartbeat-ms`); the lease lapses after
    /// two of these without a renewal, and a standby then takes over (`LeaderLease`).
    public var leaderHeartbeat: Double = 1
    /// The most stream sequences recovery (and a standby's tail) reads, first through last
    /// (`jetstream://STREAM?max_read=N`): a stream, or an answer on `$JS.API`, that claims more stops startup with the
    /// numbers instead of reading for ever. A compacting journal stays far below it.
    public var maxReadSequences: UInt64 = defaultMaxReadSequences
    public static let defaultMaxReadSequences: UInt64 = 1 << 24

    public init(stream: String, replicas: Int? = nil, create: Bool = false, ackTimeout: Double = 5) {
        self.stream = stream
        self.replicas = replicas
        self.create = create
        self.ackTimeout = ackTimeout
    }

    public var recordsSubject: String { stream + ".records" }
    public var snapshotSubject: String { stream + ".snapshot" }
    /// Takeover markers: one per leader, written before its first record (recovery skips them).
    public var leaderSubject: String { stream + ".leader" }

    /// Largest replica count JetStream allows.
    public static let maxReplicas = 5

    /// Parses `jetstream://STREAM[?replicas=N]`; the error says what is wrong.
    public static func parse(_ text: String) -> Result<JetStreamJournalSettings, JournalLocationError> {
        let scheme = "jetstream://"
        guard text.hasPrefix(scheme) else { return .failure(.unknownScheme(text)) }
        let rest = text.dropFirst(scheme.count)
        let parts = rest.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
        let name = String(parts[0])
        guard !name.isEmpty, name.count <= 64,
              name.unicodeScalars.allSatisfy({ ($0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0))) || $0 == "-" || $0 == "_" })
        else { return .failure(.badStreamName(name)) }
        var settings = JetStreamJournalSettings(stream: name)
        if parts.count == 2 {
            for pair in parts[1].split(separator: "&") {
                let kv = pair.split(separator: "=", maxSplits: 1)
                guard kv.count == 2 else { return .failure(.unknownParameter(String(pair))) }
                switch kv[0] {
                case "replicas":
                    guard let n = Int(kv[1]), (1...maxReplicas).contains(n) else { return .failure(.badReplicas(String(kv[1]))) }
                    settings.replicas = n
                case "max_read":
                    guard let n = UInt64(kv[1]), n >= 1 else { return .failure(.badMaxRead(String(kv[1]))) }
                    settings.maxReadSequences = n
                default:
                    return .failure(.unknownParameter(String(pair)))
                }
            }
        }
        return .success(settings)
    }
}

/// Why a `--journal` value was refused.
public enum JournalLocationError: Error, Equatable, CustomStringConvertible {
    case unknownScheme(String)
    case badStreamName(String)
    case unknownParameter(String)
    case badReplicas(String)
    case badMaxRead(String)

    public var description: String {
        switch self {
        case .unknownScheme(let t): return "'\(t)' is not a journal location: use jetstream://STREAM (or --data DIR for the file journal)"
        case .badStreamName(let n): return "'\(n)' is not a usable stream name: 1 to 64 letters, digits, '-' or '_'"
        case .unknownParameter(let p): return "unknown journal parameter '\(p)': only replicas=N and max_read=N are understood"
        case .badReplicas(let v): return "replicas=\(v): must be 1 to \(JetStreamJournalSettings.maxReplicas)"
        case .badMaxRead(let v): return "max_read=\(v): must be a whole number of stream sequences, at least 1"
        }
    }
}
