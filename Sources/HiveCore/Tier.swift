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

/// What tier a task needs: exactly one, at least one, or at most one. Encoded as `"worker"` (exact), `"worker+"`
/// (minimum) or `"worker-"` (maximum: the cheap tiers).
public struct TierRequirement: Codable, Sendable, Hashable, CustomStringConvertible {
    public var tier: Tier
    public var orHigher: Bool
    public var orLower: Bool

    public init(_ tier: Tier, orHigher: Bool = false, orLower: Bool = false) {
        self.tier = tier
        self.orHigher = orHigher
        self.orLower = orLower && !orHigher
    }

    /// Edge or worker: where exploration runs unless a step says otherwise (the core tier decides and integrates).
    public static let cheap = TierRequirement(.worker, orLower: true)

    public func admits(_ t: Tier) -> Bool { orHigher ? t >= tier : orLower ? t <= tier : t == tier }

    public var description: String { tier.rawValue + (orHigher ? "+" : orLower ? "-" : "") }

    public static func parse(_ text: String) -> TierRequirement? {
        let plus = text.hasSuffix("+"), minus = text.hasSuffix("-")
        guard let t = Tier(rawValue: plus || minus ? String(text.dropLast()) : text) else { return nil }
        return TierRequirement(t, orHigher: plus, orLower: minus)
    }

    public init(from decoder: any Decoder) throws {
        let s = try decoder.singleValueContainer().decode(String.self)
        guard let r = TierRequirement.parse(s) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath,
                                                    debugDescription: "tier must be edge, worker or core, optionally with + (or higher) or - (or lower)"))
        }
        self = r
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(description)
    }
}
