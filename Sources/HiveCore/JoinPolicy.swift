/// How a fork's children decide their parent's outcome.
///
/// `all`: every child must succeed. `any`: the first success wins (the rest are cancelled). `quorum(k)`: k
/// successes win (the rest are cancelled). `vote`: the majority answer among the children's outputs
/// (normalized: trimmed, case-folded) wins and becomes the fork's output; it is decided as soon as no other
/// answer can catch up. A policy fails as soon as it can no longer be met.
public enum JoinPolicy: Codable, Sendable, Equatable, CustomStringConvertible {
    case all
    case any
    case quorum(Int)
    case vote

    public var description: String {
        switch self {
        case .all: return "all"
        case .any: return "any"
        case .quorum(let k): return "quorum:\(k)"
        case .vote: return "vote"
        }
    }

    public static func parse(_ text: String) -> JoinPolicy? {
        switch text {
        case "all": return .all
        case "any": return .any
        case "vote": return .vote
        default:
            guard text.hasPrefix("quorum:"), let k = Int(text.dropFirst(7)), k > 0 else { return nil }
            return .quorum(k)
        }
    }

    /// Successes needed out of `n` children.
    public func needed(of n: Int) -> Int {
        switch self {
        case .all: return n
        case .any: return min(1, n)
        case .quorum(let k): return k
        case .vote: return min(1, n)
        }
    }

    public init(from decoder: any Decoder) throws {
        let s = try decoder.singleValueContainer().decode(String.self)
        guard let p = JoinPolicy.parse(s) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath,
                                                    debugDescription: "join must be all, any, quorum:K or vote"))
        }
        self = p
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(description)
    }
}

extension JoinPolicy {
    /// The form a `vote` compares answers in.
    public static func normalize(_ answer: String) -> String {
        answer.lowercased().split(whereSeparator: { $0 == " " || $0 == "\n" || $0 == "\t" || $0 == "\r" }).joined(separator: " ")
    }
}
