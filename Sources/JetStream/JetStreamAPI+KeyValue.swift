import NATSWire

/// A key's newest value in a key-value bucket, and its revision (the stream sequence that stored it: what a
/// compare-and-set names).
public struct KeyValueEntry: Sendable, Equatable {
    public var key: String
    public var value: [UInt8]
    public var revision: UInt64
}

/// Key-value buckets the way JetStream lays them out (ADR-8): a stream `KV_<bucket>` taking `$KV.<bucket>.>`,
/// keeping one message per key; a value's revision is its stream sequence, and a compare-and-set is a publish with
/// `Nats-Expected-Last-Subject-Sequence`. A bucket's `max_age` is its TTL: a key not written again within it is
/// gone (the leader lease of an active/standby honeycombd lapses that way).
extension JetStreamAPI {
    public static func keyValueStream(_ bucket: String) -> String { "KV_" + bucket }
    public static func keyValueSubject(_ bucket: String, _ key: String) -> String { "$KV.\(bucket).\(key)" }

    /// Creates the bucket (or returns it, when one with this configuration exists). `ttl`: seconds a key lives
    /// unless written again (nil: forever).
    public func createKeyValueBucket(_ bucket: String, ttl: Double? = nil, replicas: Int = 1,
                                     storage: String = "file") async throws(JetStreamError) -> StreamInfo {
        var config = StreamConfig(name: Self.keyValueStream(bucket), subjects: ["$KV.\(bucket).>"], storage: storage, replicas: replicas)
        config.maxMsgsPerSubject = 1
        config.allowRollupHeaders = true
        config.denyDelete = true
        config.discard = "new"
        if let ttl {
            config.maxAge = Int64(min(max(ttl, 0.001), 1e9) * 1e9)
            // JetStream refuses a duplicate window longer than max_age.
            config.duplicateWindow = min(config.duplicateWindow, config.maxAge)
        }
        return try await createStream(config)
    }

    /// The key's newest value, or nil when it was never written or its TTL passed.
    public func keyValue(_ bucket: String, _ key: String) async throws(JetStreamError) -> KeyValueEntry? {
        guard let m = try await lastMessage(Self.keyValueStream(bucket), subject: Self.keyValueSubject(bucket, key)) else { return nil }
        if let op = m.headers["KV-Operation"], op == "DEL" || op == "PURGE" { return nil }
        return KeyValueEntry(key: key, value: m.data, revision: m.seq)
    }

    /// Compare-and-set: writes `value` only if the key's revision is still `revision` (0: only if the key does not
    /// exist). Returns the new revision; a lost race throws `wrongLastSequence`.
    public func updateKeyValue(_ bucket: String, _ key: String, _ value: [UInt8], revision: UInt64) async throws(JetStreamError) -> UInt64 {
        let headers = NATSHeaders(JetStreamHeader.expectedLastSubjectSequence, String(revision))
        return try await publish(Self.keyValueSubject(bucket, key), value, headers: headers).seq
    }
}
