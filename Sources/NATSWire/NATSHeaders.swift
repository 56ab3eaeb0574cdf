/// A NATS header block: `NATS/1.0[ <status>[ <description>]]\r\n`, then `Name: Value\r\n` lines, then `\r\n`.
///
/// Names keep their case and may repeat (several values per name), as NATS allows. Pure and value-typed so the
/// client can build and parse blocks without touching I/O.
public struct NATSHeaders: Sendable, Equatable, ExpressibleByDictionaryLiteral {
    /// Entries in insertion order.
    public private(set) var entries: [(name: String, value: String)] = []
    /// Status code from the version line (e.g. 503 for no responders), if any.
    public var status: Int?
    /// Status description (e.g. "Request Timeout"), if any.
    public var statusDescription: String?

    public init() {}

    /// One header (the common case; no variadic tuple on the hot path).
    public init(_ name: String, _ value: String) { entries = [(name, value)] }

    public init(dictionaryLiteral elements: (String, String)...) {
        for (n, v) in elements { append(n, v) }
    }

    /// Headers from name/value pairs, in their order.
    public init(pairs: [(String, String)]) {
        for (n, v) in pairs { append(n, v) }
    }

    public static func == (a: NATSHeaders, b: NATSHeaders) -> Bool {
        a.status == b.status && a.statusDescription == b.statusDescription
            && a.entries.map(\.name) == b.entries.map(\.name) && a.entries.map(\.value) == b.entries.map(\.value)
    }

    public var isEmpty: Bool { entries.isEmpty && status == nil }

    /// Adds a value (keeping earlier values of the same name).
    public mutating func append(_ name: String, _ value: String) { entries.append((name, value)) }

    /// Replaces every value of `name` with one value.
    public subscript(name: String) -> String? {
        get { entries.first { $0.name == name }?.value }
        set {
            entries.removeAll { $0.name == name }
            if let newValue { entries.append((name, newValue)) }
        }
    }

    /// Every value of `name`, in order.
    public func values(_ name: String) -> [String] { entries.filter { $0.name == name }.map(\.value) }

    /// Why a header block or entry was refused.
    public enum EncodingError: Error, Equatable, Sendable {
        case invalidName(String)
        case invalidValue(String)
    }

    /// The wire bytes of this block. Names may not contain `:`, spaces or control characters; values may not
    /// contain CR or LF (they would end the line and let a value forge headers).
    public func encoded() throws(EncodingError) -> [UInt8] {
        // One buffer, appended in place: traced messages carry a block each, so no temporary arrays per entry.
        var out: [UInt8] = []
        out.reserveCapacity(16 + entries.reduce(0) { $0 + $1.name.utf8.count + $1.value.utf8.count + 4 })
        out.append(contentsOf: "NATS/1.0".utf8)
        if let status {
            out.append(contentsOf: " \(status)".utf8)
            if let d = statusDescription { out.append(contentsOf: " \(d)".utf8) }
        }
        out.append(13)
        out.append(10)
        for (name, value) in entries {
            if name.isEmpty || name.utf8.contains(where: { $0 <= 32 || $0 == 58 || $0 == 127 }) { throw .invalidName(name) }
            if value.utf8.contains(where: { $0 == 13 || $0 == 10 }) { throw .invalidValue(value) }
            out.append(contentsOf: name.utf8)
            out.append(58)
            out.append(32)
            out.append(contentsOf: value.utf8)
            out.append(13)
            out.append(10)
        }
        out.append(13)
        out.append(10)
        return out
    }

    /// Parses a header block (as carried by HMSG). Returns nil when it does not start with `NATS/1.0`.
    /// Works on the bytes (lines split at CR LF, names at the first colon): every traced message carries a block.
    public static func parse(_ block: Bytes) -> NATSHeaders? {
        let prefix: [UInt8] = Array("NATS/1.0".utf8)
        guard block.count >= prefix.count, prefix.indices.allSatisfy({ block[$0] == prefix[$0] }) else { return nil }
        var h = NATSHeaders()
        var lineStart = 0
        var first = true
        var i = 0
        while i <= block.count {
            let atEnd = i == block.count
            if atEnd || (block[i] == 13 && i + 1 < block.count && block[i + 1] == 10) {
                let line = UnsafeRawBufferPointer(rebasing: block[lineStart..<i])
                if first {
                    var k = prefix.count
                    while k < line.count && line[k] == 32 { k += 1 }
                    if k < line.count {
                        let rest = String(decoding: line[k...], as: UTF8.self)
                        let parts = rest.split(separator: " ", maxSplits: 1)
                        h.status = Int(parts[0])
                        if parts.count > 1 { h.statusDescription = String(parts[1]) }
                    }
                    first = false
                } else if !line.isEmpty, let colon = line.firstIndex(of: 58) {
                    var v = colon + 1
                    while v < line.count && (line[v] == 32 || line[v] == 9) { v += 1 }
                    h.append(String(decoding: line[..<colon], as: UTF8.self), String(decoding: line[v...], as: UTF8.self))
                }
                if atEnd { break }
                i += 2
                lineStart = i
            } else {
                i += 1
            }
        }
        return h
    }
}
