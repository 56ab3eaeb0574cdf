/// Decodes a chunked request body (RFC 9112 7.1) incrementally: it takes bytes as they arrive, consumes what it
/// has decoded and keeps its place (inside a size line, a chunk's data, its line end, the trailers) between
/// calls, so each byte is examined once however small the reads are. The body limit counts bytes on the wire
/// (sizes, extensions and line ends included) and is checked as each chunk's size is read, before its data
/// arrives: a body of one-byte chunks is refused as soon as it has sent `maxBodyBytes`.
struct ChunkedDecoder: Sendable {
    private enum Step: Sendable {
        /// Reading a chunk-size line: hex digits, then optional whitespace, `;extensions`, CR LF.
        case size(SizeLine)
        /// Reading `remaining` bytes of chunk data.
        case data(remaining: Int)
        /// After chunk data: CR LF (or a bare LF); `sawCR` once the CR has come.
        case dataEnd(sawCR: Bool)
        /// Trailer fields (ignored) until an empty line: the current line's length so far, and whether it ended
        /// in CR.
        case trailer(lineBytes: Int, lastWasCR: Bool)
        case done
    }

    private struct SizeLine: Sendable {
        enum Part: Sendable { case digits, whitespace, extensions, carriageReturn }
        var part = Part.digits
        var digits = 0
        var size = 0
        var bytes = 0
    }

    /// Longest chunk-size line (with extensions) accepted.
    static let maxSizeLineBytes = 1024
    /// Most hex digits in a chunk size (8: up to 4 GiB, far past any body limit, and no overflow).
    static let maxSizeDigits = 8

    private let limits: HTTPRequestParser.Limits
    private var step = Step.size(SizeLine())
    /// Body bytes on the wire so far (framing included), checked against `limits.maxBodyBytes`.
    private var wireBytes = 0
    private var trailerBytes = 0
    private(set) var body: [UInt8] = []

    init(limits: HTTPRequestParser.Limits) { self.limits = limits }

    var isDone: Bool {
        if case .done = step { return true }
        return false
    }

    /// Decodes from `input`; returns how many of its bytes were consumed (all of them, unless the body ended
    /// before: the rest belongs to the next request).
    mutating func feed(_ input: ArraySlice<UInt8>) throws(HTTPError) -> Int {
        var i = input.startIndex
        while i < input.endIndex {
            switch step {
            case .done:
                return i - input.startIndex
            case .data(let remaining):
                let n = Swift.min(remaining, input.endIndex - i)
                body.append(contentsOf: input[i..<i + n])
                i += n
                step = remaining == n ? .dataEnd(sawCR: false) : .data(remaining: remaining - n)
            case .dataEnd(let sawCR):
                let b = input[i]
                i += 1
                try countWire(1)
                if b == 0x0A {
                    step = .size(SizeLine())
                } else if b == 0x0D && !sawCR {
                    step = .dataEnd(sawCR: true)
                } else {
                    throw .badRequest("chunk data longer than its size")
                }
            case .size(var line):
                let b = input[i]
                i += 1
                try countWire(1)
                line.bytes += 1
                guard line.bytes <= Self.maxSizeLineBytes else { throw .badRequest("chunk size line too long") }
                if b == 0x0A {
                    guard line.digits > 0 else { throw .badRequest("invalid chunk size") }
                    if line.size == 0 {
                        step = .trailer(lineBytes: 0, lastWasCR: false)
                    } else {
                        // Refused as soon as the declared size would pass the limit, before the data comes.
                        try countWire(line.size)
                        step = .data(remaining: line.size)
                    }
                    continue
                }
                switch line.part {
                case .digits:
                    if let v = HTTPRequest.hexValue(b) {
                        line.digits += 1
                        guard line.digits <= Self.maxSizeDigits else { throw .badRequest("invalid chunk size") }
                        line.size = line.size << 4 | Int(v)
                    } else {
                        line.part = try Self.afterSize(b)
                    }
                case .whitespace:
                    line.part = try Self.afterSize(b)
                case .extensions:
                    break
                case .carriageReturn:
                    throw .badRequest("invalid chunk size")
                }
                step = .size(line)
            case .trailer(let lineBytes, let lastWasCR):
                let b = input[i]
                i += 1
                trailerBytes += 1
                guard trailerBytes <= limits.maxHeaderBytes else { throw .headersTooLarge(limit: limits.maxHeaderBytes) }
                if b == 0x0A {
                    // An empty line (LF or CR LF) ends the message.
                    step = lineBytes == 0 || (lineBytes == 1 && lastWasCR) ? .done : .trailer(lineBytes: 0, lastWasCR: false)
                } else {
                    step = .trailer(lineBytes: lineBytes + 1, lastWasCR: b == 0x0D)
                }
            }
        }
        return i - input.startIndex
    }

    /// What may follow a chunk size's digits (or whitespace after them).
    private static func afterSize(_ b: UInt8) throws(HTTPError) -> SizeLine.Part {
        switch b {
        case 0x20, 0x09: return .whitespace
        case 0x3B: return .extensions  // ';'
        case 0x0D: return .carriageReturn
        default: throw .badRequest("invalid chunk size")
        }
    }

    private mutating func countWire(_ n: Int) throws(HTTPError) {
        wireBytes += n
        guard wireBytes <= limits.maxBodyBytes else { throw .bodyTooLarge(limit: limits.maxBodyBytes) }
    }
}
