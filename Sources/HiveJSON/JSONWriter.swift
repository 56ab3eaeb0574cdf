/// Hive's one JSON writer and string escaper: the hot records (journal lease/finish/expire events, assignments,
/// results), the event feed's lines, the NATS INFO and CONNECT lines, HTTP error bodies. Foundation's
/// `JSONEncoder` is the control plane's most expensive step where it runs per task; this writes exactly what the
/// `Codable` conformances produce (same keys, omitted nils), so the records decode with `JSONDecoder` as usual.
///
/// Its own module, with nothing but the standard library, because its users sit on both sides of the module
/// graph: `NATSWire` (pure protocol) and `HiveCore` (pure domain) must not depend on each other, and both write
/// JSON.
public struct JSONWriter: Sendable {
    public private(set) var bytes: [UInt8] = []
    private var needsComma = false

    public init(capacity: Int = 256) { bytes.reserveCapacity(capacity) }

    public mutating func beginObject() {
        comma()
        bytes.append(UInt8(ascii: "{"))
        needsComma = false
    }

    public mutating func endObject() {
        bytes.append(UInt8(ascii: "}"))
        needsComma = true
    }

    public mutating func beginArray() {
        comma()
        bytes.append(UInt8(ascii: "["))
        needsComma = false
    }

    public mutating func endArray() {
        bytes.append(UInt8(ascii: "]"))
        needsComma = true
    }

    /// `"key":` (the value follows).
    public mutating func key(_ k: StaticString) {
        comma()
        bytes.append(UInt8(ascii: "\""))
        k.withUTF8Buffer { bytes.append(contentsOf: $0) }
        bytes.append(contentsOf: [UInt8(ascii: "\""), UInt8(ascii: ":")])
        needsComma = false
    }

    public mutating func field(_ k: StaticString, _ v: String) {
        key(k)
        string(v)
    }

    public mutating func field(_ k: StaticString, _ v: some BinaryInteger) {
        key(k)
        bytes.append(contentsOf: Array(String(v).utf8))
        needsComma = true
    }

    public mutating func field(_ k: StaticString, _ v: Bool) {
        key(k)
        bytes.append(contentsOf: Array((v ? "true" : "false").utf8))
        needsComma = true
    }

    public mutating func field(_ k: StaticString, _ v: [String]) {
        key(k)
        bytes.append(UInt8(ascii: "["))
        needsComma = false
        for s in v { string(s) }
        bytes.append(UInt8(ascii: "]"))
        needsComma = true
    }

    /// A string-to-string object, keys sorted (as `JSONEncoder` with `.sortedKeys` writes them).
    public mutating func field(_ k: StaticString, _ v: [String: String]) {
        key(k)
        beginObject()
        for (name, value) in v.sorted(by: { $0.key < $1.key }) {
            string(name)
            bytes.append(UInt8(ascii: ":"))
            needsComma = false
            string(value)
        }
        endObject()
    }

    /// A number as `JSONEncoder` writes a Double (integral values without a fraction).
    public mutating func number(_ v: Double) {
        comma()
        let text = v == v.rounded() && abs(v) < 1e15 ? String(Int64(v)) : String(v)
        bytes.append(contentsOf: Array(text.utf8))
        needsComma = true
    }

    /// A value that is JSON already (written by `JSONEncoder`: rare fields, such as an agent's bound arguments).
    public mutating func raw(_ json: String) {
        comma()
        bytes.append(contentsOf: Array(json.utf8))
        needsComma = true
    }

    /// A value that is JSON already, as bytes (a subtree written once and repeated).
    public mutating func raw(_ json: [UInt8]) {
        comma()
        bytes.append(contentsOf: json)
        needsComma = true
    }

    public mutating func optional(_ k: StaticString, _ v: String?) { if let v { field(k, v) } }
    public mutating func optional(_ k: StaticString, _ v: Int?) { if let v { field(k, v) } }

    /// A string literal. The escaping: `"`, `\`, and control characters (`\n`, `\r`, `\t`, else `\u00XX`); everything else, UTF-8
    /// included, as it is.
    public mutating func string(_ s: String) {
        comma()
        bytes.append(UInt8(ascii: "\""))
        for b in s.utf8 {
            switch b {
            case UInt8(ascii: "\""): bytes.append(contentsOf: [92, 34])
            case 92: bytes.append(contentsOf: [92, 92])
            case 10: bytes.append(contentsOf: [92, 110])
            case 13: bytes.append(contentsOf: [92, 114])
            case 9: bytes.append(contentsOf: [92, 116])
            case 0..<32:
                let hex = Array("0123456789abcdef".utf8)
                bytes.append(contentsOf: [92, 117, 48, 48, hex[Int(b >> 4)], hex[Int(b & 15)]])
            default: bytes.append(b)
            }
        }
        bytes.append(UInt8(ascii: "\""))
        needsComma = true
    }

    /// What was written, as text.
    public var text: String { String(decoding: bytes, as: UTF8.self) }

    /// `s` as a JSON string literal, quotes included (for JSON assembled around it, such as an INFO line).
    public static func quoted(_ s: String) -> String {
        var w = JSONWriter(capacity: s.utf8.count + 2)
        w.string(s)
        return w.text
    }

    private mutating func comma() {
        if needsComma { bytes.append(UInt8(ascii: ",")) }
    }
}
