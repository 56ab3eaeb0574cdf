/// Reads HTTP/1.1 requests from bytes as they arrive: pure (no I/O), so every framing rule is tested byte by byte.
///
/// Two steps per request, so a server can decide before it reads a body: `head()` hands out the request line and
/// headers as soon as they have arrived (authentication, routing and the body's declared size are known then),
/// and `next()` the whole request once its body has arrived too.
///
/// Linear time: every byte is examined once, whatever the size of the reads it comes in. The header-block search
/// resumes where it stopped, and a chunked body is decoded by a state machine (`ChunkedDecoder`) that keeps its
/// state across reads and consumes its input as it goes.
///
/// Bounded: the request line and headers together, the header count and the body each have a limit, checked
/// before the bytes are held. A body's limit counts its bytes on the wire (chunk framing included, as
/// `Content-Length` would), so a body of tiny chunks is refused once it has sent `maxBodyBytes`, not after
/// six times as much. Framing is strict where leniency lets one request hide in another (request smuggling):
/// `Content-Length` together with `Transfer-Encoding`, conflicting lengths, obsolete line folding and whitespace
/// before a header's colon are refused. Bodies come by `Content-Length` or chunked.
public struct HTTPRequestParser: Sendable {
    public struct Limits: Sendable, Equatable {
        public var maxHeaderBytes = 16 * 1024
        public var maxHeaderCount = 100
        public var maxBodyBytes = 1 << 20
        public init() {}
    }

    public let limits: Limits
    private var buffer: [UInt8] = []
    /// Where unconsumed bytes start.
    private var start = 0
    /// How far the search for the end of the header block has looked (an index into `buffer`).
    private var scanned = 0
    /// Whether the search has passed the request line's end (its bytes were checked for being printable).
    private var pastRequestLine = false
    private var stage = Stage.head

    private enum Stage: Sendable {
        /// Waiting for a request line and headers.
        case head
        /// The head has arrived; its body is `length` bytes.
        case fixed(HTTPRequest, length: Int)
        /// The head has arrived; its body comes chunked.
        case chunked(HTTPRequest, ChunkedDecoder)
    }

    public init(limits: Limits = Limits()) { self.limits = limits }

    /// Bytes received and not yet part of a returned request or head (a request in progress, for read deadlines).
    public var buffered: Int { buffer.count - start }

    /// Whether a head has been handed out (by `head()`) whose body has not arrived whole yet.
    public var inBody: Bool {
        if case .head = stage { return false }
        return true
    }

    public mutating func append<C: Collection>(_ bytes: C) where C.Element == UInt8 {
        // Drop consumed bytes when they are all consumed, or when they are most of a large buffer (amortized O(1)).
        if start > 0 && (start == buffer.count || (start >= 64 * 1024 && start * 2 >= buffer.count)) {
            buffer.removeSubrange(0..<start)
            scanned -= start
            start = 0
        }
        buffer.append(contentsOf: bytes)
    }

    /// The current request's head (method, target, version, headers; empty body) once its header block has
    /// arrived, or nil until then. The same head again until `next()` returns the whole request.
    /// Throws the framing errors the headers alone decide; a declared body size over the limit is thrown by the
    /// next call to `next()`, before any of the body is read.
    public mutating func head() throws(HTTPError) -> HTTPRequest? {
        switch stage {
        case .fixed(let r, _), .chunked(let r, _): return r
        case .head: break
        }
        // Empty lines before a request line are allowed (RFC 9112 2.2).
        while start < buffer.count && (buffer[start] == 0x0D || buffer[start] == 0x0A) { start += 1 }
        guard let headEnd = try headerBlockEnd() else { return nil }
        guard headEnd.lines - start <= limits.maxHeaderBytes else { throw .headersTooLarge(limit: limits.maxHeaderBytes) }
        var lines = Self.lines(buffer[start..<headEnd.lines])
        guard !lines.isEmpty else { throw .badRequest("no request line") }
        var request = try Self.requestLine(lines.removeFirst())
        guard lines.count <= limits.maxHeaderCount else { throw .headersTooLarge(limit: limits.maxHeaderBytes) }
        for line in lines { request.headers.append(try Self.header(line)) }

        let lengths = request.headers.filter { $0.name.lowercased() == "content-length" }.map(\.value)
        let encodings = request.headers.filter { $0.name.lowercased() == "transfer-encoding" }.map(\.value)
        if !encodings.isEmpty {
            guard lengths.isEmpty else { throw .badRequest("both Content-Length and Transfer-Encoding") }
            let codings = encodings.flatMap { $0.lowercased().split(separator: ",").map { Self.trimmed($0) } }
            guard codings == ["chunked"] else { throw .notImplemented("transfer coding '\(encodings.joined(separator: ", "))' (only chunked)") }
            stage = .chunked(request, ChunkedDecoder(limits: limits))
        } else {
            var length = 0
            if !lengths.isEmpty {
                let values = Set(lengths.flatMap { $0.split(separator: ",").map { Self.trimmed($0) } })
                guard values.count == 1, let text = values.first, !text.isEmpty, text.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else {
                    throw .badRequest("invalid Content-Length '\(lengths.joined(separator: ", "))'")
                }
                // Over the limit is refused by `next()`, so a server can answer an unauthenticated head with 401
                // first (it reveals nothing about the limits to who may not use them).
                length = text.count <= 12 ? Int(text) ?? Int.max : Int.max
            }
            stage = .fixed(request, length: length)
        }
        start = headEnd.body
        return request
    }

    /// Whether the current head (see `head()`) announces a body: a non-zero `Content-Length`, or chunked.
    public var headAnnouncesBody: Bool {
        switch stage {
        case .head: return false
        case .fixed(_, let length): return length > 0
        case .chunked: return true
        }
    }

    /// The next complete request, or nil until more bytes arrive.
    public mutating func next() throws(HTTPError) -> HTTPRequest? {
        guard try head() != nil else { return nil }
        switch stage {
        case .head:
            return nil
        case .fixed(var request, let length):
            guard length <= limits.maxBodyBytes else { throw .bodyTooLarge(limit: limits.maxBodyBytes) }
            guard buffer.count - start >= length else { return nil }
            request.body = Array(buffer[start..<start + length])
            start += length
            finishRequest()
            return request
        case .chunked(var request, var decoder):
            stage = .head  // the decoder is mutated outside the enum (no copy of its body per read)
            let used = try decoder.feed(buffer[start...])
            start += used
            guard decoder.isDone else {
                stage = .chunked(request, decoder)
                return nil
            }
            request.body = decoder.body
            finishRequest()
            return request
        }
    }

    private mutating func finishRequest() {
        stage = .head
        scanned = start
        pastRequestLine = false
    }

    /// Where the header block's last line ends and the body begins (after the empty line), if it has arrived.
    /// Resumes where the last call stopped, so a header block trickling in costs linear time.
    private mutating func headerBlockEnd() throws(HTTPError) -> (lines: Int, body: Int)? {
        var i = Swift.max(scanned, start)
        defer { scanned = i }
        while i < buffer.count {
            let b = buffer[i]
            if b == 0x0A {
                pastRequestLine = true
                // An empty line: LF LF or LF CR LF. Undecided until the next one or two bytes have arrived.
                guard i + 1 < buffer.count else { break }
                if buffer[i + 1] == 0x0A { return (i, i + 2) }
                if buffer[i + 1] == 0x0D {
                    guard i + 2 < buffer.count else { break }
                    if buffer[i + 2] == 0x0A { return (i, i + 3) }
                }
            } else if !pastRequestLine && ((b < 0x20 && b != 0x0D && b != 0x09) || b >= 0x7F) {
                // A request line is printable ASCII: anything else (a TLS hello, binary noise) is refused at once
                // rather than waited on until the request deadline.
                throw .badRequest("not an HTTP/1.x request")
            }
            i += 1
            if i - start > limits.maxHeaderBytes + 2 { throw .headersTooLarge(limit: limits.maxHeaderBytes) }
        }
        if buffer.count - start > limits.maxHeaderBytes + 2 { throw .headersTooLarge(limit: limits.maxHeaderBytes) }
        return nil
    }

    /// Lines of a header block, each without its CR LF (or bare LF).
    static func lines(_ bytes: ArraySlice<UInt8>) -> [ArraySlice<UInt8>] {
        bytes.split(separator: 0x0A, omittingEmptySubsequences: false).map { $0.last == 0x0D ? $0.dropLast() : $0 }
    }

    static func requestLine(_ line: ArraySlice<UInt8>) throws(HTTPError) -> HTTPRequest {
        let parts = line.split(separator: 0x20, omittingEmptySubsequences: false)
        guard parts.count == 3, !parts[0].isEmpty, !parts[1].isEmpty else {
            throw .badRequest("malformed request line '\(String(decoding: line.prefix(100), as: UTF8.self))'")
        }
        guard parts[0].allSatisfy(isTokenByte) else { throw .badRequest("invalid method") }
        guard parts[1].allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else { throw .badRequest("invalid request target") }
        let version = String(decoding: parts[2], as: UTF8.self)
        guard version.hasPrefix("HTTP/") else { throw .badRequest("malformed HTTP version '\(version)'") }
        guard version == "HTTP/1.1" || version == "HTTP/1.0" else { throw .versionNotSupported(version) }
        return HTTPRequest(method: String(decoding: parts[0], as: UTF8.self), target: String(decoding: parts[1], as: UTF8.self),
                           minorVersion: version == "HTTP/1.1" ? 1 : 0)
    }

    static func header(_ line: ArraySlice<UInt8>) throws(HTTPError) -> (name: String, value: String) {
        if line.first == 0x20 || line.first == 0x09 { throw .badRequest("obsolete header line folding") }
        guard let colon = line.firstIndex(of: 0x3A) else { throw .badRequest("header line without a colon") }
        let name = line[line.startIndex..<colon]
        guard !name.isEmpty, name.allSatisfy(isTokenByte) else {
            throw .badRequest("invalid header name '\(String(decoding: name.prefix(60), as: UTF8.self))'")
        }
        let value = line[(colon + 1)...]
        guard value.allSatisfy({ $0 == 0x09 || $0 >= 0x20 && $0 != 0x7F }) else { throw .badRequest("control character in a header value") }
        return (String(decoding: name, as: UTF8.self), trimmed(Substring(String(decoding: value, as: UTF8.self))))
    }

    /// RFC 9110 token characters (methods, header names).
    static func isTokenByte(_ b: UInt8) -> Bool {
        switch b {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"): return true
        default: return Array("!#$%&'*+-.^_`|~".utf8).contains(b)
        }
    }

    static func trimmed(_ s: Substring) -> String {
        String(s.drop { $0 == " " || $0 == "\t" }.reversed().drop { $0 == " " || $0 == "\t" }.reversed())
    }
}
