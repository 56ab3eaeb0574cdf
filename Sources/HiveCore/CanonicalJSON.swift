import FoundationEssentials

/// One home for JSON whose bytes are hashed, compared or shown to a model or a person: keys sorted (Codable's key
/// order is not stable across binaries) and `/` unescaped. Tool pins, agent transcripts, arguments shown in
/// prompts and JSON-RPC messages to MCP servers are written so.
public enum CanonicalJSON {
    /// A new encoder with the canonical formatting (`JSONEncoder` is not `Sendable`: one per use or per owner).
    public static func encoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }

    /// `value` as canonical JSON bytes, or nil when it cannot be encoded (a non-finite number).
    public static func encode(_ value: some Encodable) -> [UInt8]? {
        (try? encoder().encode(value)).map { [UInt8]($0) }
    }
}
