/// Why bytes are not one JSON value (`JSONValue.parse`): what was wrong and the byte offset where it was seen.
public struct JSONParseError: Error, Equatable, CustomStringConvertible {
    public let reason: String
    public let offset: Int

    public var description: String { "not JSON: \(reason) at byte \(offset)" }
}

extension JSONValue {
    /// Values nested deeper than this are refused (a parser that recurses must not run out of stack on
    /// `[[[[…` from a server; `JSONDecoder` stops at the same depth).
    public static let maxParseDepth = 512

    /// Reads one JSON value (RFC 8259) from `bytes`: what `JSONDecoder().decode(JSONValue.self, from:)` reads, in
    /// one pass over the bytes.
    ///
    /// Why not `JSONDecoder`: `JSONValue`'s `Decodable` init finds a value's type by trying each in turn, and
    /// every failed try builds a `DecodingError` (its coding path and message): four of them for each object and
    /// array, two for each string. For an MCP tool result of a few hundred kilobytes that was about a second on a
    /// loaded drone; this reader takes each value's type from its first byte and allocates only the values.
    /// Refused, as `JSONDecoder` refuses them: bytes after the value, control characters in strings, invalid
    /// UTF-8, lone surrogate escapes, numbers outside JSON's grammar or `Double`'s range, nesting past
    /// `maxParseDepth`. Like `JSONDecoder`, a key given twice keeps its first value and one trailing comma
    /// (`[1,]`, `{"a":1,}`) is let through (RFC 8259 has none), so either reader may stand in for the other.
    public static func parse(_ bytes: [UInt8]) throws(JSONParseError) -> JSONValue {
        let parsed: Result<JSONValue, JSONParseError> = bytes.withUnsafeBufferPointer { buffer in
            var reader = JSONByteReader(buffer)
            return Result { () throws(JSONParseError) -> JSONValue in
                let value = try reader.value(depth: 0)
                reader.skipSpace()
                guard reader.at == buffer.count else { throw reader.error("bytes after the value") }
                return value
            }
        }
        return try parsed.get()
    }
}

/// The cursor `JSONValue.parse` reads with (one concept: bytes in, values out, no state beyond the offset).
private struct JSONByteReader {
    let bytes: UnsafeBufferPointer<UInt8>
    var at = 0

    init(_ bytes: UnsafeBufferPointer<UInt8>) { self.bytes = bytes }

    func error(_ reason: String) -> JSONParseError { JSONParseError(reason: reason, offset: at) }

    mutating func skipSpace() {
        while at < bytes.count, bytes[at] == 0x20 || bytes[at] == 0x0A || bytes[at] == 0x0D || bytes[at] == 0x09 { at += 1 }
    }

    mutating func value(depth: Int) throws(JSONParseError) -> JSONValue {
        skipSpace()
        guard at < bytes.count else { throw error("the input ends where a value should be") }
        switch bytes[at] {
        case UInt8(ascii: "{"): return .object(try object(depth: depth + 1))
        case UInt8(ascii: "["): return .array(try array(depth: depth + 1))
        case UInt8(ascii: "\""): return .string(try string())
        case UInt8(ascii: "t"): try literal("true"); return .bool(true)
        case UInt8(ascii: "f"): try literal("false"); return .bool(false)
        case UInt8(ascii: "n"): try literal("null"); return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return .number(try number())
        default: throw error("unexpected character '\(Unicode.Scalar(bytes[at]))'")
        }
    }

    private mutating func literal(_ word: StaticString) throws(JSONParseError) {
        let n = word.utf8CodeUnitCount
        guard bytes.count - at >= n, (0..<n).allSatisfy({ bytes[at + $0] == word.utf8Start[$0] }) else {
            throw error("not \(word)")
        }
        at += n
    }

    private mutating func object(depth: Int) throws(JSONParseError) -> [String: JSONValue] {
        var members: [String: JSONValue] = [:]
        try elements(closedBy: UInt8(ascii: "}"), in: "an object", depth: depth) { (r: inout JSONByteReader) throws(JSONParseError) in
            guard r.at < r.bytes.count, r.bytes[r.at] == UInt8(ascii: "\"") else { throw r.error("an object key must be a string") }
            let key = try r.string()
            r.skipSpace()
            guard r.at < r.bytes.count, r.bytes[r.at] == UInt8(ascii: ":") else { throw r.error("':' expected after an object key") }
            r.at += 1
            let v = try r.value(depth: depth)
            if members[key] == nil { members[key] = v }
        }
        return members
    }

    private mutating func array(depth: Int) throws(JSONParseError) -> [JSONValue] {
        var items: [JSONValue] = []
        try elements(closedBy: UInt8(ascii: "]"), in: "an array", depth: depth) { (r: inout JSONByteReader) throws(JSONParseError) in
            items.append(try r.value(depth: depth))
        }
        return items
    }

    /// The comma-separated elements of an object or array, from its opening byte to `close`, each read by
    /// `element`; one trailing comma is let through, as `JSONDecoder` lets it.
    private mutating func elements(closedBy close: UInt8, in what: String, depth: Int,
                                   _ element: (inout JSONByteReader) throws(JSONParseError) -> Void) throws(JSONParseError) {
        guard depth <= JSONValue.maxParseDepth else { throw error("nested deeper than \(JSONValue.maxParseDepth)") }
        at += 1
        skipSpace()
        if at < bytes.count, bytes[at] == close {
            at += 1
            return
        }
        while true {
            skipSpace()
            try element(&self)
            skipSpace()
            guard at < bytes.count else { throw error("the input ends inside \(what)") }
            if bytes[at] == UInt8(ascii: ",") {
                at += 1
                skipSpace()
                if at < bytes.count, bytes[at] == close { break }
                continue
            }
            guard bytes[at] == close else { throw error("',' or '\(Unicode.Scalar(close))' expected in \(what)") }
            break
        }
        at += 1
    }

    /// A string from its opening quote: the bytes between escapes are copied as runs, escapes decoded, the
    /// whole checked as UTF-8.
    private mutating func string() throws(JSONParseError) -> String {
        at += 1
        var start = at
        while at < bytes.count, bytes[at] != UInt8(ascii: "\""), bytes[at] != UInt8(ascii: "\\"), bytes[at] >= 0x20 { at += 1 }
        guard at < bytes.count else { throw error("the input ends inside a string") }
        if bytes[at] == UInt8(ascii: "\"") {
            // No escapes (the common case): one validated copy.
            guard let s = String(validating: UnsafeBufferPointer(rebasing: bytes[start..<at]), as: UTF8.self) else {
                throw error("a string that is not valid UTF-8")
            }
            at += 1
            return s
        }
        var out: [UInt8] = []
        out.reserveCapacity(at - start + 16)
        while true {
            out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[start..<at]))
            guard at < bytes.count else { throw error("the input ends inside a string") }
            let b = bytes[at]
            if b == UInt8(ascii: "\"") {
                at += 1
                break
            }
            guard b >= 0x20 else { throw error("a control character in a string (escape it)") }
            try escape(into: &out)
            start = at
            while at < bytes.count, bytes[at] != UInt8(ascii: "\""), bytes[at] != UInt8(ascii: "\\"), bytes[at] >= 0x20 { at += 1 }
        }
        guard let s = String(validating: out, as: UTF8.self) else { throw error("a string that is not valid UTF-8") }
        return s
    }

    /// One escape sequence at `at` (the backslash), appended to `out` as UTF-8.
    private mutating func escape(into out: inout [UInt8]) throws(JSONParseError) {
        guard at + 1 < bytes.count else { throw error("the input ends inside an escape") }
        let c = bytes[at + 1]
        at += 2
        switch c {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(c)
        case UInt8(ascii: "b"): out.append(0x08)
        case UInt8(ascii: "f"): out.append(0x0C)
        case UInt8(ascii: "n"): out.append(0x0A)
        case UInt8(ascii: "r"): out.append(0x0D)
        case UInt8(ascii: "t"): out.append(0x09)
        case UInt8(ascii: "u"):
            var scalar = UInt32(try hex4())
            if (0xD800..<0xDC00).contains(scalar) {
                guard at + 1 < bytes.count, bytes[at] == UInt8(ascii: "\\"), bytes[at + 1] == UInt8(ascii: "u") else {
                    throw error("a high surrogate escape without its low half")
                }
                at += 2
                let low = UInt32(try hex4())
                guard (0xDC00..<0xE000).contains(low) else { throw error("a high surrogate escape without its low half") }
                scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
            } else if (0xDC00..<0xE000).contains(scalar) {
                throw error("a low surrogate escape without its high half")
            }
            guard let u = Unicode.Scalar(scalar) else { throw error("an escape that is no Unicode scalar") }
            out.append(contentsOf: UTF8.encode(u)!)
        default:
            at -= 1
            throw error("an unknown escape '\\\(Unicode.Scalar(c))'")
        }
    }

    private mutating func hex4() throws(JSONParseError) -> UInt16 {
        guard bytes.count - at >= 4 else { throw error("the input ends inside a \\u escape") }
        var v: UInt16 = 0
        for _ in 0..<4 {
            let b = bytes[at]
            let digit: UInt8
            switch b {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = b - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = b - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = b - UInt8(ascii: "A") + 10
            default: throw error("a \\u escape needs four hex digits")
            }
            v = v << 4 | UInt16(digit)
            at += 1
        }
        return v
    }

    /// A number in JSON's grammar (`-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`), as a finite Double.
    private mutating func number() throws(JSONParseError) -> Double {
        let start = at
        func digits() -> Int {
            let from = at
            while at < bytes.count, bytes[at] >= UInt8(ascii: "0"), bytes[at] <= UInt8(ascii: "9") { at += 1 }
            return at - from
        }
        if bytes[at] == UInt8(ascii: "-") { at += 1 }
        guard at < bytes.count, bytes[at] >= UInt8(ascii: "0"), bytes[at] <= UInt8(ascii: "9") else { throw error("a number needs a digit") }
        if bytes[at] == UInt8(ascii: "0") {
            at += 1
        } else {
            _ = digits()
        }
        if at < bytes.count, bytes[at] == UInt8(ascii: ".") {
            at += 1
            guard digits() > 0 else { throw error("a digit must follow a decimal point") }
        }
        if at < bytes.count, bytes[at] == UInt8(ascii: "e") || bytes[at] == UInt8(ascii: "E") {
            at += 1
            if at < bytes.count, bytes[at] == UInt8(ascii: "+") || bytes[at] == UInt8(ascii: "-") { at += 1 }
            guard digits() > 0 else { throw error("a digit must follow an exponent") }
        }
        let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<at]), as: UTF8.self)
        guard let n = Double(text), n.isFinite else {
            at = start
            throw error("the number \(text.prefix(40)) is out of Double's range")
        }
        return n
    }
}
