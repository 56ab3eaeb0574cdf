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

    public init(dictionaryLiteral elements: (String, String)...) {
        for (n, v) in elements { append(n, v) }
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
        var out = Array("NATS/1.0".utf8)
        if let status {
            out += Array(" \(status)".utf8)
            if let d = statusDescription { out += Array(" \(d)".utf8) }
        }
        out += [13, 10]
        for (name, value) in entries {
            if name.isEmpty || name.utf8.contains(where: { $0 <= 32 || $0 == 58 || $0 == 127 }) { throw .invalidName(name) }
            if value.utf8.contains(where: { $0 == 13 || $0 == 10 }) { throw .invalidValue(value) }
            out += Array(name.utf8) + [58, 32] + Array(value.utf8) + [13, 10]
        }
        out += [13, 10]
        return out
    }

    /// Parses a header block (as carried by HMSG). Returns nil when it does not start with `NATS/1.0`.
    public static func parse(_ block: Bytes) -> NATSHeaders? {
        let text = block.string
        var lines = text.components(separatedBy: "\r\n")
        guard let first = lines.first, first.hasPrefix("NATS/1.0") else { return nil }
        lines.removeFirst()
        var h = NATSHeaders()
        let rest = first.dropFirst("NATS/1.0".count).drop(while: { $0 == " " })
        if !rest.isEmpty {
            let parts = rest.split(separator: " ", maxSplits: 1)
            h.status = Int(parts[0])
            if parts.count > 1 { h.statusDescription = String(parts[1]) }
        }
        for line in lines where !line.isEmpty {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let name = String(line[..<colon])
            let value = line[line.index(after: colon)...].drop(while: { $0 == " " || $0 == "\t" })
            h.append(name, String(value))
        }
        return h
    }
}

private extension String {
    func components(separatedBy sep: String) -> [String] {
        var result: [String] = []
        var rest = Substring(self)
        while let r = rest.firstRange(of: sep) {
            result.append(String(rest[..<r.lowerBound]))
            rest = rest[r.upperBound...]
        }
        result.append(String(rest))
        return result
    }
}
