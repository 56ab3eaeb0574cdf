/// Splitting a control line into its op and arguments, shared by the client-op and server-op parsers.
///
/// Arguments are kept as offsets into the line, not as slices, because the assembler may move the line into
/// its own buffer between `payloadLength(forLine:)` and `frame(line:payload:)`.
public struct ArgRanges: Sendable {
    /// At most this many arguments are recorded; a line with more is reported by `count` > `capacity`.
    public static let capacity = 5
    var starts: (Int, Int, Int, Int, Int) = (0, 0, 0, 0, 0)
    var ends: (Int, Int, Int, Int, Int) = (0, 0, 0, 0, 0)
    /// How many arguments the line had (may exceed `capacity`).
    public private(set) var count = 0

    @inlinable public init() {}

    mutating func append(_ start: Int, _ end: Int) {
        switch count {
        case 0: starts.0 = start; ends.0 = end
        case 1: starts.1 = start; ends.1 = end
        case 2: starts.2 = start; ends.2 = end
        case 3: starts.3 = start; ends.3 = end
        case 4: starts.4 = start; ends.4 = end
        default: break
        }
        count += 1
    }

    /// Argument `i` as a slice of `line`.
    public func arg(_ i: Int, in line: Bytes) -> Bytes {
        let (s, e): (Int, Int)
        switch i {
        case 0: (s, e) = (starts.0, ends.0)
        case 1: (s, e) = (starts.1, ends.1)
        case 2: (s, e) = (starts.2, ends.2)
        case 3: (s, e) = (starts.3, ends.3)
        default: (s, e) = (starts.4, ends.4)
        }
        return line.slice(s, e)
    }
}

/// Op-name recognition and argument splitting.
public enum ControlLine {
    @inlinable static func isBlank(_ b: UInt8) -> Bool { b == ASCII.space || b == ASCII.tab }

    /// Length of the op token at the start of `line` (up to the first space or tab).
    public static func opLength(_ line: Bytes) -> Int {
        var i = 0
        while i < line.count && !isBlank(line[i]) { i += 1 }
        return i
    }

    /// Offset where arguments start: after the op and the blanks that follow it.
    public static func argStart(_ line: Bytes, opLength: Int) -> Int {
        var i = opLength
        while i < line.count && isBlank(line[i]) { i += 1 }
        return i
    }

    /// Splits `line[from...]` on runs of spaces and tabs.
    public static func split(_ line: Bytes, from: Int) -> ArgRanges {
        var args = ArgRanges()
        guard let p = line.baseAddress?.assumingMemoryBound(to: UInt8.self) else { return args }
        var i = from
        let n = line.count
        while i < n {
            while i < n && (p[i] == ASCII.space || p[i] == ASCII.tab) { i += 1 }
            if i >= n { break }
            let s = i
            while i < n && p[i] != ASCII.space && p[i] != ASCII.tab { i += 1 }
            args.append(s, i)
        }
        return args
    }

    /// Case-insensitive comparison of an op token with an upper-case ASCII name.
    @inlinable
    public static func opEquals(_ token: Bytes, _ upper: StaticString) -> Bool {
        guard token.count == upper.utf8CodeUnitCount else { return false }
        return sameLetters(token, upper.utf8Start, token.count)
    }

    /// True when `token` (case-insensitively) is a prefix of `upper`.
    @inlinable
    public static func opIsPrefix(_ token: Bytes, of upper: StaticString) -> Bool {
        guard token.count <= upper.utf8CodeUnitCount else { return false }
        return sameLetters(token, upper.utf8Start, token.count)
    }

    /// Compares `count` bytes, letters case-insensitively against upper-case `u`.
    @inlinable
    static func sameLetters(_ token: Bytes, _ u: UnsafePointer<UInt8>, _ count: Int) -> Bool {
        for i in 0..<count {
            let t = token[i], c = u[i]
            if t == c { continue }
            if c >= 65 && c <= 90 && t == c | 0x20 { continue }
            return false
        }
        return true
    }

    /// Trims trailing blanks (JSON arguments keep inner spaces).
    public static func trimTrailing(_ line: Bytes, from: Int) -> Bytes {
        var e = line.count
        while e > from && isBlank(line[e - 1]) { e -= 1 }
        return line.slice(from, e)
    }
}

/// What a parser learned from a control line, kept until its payload has arrived (possibly reads later).
struct PendingLine<Kind: Sendable>: Sendable {
    var kind: Kind
    var argFrom = 0
    var args = ArgRanges()
    var headerLength = 0

    /// Recognises the op of a complete line and bounds its argument part.
    mutating func start(_ line: Bytes, maxControlLine: Int, recognise: (Bytes) -> Kind?) throws(NATSProtocolError) {
        let opLen = ControlLine.opLength(line)
        guard opLen > 0, let k = recognise(line.slice(0, opLen)) else { throw .unknownOperation }
        kind = k
        argFrom = ControlLine.argStart(line, opLength: opLen)
        if line.count - argFrom > maxControlLine { throw .maxControlLineExceeded }
    }
}
