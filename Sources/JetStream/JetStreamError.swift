import NATSClient

/// What a JetStream API call or a publish can fail with, each with a message an operator can act on.
public enum JetStreamError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The server answered `{"error":{"code":…,"err_code":…,"description":…}}` (`code` is HTTP-like, `errCode` is
    /// JetStream's own, stable across versions: see `JetStreamErrorCode`).
    case api(code: Int, errCode: Int, description: String)
    /// Nobody answered the subject: JetStream is not enabled on the server (`-js`), or no stream takes the subject.
    case noResponders(subject: String)
    /// No answer within the deadline (a stream without quorum, a server that is away).
    case timeout(subject: String, seconds: Double)
    /// The NATS connection failed the request (closed, not connected, payload too large, …).
    case transport(subject: String, reason: String)
    /// The answer was not the JSON this API returns.
    case badReply(subject: String, reason: String)

    public var description: String {
        switch self {
        case .api(let code, let errCode, let d): return "JetStream error \(code)/\(errCode): \(d)"
        case .noResponders(let s): return "no responders for '\(s)': is JetStream enabled on the server (nats-server -js), and does a stream take this subject?"
        case .timeout(let s, let t): return "no JetStream answer on '\(s)' within \(t) s (the stream may have lost quorum, or the server is away)"
        case .transport(let s, let r): return "JetStream request on '\(s)' failed: \(r)"
        case .badReply(let s, let r): return "unreadable JetStream answer on '\(s)': \(r)"
        }
    }

    /// The JetStream error code, when the server sent one.
    public var errCode: Int? {
        if case .api(_, let e, _) = self { return e }
        return nil
    }

    /// True for failures that may pass on their own (no quorum, a leader election, a timeout, a reconnect): a writer
    /// retries these; anything else is a configuration or protocol problem.
    public var isTransient: Bool {
        switch self {
        case .timeout, .noResponders: return true
        case .transport(_, let r): return !r.contains("max_payload")
        case .badReply: return false
        case .api(let code, let errCode, _):
            return code == 503 || code == 408 || errCode == JetStreamErrorCode.clusterNotAvailable
                || errCode == JetStreamErrorCode.jetStreamNotAvailable || errCode == JetStreamErrorCode.streamOffline
                || errCode == JetStreamErrorCode.noSuitablePeers
        }
    }
}

/// JetStream's `err_code`s this client acts on (from nats-server's `server/errors.json`).
public enum JetStreamErrorCode {
    public static let streamNotFound = 10059
    public static let noMessageFound = 10037
    /// A failed `Nats-Expected-Last-Sequence` or `Nats-Expected-Last-Subject-Sequence` (a lost compare-and-set).
    public static let wrongLastSequence = 10071
    public static let streamNameInUse = 10058
    public static let clusterNotAvailable = 10008
    public static let jetStreamNotAvailable = 10076
    public static let streamOffline = 10118
    public static let insufficientResources = 10023
    /// "no suitable peers for placement": a cluster that has not met all its JetStream peers yet (it just started),
    /// or fewer nodes than the replicas asked for. Transient: a caller's deadline tells the two apart.
    public static let noSuitablePeers = 10005
}
