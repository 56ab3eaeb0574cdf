/// A reader for the simplest JSON there is: objects whose values are strings, arrays of strings or integers, every
/// string free of escapes and control characters. It is the hot path's decoder for messages that come thousands of
/// times a second in that shape (a drone's heartbeat, a task's result); anything else (an escape, a fraction or an
/// exponent, an integer beyond `Int`, a nested object, `null`, invalid UTF-8, bytes after the value) makes it give up
/// with nil, and the caller decodes with `JSONDecoder` as before.
/// So it never accepts what `JSONDecoder` would refuse, and never reads a value differently: where in doubt, nil.
public struct PlainJSONReader {
    private let bytes: [UInt8]
    private var at = 0

    public init(_ bytes: [UInt8]) { self.bytes = bytes }

    /// Reads one object to the end of the input, calling `value` for each member (its key and what it holds);
    /// `value` returns false to give up. Nil when the input is not a plain object or `value` gave up.
    public mutating func object(_ value: (String, Member) -> Bool) -> Void? {
        guard consume(UInt8(ascii: "{")) else { return nil }
        if !consume(UInt8(ascii: "}")) {
            repeat {
                guard let key = string(), consume(UInt8(ascii: ":")) else { return nil }
                skipSpace()
                guard at < bytes.count else { return nil }
                let member: Member
                if bytes[at] == UInt8(ascii: "[") {
                    guard let list = strings() else { return nil }
                    member = .strings(list)
                } else if bytes[at] == UInt8(ascii: "-") || (bytes[at] >= UInt8(ascii: "0") && bytes[at] <= UInt8(ascii: "9")) {
                    guard let n = integer() else { return nil }
                    member = .integer(n)
                } else {
                    guard let s = string() else { return nil }
                    member = .string(s)
                }
                guard value(key, member) else { return nil }
            } while consume(UInt8(ascii: ","))
            guard consume(UInt8(ascii: "}")) else { return nil }
        }
        skipSpace()
        return at == bytes.count ? () : nil
    }

    /// What one member holds.
    public enum Member {
        case string(String)
        case strings([String])
        case integer(Int)
    }

    /// An integer as JSON writes it (`-?(0|[1-9][0-9]*)`) that fits `Int`; nil for a fraction, an exponent, a
    /// leading zero or an overflow (never a rounded or wrapped value).
    private mutating func integer() -> Int? {
        let negative = bytes[at] == UInt8(ascii: "-")
        if negative { at += 1 }
        let start = at
        var value = 0
        while at < bytes.count, bytes[at] >= UInt8(ascii: "0"), bytes[at] <= UInt8(ascii: "9") {
            let digit = Int(bytes[at] &- UInt8(ascii: "0"))
            let (times10, o1) = value.multipliedReportingOverflow(by: 10)
            // Accumulated negative when negative, so Int.min reads too.
            let (next, o2) = negative ? times10.subtractingReportingOverflow(digit) : times10.addingReportingOverflow(digit)
            guard !o1, !o2 else { return nil }
            value = next
            at += 1
        }
        let digits = at - start
        guard digits > 0, digits == 1 || bytes[start] != UInt8(ascii: "0") else { return nil }
        if at < bytes.count, bytes[at] == UInt8(ascii: ".") || bytes[at] == UInt8(ascii: "e") || bytes[at] == UInt8(ascii: "E") { return nil }
        return value
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
