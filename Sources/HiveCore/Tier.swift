/// A drone's class of hardware and model (see MANIFESTO.md): edge < worker < core.
public enum Tier: String, Codable, Sendable, CaseIterable, Comparable {
    case edge, worker, core

    var rank: Int {
        switch self {
        case .edge: return 0
        case .worker: return 1
        case .core: return 2
        }
    }

    public static func < (a: Tier, b: Tier) -> Bool { a.rank < b.rank }
}

/// What tier a task needs: exactly one, or at least one. Encoded as `"worker"` (exact) or `"worker+"` (minimum).
public struct TierRequirement: Codable, Sendable, Equatable, CustomStringConvertible {
    public var tier: Tier
    public var orHigher: Bool

    public init(_ tier: Tier, orHigher: Bool = false) {
        self.tier = tier
        self.orHigher = orHigher
    }

    public func admits(_ t: Tier) -> Bool { orHigher ? t >= tier : t == tier }

    public var description: String { tier.rawValue + (orHigher ? "+" : "") }

    public static func parse(_ text: String) -> TierRequirement? {
        let plus = text.hasSuffix("+")
        guard let t = Tier(rawValue: plus ? String(text.dropLast()) : text) else { return nil }
        return TierRequirement(t, orHigher: plus)
    }

    public init(from decoder: any Decoder) throws {
        let s = try decoder.singleValueContainer().decode(String.self)
        guard let r = TierRequirement.parse(s) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath,
                                                    debugDescription: "tier must be edge, worker or core, optionally with +"))
        }
        self = r
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(description)
    }
}
