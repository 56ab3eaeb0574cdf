import FoundationEssentials
import NATSClient
import NATSWire

/// The JetStream API over a NATS connection: JSON requests on `$JS.API.…` subjects, answered by the server (or the
/// stream's leader in a cluster), and publishes acknowledged with the stream sequence that stored them.
///
/// Works against any nats-server with JetStream enabled (`-js`); honeycombd's embedded broker has no JetStream.
/// Every call has a deadline (`timeout`), and every failure is a `JetStreamError`.
public struct JetStreamAPI: Sendable {
    public let client: NATSClient
    /// `$JS.API` (a JetStream domain or an account import would change it).
    public let prefix: String
    /// Seconds each request waits for its answer.
    public var timeout: Double

    public init(client: NATSClient, prefix: String = "$JS.API", timeout: Double = 5) {
        self.client = client
        self.prefix = prefix
        self.timeout = timeout
    }

    // MARK: Streams

    /// The stream's configuration and state, or nil when there is no such stream.
    public func streamInfo(_ name: String) async throws(JetStreamError) -> StreamInfo? {
        do {
            return try await call("STREAM.INFO.\(name)", [], as: StreamInfo.self)
        } catch where error.errCode == JetStreamErrorCode.streamNotFound {
            return nil
        }
    }

    /// Creates the stream (fails with `streamNameInUse` when one by that name exists with another configuration).
    public func createStream(_ config: StreamConfig) async throws(JetStreamError) -> StreamInfo {
        try await call("STREAM.CREATE.\(config.name)", encode(config), as: StreamInfo.self)
    }

    /// Deletes the stream and everything in it.
    public func deleteStream(_ name: String) async throws(JetStreamError) {
        _ = try await call("STREAM.DELETE.\(name)", [], as: SuccessReply.self)
    }

    /// Removes the messages on `subject` whose sequence is below `below` (all of the stream's when `subject` is
    /// nil); returns how many went.
    @discardableResult
    public func purge(_ stream: String, subject: String? = nil, below seq: UInt64) async throws(JetStreamError) -> UInt64 {
        let request = PurgeRequest(filter: subject, seq: seq)
        return try await call("STREAM.PURGE.\(stream)", encode(request), as: PurgeReply.self).purged
    }

    /// Asks the stream's raft leader to hand its leadership to another replica (an election among the others
    /// starts at once; the stream takes no writes for the moment it takes).
    public func stepDownLeader(_ stream: String) async throws(JetStreamError) {
        _ = try await call("STREAM.LEADER.STEPDOWN.\(stream)", [], as: SuccessReply.self)
    }

    /// The message stored at `seq`, or nil when there is none (never written, deleted or purged).
    public func message(_ stream: String, seq: UInt64) async throws(JetStreamError) -> StoredMessage? {
        try await getMessage(stream, MessageGetRequest(seq: seq, lastBySubject: nil))
    }

    /// The last message stored on `subject`, or nil when there is none.
    public func lastMessage(_ stream: String, subject: String) async throws(JetStreamError) -> StoredMessage? {
        try await getMessage(stream, MessageGetRequest(seq: nil, lastBySubject: subject))
    }

    private func getMessage(_ stream: String, _ request: MessageGetRequest) async throws(JetStreamError) -> StoredMessage? {
        let subject = "STREAM.MSG.GET.\(stream)"
        let reply: MessageGetReply
        do {
            reply = try await call(subject, encode(request), as: MessageGetReply.self)
        } catch where error.errCode == JetStreamErrorCode.noMessageFound {
            return nil
        }
        let m = reply.message
        guard let data = Data(base64Encoded: m.data ?? "") else {
            throw .badReply(subject: prefix + "." + subject, reason: "message data is not base64")
        }
        var headers: [String: String] = [:]
        if let h = m.hdrs, let block = Data(base64Encoded: h) {
            let parsed = Array(block).withUnsafeBytes { NATSHeaders.parse($0) }
            for e in parsed?.entries ?? [] where headers[e.name] == nil { headers[e.name] = e.value }
        }
        return StoredMessage(subject: m.subject, seq: m.seq, headers: headers, data: Array(data))
    }

    // MARK: Publishing

    /// Publishes to a stream's subject and waits for the stream to store it: its sequence, or the reason it refused
    /// (a failed `Nats-Expected-Last-Sequence` is `wrongLastSequence`).
    public func publish(_ subject: String, _ payload: [UInt8], headers: NATSHeaders? = nil) async throws(JetStreamError) -> PubAck {
        let message: NATSMessage
        do {
            message = try await client.request(subject, payload, headers: headers, timeout: timeout)
        } catch {
            throw Self.mapTransport(error, subject: subject, timeout: timeout)
        }
        return try Self.decode(message, subject: subject, as: PubAck.self)
    }

    // MARK: Plumbing

    /// One API request: `$JS.API.<verb>` with a JSON body, decoded into `T` or thrown as the API's error.
    func call<T: Decodable>(_ verb: String, _ body: [UInt8], as: T.Type) async throws(JetStreamError) -> T {
        let subject = prefix + "." + verb
        let message: NATSMessage
        do {
            message = try await client.request(subject, body, timeout: timeout)
        } catch {
            throw Self.mapTransport(error, subject: subject, timeout: timeout)
        }
        return try Self.decode(message, subject: subject, as: T.self)
    }

    static func mapTransport(_ error: any Error, subject: String, timeout: Double) -> JetStreamError {
        switch error as? NATSClientError {
        case .noResponders?: return .noResponders(subject: subject)
        case .timeout?: return .timeout(subject: subject, seconds: timeout)
        case let e?: return .transport(subject: subject, reason: e.description)
        case nil: return .transport(subject: subject, reason: "\(error)")
        }
    }

    /// Decodes an answer: the API's error when it carries one, else `T`.
    static func decode<T: Decodable>(_ message: NATSMessage, subject: String, as: T.Type) throws(JetStreamError) -> T {
        if message.status == 503 { throw .noResponders(subject: subject) }
        let data = Data(message.payload)
        if let e = try? JSONDecoder().decode(ErrorReply.self, from: data), let error = e.error {
            throw .api(code: error.code, errCode: error.errCode ?? 0, description: error.description ?? "")
        }
        do { return try JSONDecoder().decode(T.self, from: data) } catch {
            let text = String(decoding: message.payload.prefix(200), as: UTF8.self)
            throw .badReply(subject: subject, reason: "\(error) in \(text)")
        }
    }

    private func encode<T: Encodable>(_ value: T) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return (try? encoder.encode(value)).map { Array($0) } ?? []
    }
}

struct ErrorReply: Decodable {
    struct Body: Decodable {
        var code: Int
        var errCode: Int?
        var description: String?
        enum CodingKeys: String, CodingKey {
            case code, description
            case errCode = "err_code"
        }
    }
    var error: Body?
}

struct SuccessReply: Decodable { var success: Bool }

struct PurgeRequest: Encodable {
    var filter: String?
    var seq: UInt64
}

struct PurgeReply: Decodable {
    var success: Bool
    var purged: UInt64
}

struct MessageGetRequest: Encodable {
    var seq: UInt64?
    var lastBySubject: String?
    enum CodingKeys: String, CodingKey {
        case seq
        case lastBySubject = "last_by_subj"
    }
}

struct MessageGetReply: Decodable {
    struct Message: Decodable {
        var subject: String
        var seq: UInt64
        var hdrs: String?
        var data: String?
    }
    var message: Message
}
