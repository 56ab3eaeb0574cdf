/// Reads HTTP/1.1 requests from bytes as they arrive: pure (no I/O), so every framing rule is tested byte by byte.
///
/// Bounded: the request line and headers together, the header count and the body each have a limit, checked
/// before the bytes are held. Framing is strict where leniency lets one request hide in another (request
/// smuggling): `Content-Length` together with `Transfer-Encoding`, conflicting lengths, obsolete line folding and
/// whitespace before a header's colon are refused. Bodies come by `Content-Length` or chunked.
public struct HTTPRequestParser: Sendable {
    public struct Limits: Sendable, Equatable {
        public var maxHeaderBytes = 16 * 1024
        public var maxHeaderCount = 100
        public var maxBodyBytes = 1 << 20
        public init() {}
    }

    public let limits: Limits
    private var buffer: [UInt8] = []
    private var start = 0

    public init(limits: Limits = Limits()) { self.limits = limits }

    /// Bytes received and not yet part of a returned request (a request in progress, for read deadlines).
    public var buffered: Int { buffer.count - start }

    public mutating func append<C: Collection>(_ bytes: C) where C.Element == UInt8 {
        if start > 0 && start == buffer.count {
            buffer.removeAll(keepingCapacity: true)
            start = 0
        }
        buffer.append(contentsOf: bytes)
    }

    /// The next complete request, or nil until more bytes arrive.
    public mutating func next() throws(HTTPError) -> HTTPRequest? {
        // Empty lines before a request line are allowed (RFC 9112 2.2).
        while start < buffer.count && (buffer[start] == 0x0D || buffer[start] == 0x0A) { start += 1 }
        guard let headEnd = headerBlockEnd() else {
            if buffered > limits.maxHeaderBytes { throw .headersTooLarge(limit: limits.maxHeaderBytes) }
            // A request line is printable ASCII: anything else (a TLS hello, binary noise) is refused at once
            // rather than waited on until the request deadline.
            for b in buffer[start...] {
                if b == 0x0A { break }
                if (b < 0x20 && b != 0x0D && b != 0x09) || b >= 0x7F { throw .badRequest("not an HTTP/1.x request") }
            }
            return nil
        }
        guard headEnd.lines - start <= limits.maxHeaderBytes else { throw .headersTooLarge(limit: limits.maxHeaderBytes) }
        var lines = Self.lines(buffer[start..<headEnd.lines])
        guard !lines.isEmpty else { throw .badRequest("no request line") }
        var request = try Self.requestLine(lines.removeFirst())
        guard lines.count <= limits.maxHeaderCount else { throw .headersTooLarge(limit: limits.maxHeaderBytes) }
        for line in lines { request.headers.append(try Self.header(line)) }

        let bodyStart = headEnd.body
        let lengths = request.headers.filter { $0.name.lowercased() == "content-length" }.map(\.value)
        let encodings = request.headers.filter { $0.name.lowercased() == "transfer-encoding" }.map(\.value)
        if !encodings.isEmpty {
            guard lengths.isEmpty else { throw .badRequest("both Content-Length and Transfer-Encoding") }
            let codings = encodings.flatMap { $0.lowercased().split(separator: ",").map { Self.trimmed($0) } }
            guard codings == ["chunked"] else { throw .notImplemented("transfer coding '\(encodings.joined(separator: ", "))' (only chunked)") }
            guard let (body, end) = try chunkedBody(from: bodyStart) else { return nil }
            request.body = body
            start = end
            return request
        }
        var length = 0
        if !lengths.isEmpty {
            let values = Set(lengths.flatMap { $0.split(separator: ",").map { Self.trimmed($0) } })
            guard values.count == 1, let text = values.first, !text.isEmpty, text.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else {
                throw .badRequest("invalid Content-Length '\(lengths.joined(separator: ", "))'")
            }
            guard text.count <= 12, let n = Int(text), n <= limits.maxBodyBytes else { throw .bodyTooLarge(limit: limits.maxBodyBytes) }
            length = n
        }
        guard buffer.count - bodyStart >= length else { return nil }
        request.body = Array(buffer[bodyStart..<bodyStart + length])
        start = bodyStart + length
        return request
    }

    /// Where the header block's last line ends and the body begins (after the empty line), if it has arrived.
    private func headerBlockEnd() -> (lines: Int, body: Int)? {
        var i = start
        while i < buffer.count {
            if buffer[i] == 0x0A {
                // An empty line: LF LF or LF CR LF.
                if i + 1 < buffer.count && buffer[i + 1] == 0x0A { return (i, i + 2) }
                if i + 2 < buffer.count && buffer[i + 1] == 0x0D && buffer[i + 2] == 0x0A { return (i, i + 3) }
            }
            i += 1
            if i - start > limits.maxHeaderBytes + 2 { return nil }
        }
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

    /// A chunked body from `from`: the body and where the message ends, or nil until all of it has arrived.
    private func chunkedBody(from: Int) throws(HTTPError) -> ([UInt8], Int)? {
        var i = from
        var body: [UInt8] = []
        while true {
            guard let lf = buffer[i...].firstIndex(of: 0x0A) else {
                if buffer.count - i > 1024 { throw .badRequest("chunk size line too long") }
                return nil
            }
            var line = buffer[i..<lf]
            if line.last == 0x0D { line = line.dropLast() }
            let sizeText = line.split(separator: 0x3B, maxSplits: 1, omittingEmptySubsequences: false)[0]  // ';' extensions
            let digits = sizeText.reversed().drop { $0 == 0x20 || $0 == 0x09 }.reversed()
            guard !digits.isEmpty, digits.count <= 8 else { throw .badRequest("invalid chunk size") }
            var size = 0
            for d in digits {
                guard let v = HTTPRequest.hexValue(d) else { throw .badRequest("invalid chunk size") }
                size = size << 4 | Int(v)
            }
            i = lf + 1
            if size == 0 {
                // Trailer fields (ignored) until an empty line.
                while true {
                    guard let end = buffer[i...].firstIndex(of: 0x0A) else {
                        if buffer.count - i > limits.maxHeaderBytes { throw .headersTooLarge(limit: limits.maxHeaderBytes) }
                        return nil
                    }
                    let empty = end == i || (end == i + 1 && buffer[i] == 0x0D)
                    i = end + 1
                    if empty { return (body, i) }
                }
            }
            guard body.count + size <= limits.maxBodyBytes else { throw .bodyTooLarge(limit: limits.maxBodyBytes) }
            guard buffer.count >= i + size + 1 else { return nil }
            body += buffer[i..<i + size]
            i += size
            if buffer[i] == 0x0D {
                guard buffer.count >= i + 2 else { return nil }
                i += 1
            }
            guard buffer[i] == 0x0A else { throw .badRequest("chunk data longer than its size") }
            i += 1
        }
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
