import Foundation
import HiveCore

/// Hive tool names as a provider's function names: OpenAI and Anthropic accept `^[a-zA-Z0-9_-]{1,64}$`, so
/// `exec.date` is sent as `exec__date` (made unique with a number when two names would collide) and mapped back.
struct ProviderToolNames {
    private(set) var wire: [String: String] = [:]
    private(set) var hive: [String: String] = [:]

    init(_ names: [String]) {
        for name in names { _ = self.wireName(name) }
    }

    /// The provider's name for `name` (assigned on first use, so calls already in a transcript keep theirs).
    mutating func wireName(_ name: String) -> String {
        if let w = wire[name] { return w }
        var base = String(ToolAdvert.wordName(name.replacingOccurrences(of: ".", with: "__")).prefix(60))
        if base.isEmpty { base = "tool" }
        var candidate = base, n = 1
        while hive[candidate] != nil {
            n += 1
            candidate = "\(base)\(n)"
        }
        wire[name] = candidate
        hive[candidate] = name
        return candidate
    }

    /// The Hive name of a provider's function name (an unknown one is kept as given: the loop refuses it).
    func hiveName(_ wireName: String) -> String { hive[wireName] ?? wireName }

    /// A JSON value as Foundation objects, for `JSONSerialization` request bodies.
    static func object(_ v: JSONValue) -> Any {
        (try? JSONSerialization.jsonObject(with: Data(AgentInstructions.json(v).utf8), options: [.fragmentsAllowed])) ?? NSNull()
    }

    /// Foundation objects (a provider's reply) as a JSON value.
    static func value(_ any: Any?) -> JSONValue? {
        guard let any, let data = try? JSONSerialization.data(withJSONObject: any, options: [.fragmentsAllowed]) else { return nil }
        return try? JSONValue.parse([UInt8](data))
    }
}

/// A provider's failure on an agent turn (the message is the provider's, as `ProviderTransport` classified it).
struct ProviderTurnError: Error, CustomStringConvertible {
    let description: String
}
