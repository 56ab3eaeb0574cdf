/// A goal's place in a distributed trace (W3C Trace Context): the trace it belongs to and, when the submitter
/// sent a `traceparent`, the submitter's span. Chosen at submission and journaled with the goal, so every span
/// honeycombd reports for it (the goal, each task, each attempt, each drone's run) lands in one trace. Span IDs
/// are derived from the trace and the task, so they need no storage and stay the same after a restart.
public struct TraceContext: Codable, Sendable, Equatable {
    /// 32 lowercase hex digits, not all zero.
    public var traceID: String
    /// The submitter's span (16 hex digits), parent of the goal's span.
    public var parentSpanID: String?

    public init(traceID: String, parentSpanID: String? = nil) {
        self.traceID = traceID
        self.parentSpanID = parentSpanID
    }

    /// Reads a `traceparent` header (`00-TRACEID-SPANID-FLAGS`); nil when it is malformed or all-zero (the spec
    /// says to start a new trace then).
    public init?(traceparent: String) {
        // The common case, version 00 exactly as sent: fixed offsets, no splitting (one per assignment and result).
        let u = traceparent.utf8
        if u.count == 55 {
            let b = Array(u)
            if b[2] == 0x2D, b[35] == 0x2D, b[52] == 0x2D, b[0] == 0x30, b[1] == 0x30,
               b[3..<35].allSatisfy(Self.isLowerHex), b[36..<52].allSatisfy(Self.isLowerHex), b[53..<55].allSatisfy(Self.isLowerHex),
               b[3..<35].contains(where: { $0 != 0x30 }), b[36..<52].contains(where: { $0 != 0x30 }) {
                traceID = String(decoding: b[3..<35], as: UTF8.self)
                parentSpanID = String(decoding: b[36..<52], as: UTF8.self)
                return
            }
        }
        let parts = traceparent.trimmingSpaces.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count >= 4, parts[0].count == 2, parts[0] != "ff", Self.isHex(parts[0]),
              parts[1].count == 32, Self.isHex(parts[1]), parts[1].contains(where: { $0 != "0" }),
              parts[2].count == 16, Self.isHex(parts[2]), parts[2].contains(where: { $0 != "0" }),
              parts[3].count == 2, Self.isHex(parts[3]) else { return nil }
        traceID = parts[1].lowercased()
        parentSpanID = parts[2].lowercased()
    }

    /// Whether the IDs are well formed (a trace named in a submitted spec is checked before it is used).
    public var isValid: Bool {
        traceID.count == 32 && Self.isHex(Substring(traceID)) && traceID.contains { $0 != "0" }
            && (parentSpanID.map { $0.count == 16 && Self.isHex(Substring($0)) && $0.contains { $0 != "0" } } ?? true)
    }

    /// A new trace with a random ID.
    public static func random<R: RandomNumberGenerator>(using rng: inout R) -> TraceContext {
        TraceContext(traceID: hex(rng.next()) + hex(rng.next() | 1))
    }

    /// The span of `parts` (e.g. `["goal"]`, `["task", id]`, `["attempt", id, "2"]`) in this trace.
    /// FNV-1a over the names, then a SplitMix64 finish: IDs need to be distinct within a trace, not secret, and
    /// one is made for every assignment sent (so no arrays or joined strings on the way).
    public func spanID(_ kind: String, _ name: String = "", _ number: Int? = nil) -> String {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        func mix(_ s: String) {
            for b in s.utf8 { h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01B3 }
            h = (h ^ 0x2F) &* 0x0000_0100_0000_01B3
        }
        mix(traceID)
        mix(kind)
        mix(name)
        if let number { h = (h ^ UInt64(bitPattern: Int64(number))) &* 0x0000_0100_0000_01B3 }
        h = (h ^ (h >> 30)) &* 0xBF58_476D_1CE4_E5B9
        h = (h ^ (h >> 27)) &* 0x94D0_49BB_1331_11EB
        h ^= h >> 31
        return Self.hex(h == 0 ? 1 : h)
    }

    /// A random span ID (a drone's run: drones keep no state to derive one from) from the caller's generator.
    public static func randomSpanID<R: RandomNumberGenerator>(using rng: inout R) -> String { hex(rng.next() | 1) }

    /// The `traceparent` value naming `span` in this trace (sampled).
    public func traceparent(span: String) -> String { "00-\(traceID)-\(span)-01" }

    static func hex(_ v: UInt64) -> String {
        let s = String(v, radix: 16)
        return String(repeating: "0", count: 16 - s.count) + s
    }

    static func isHex(_ s: Substring) -> Bool { s.allSatisfy { $0.isHexDigit } }
    static func isLowerHex(_ b: UInt8) -> Bool { (b >= 0x30 && b <= 0x39) || (b >= 0x61 && b <= 0x66) }

    enum CodingKeys: String, CodingKey {
        case traceID = "trace_id", parentSpanID = "parent_span_id"
    }
}

extension StringProtocol {
    var trimmingSpaces: String { String(drop { $0 == " " }.reversed().drop { $0 == " " }.reversed()) }
}
