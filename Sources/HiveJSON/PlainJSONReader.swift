/// A reader for the simplest JSON there is: objects whose values are strings, arrays of strings, integers or one
/// nested object of those, every string free of escapes and control characters; and arrays of such objects. It is
/// the hot path's decoder for messages that come thousands of times a second in that shape (a drone's heartbeat,
/// assignments, results); anything else (an escape, a fraction, `true`, an object two levels down, invalid UTF-8,
/// bytes after the value) makes it give up with nil, and the caller decodes with `JSONDecoder` as before.
/// So it never accepts what `JSONDecoder` would refuse, and never reads a value differently: where in doubt, nil.
public struct PlainJSONReader {
    private let bytes: [UInt8]
    private var at = 0

    public init(_ bytes: [UInt8]) { self.bytes = bytes }

    /// Reads one object to the end of the input, calling `value` for each member (its key and what it holds);
    /// `value` returns false to give up. Nil when the input is not a plain object or `value` gave up.
    public mutating func object(_ value: (String, Member) -> Bool) -> Void? {
        guard members(nested: true, value) != nil else { return nil }
        skipSpace()
        return at == bytes.count ? () : nil
    }

    /// Reads an array of objects to the end of the input, calling `each` with every object's members in order
    /// once the object is read; `each` returns false to give up. Returns the number of objects; nil when the
    /// input is not such an array or `each` gave up.
    public mutating func objects(_ each: ([(key: String, value: Member)]) -> Bool) -> Int? {
        guard consume(UInt8(ascii: "[")) else { return nil }
        var count = 0
        if !consume(UInt8(ascii: "]")) {
            repeat {
                var entry: [(key: String, value: Member)] = []
                guard members(nested: true, { entry.append(($0, $1)); return true }) != nil, each(entry) else { return nil }
                count += 1
            } while consume(UInt8(ascii: ","))
            guard consume(UInt8(ascii: "]")) else { return nil }
        }
        skipSpace()
        return at == bytes.count ? count : nil
    }

    /// Whether the input's first byte past white space is `[` (a list rather than one object).
    public static func isArray(_ bytes: [UInt8]) -> Bool {
        for b in bytes where !(b == 0x20 || b == 0x0A || b == 0x0D || b == 0x09) { return b == UInt8(ascii: "[") }
        return false
    }

    /// What one member holds.
    public enum Member {
        case string(String)
        case strings([String])
        case integer(Int)
        /// A nested object's members in order (their values never objects themselves).
        case object([(key: String, value: Member)])
    }

    /// One object's members, `{` to `}`; `nested` allows members that are objects (one level).
    private mutating func members(nested: Bool, _ value: (String, Member) -> Bool) -> Void? {
        guard consume(UInt8(ascii: "{")) else { return nil }
        if consume(UInt8(ascii: "}")) { return () }
        repeat {
            guard let key = string(), consume(UInt8(ascii: ":")) else { return nil }
            skipSpace()
            guard at < bytes.count else { return nil }
            let member: Member
            switch bytes[at] {
            case UInt8(ascii: "["):
                guard let list = strings() else { return nil }
                member = .strings(list)
            case UInt8(ascii: "\""):
                guard let s = string() else { return nil }
                member = .string(s)
            case UInt8(ascii: "{") where nested:
                var inner: [(key: String, value: Member)] = []
                guard members(nested: false, { inner.append(($0, $1)); return true }) != nil else { return nil }
                member = .object(inner)
            default:
                guard let n = integer() else { return nil }
                member = .integer(n)
            }
            guard value(key, member) else { return nil }
        } while consume(UInt8(ascii: ","))
        return consume(UInt8(ascii: "}")) ? () : nil
    }

    private mutating func strings() -> [String]? {
        guard consume(UInt8(ascii: "[")) else { return nil }
        var list: [String] = []
        if consume(UInt8(ascii: "]")) { return list }
        repeat {
            guard let s = string() else { return nil }
            list.append(s)
        } while consume(UInt8(ascii: ","))
        return consume(UInt8(ascii: "]")) ? list : nil
    }

    /// A string without escapes or control characters, valid UTF-8; nil for anything else.
    private mutating func string() -> String? {
        guard consume(UInt8(ascii: "\"")) else { return nil }
        let start = at
        while at < bytes.count {
            let b = bytes[at]
            if b == UInt8(ascii: "\"") {
                defer { at += 1 }
                return bytes.withUnsafeBufferPointer { String(validating: UnsafeBufferPointer(rebasing: $0[start..<at]), as: UTF8.self) }
            }
            if b == UInt8(ascii: "\\") || b < 0x20 { return nil }
            at += 1
        }
        return nil
    }

    /// An integer as JSON writes one (`-?(0|[1-9][0-9]*)`) that fits `Int`, not followed by a fraction or an
    /// exponent; nil for anything else (never a rounded or wrapped value).
    private mutating func integer() -> Int? {
        var i = at
        let negative = i < bytes.count && bytes[i] == UInt8(ascii: "-")
        if negative { i += 1 }
        let first = i
        var n = 0
        while i < bytes.count, bytes[i] >= UInt8(ascii: "0"), bytes[i] <= UInt8(ascii: "9") {
            let digit = Int(bytes[i] &- UInt8(ascii: "0"))
            let (times10, o1) = n.multipliedReportingOverflow(by: 10)
            // Accumulated negative when negative, so Int.min reads too.
            let (next, o2) = negative ? times10.subtractingReportingOverflow(digit) : times10.addingReportingOverflow(digit)
            guard !o1, !o2 else { return nil }
            n = next
            i += 1
        }
        guard i > first, !(bytes[first] == UInt8(ascii: "0") && i - first > 1) else { return nil }
        if i < bytes.count, bytes[i] == UInt8(ascii: ".") || bytes[i] == UInt8(ascii: "e") || bytes[i] == UInt8(ascii: "E") { return nil }
        at = i
        return n
    }

    /// Skips white space, then takes `byte` if it is next.
    private mutating func consume(_ byte: UInt8) -> Bool {
        skipSpace()
        guard at < bytes.count, bytes[at] == byte else { return false }
        at += 1
        return true
    }

    private mutating func skipSpace() {
        while at < bytes.count, bytes[at] == 0x20 || bytes[at] == 0x0A || bytes[at] == 0x0D || bytes[at] == 0x09 { at += 1 }
    }
}
