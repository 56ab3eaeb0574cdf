#if canImport(Glibc)
import Glibc
#endif

/// What a protocol parser tells the `FrameAssembler` about lines.
///
/// The assembler knows only framing (CRLF-terminated control lines, optionally followed by a length-prefixed
/// payload and CRLF); the delegate knows the ops. Both the client-op and the server-op parsers are delegates.
public protocol FrameDelegate {
    /// A complete control line (terminator stripped). Returns the length of the payload that follows it, or nil
    /// when the line stands alone. Called exactly once per line, before `frame`.
    mutating func payloadLength(forLine line: Bytes) throws(NATSProtocolError) -> Int?
    /// A complete frame: the same line as the preceding `payloadLength` call (possibly moved to another buffer,
    /// same bytes) and its payload, if any. Returns false to stop consuming.
    mutating func frame(line: Bytes, payload: Bytes?) throws(NATSProtocolError) -> Bool
    /// An incomplete line at the end of a read: lets the delegate reject a bad op early and bound the line.
    func checkPartial(line: Bytes) throws(NATSProtocolError)
}

/// Splits a byte stream into NATS frames, resuming across reads that split anywhere.
///
/// Frames wholly inside one read are handed out as slices of that read (no copy); only a line or payload that
/// straddles reads is copied, into buffers this struct keeps between calls. That is nats-server's trick too.
public struct FrameAssembler: Sendable {
    /// An incomplete line, or, while a payload is awaited, the complete line that announced it.
    private var heldLine: [UInt8] = []
    /// The bytes of an incomplete payload plus its CRLF.
    private var heldPayload: [UInt8] = []
    /// Payload length awaited (without CRLF), or -1 while reading a line.
    private var awaiting = -1

    public init() {}

    /// True when no partial frame is held (the stream is at a frame boundary).
    public var isAtBoundary: Bool { heldLine.isEmpty && awaiting < 0 }

    /// Bytes held for partial frames: what a slow or hostile peer can make us keep.
    public var heldBytes: Int { heldLine.count + heldPayload.count }

    /// Consumes one read. Returns false if the delegate asked to stop.
    @discardableResult
    public mutating func consume<D: FrameDelegate>(_ data: Bytes, _ delegate: inout D) throws(NATSProtocolError) -> Bool {
        guard let base = data.baseAddress else { return true }
        let n = data.count
        var i = 0
        while true {
            if awaiting >= 0 {
                // Continue a payload that began in an earlier read.
                let want = awaiting + 2 - heldPayload.count
                let take = min(want, n - i)
                heldPayload.append(contentsOf: data.slice(i, i + take))
                i += take
                if heldPayload.count < awaiting + 2 { return true }
                guard heldPayload[awaiting] == ASCII.cr, heldPayload[awaiting + 1] == ASCII.lf else {
                    throw .unknownOperation
                }
                let length = awaiting
                let keepGoing = try withHeld { line, p throws(NATSProtocolError) in
                    try delegate.frame(line: line, payload: p.slice(0, length))
                }
                heldLine.removeAll(keepingCapacity: true)
                heldPayload.removeAll(keepingCapacity: true)
                awaiting = -1
                if !keepGoing { return false }
                continue
            }
            if i >= n { return true }
            // Line mode: find the terminator.
            guard let nlPtr = memchr(base + i, Int32(ASCII.lf), n - i) else {
                heldLine.append(contentsOf: data.slice(i, n))
                try withHeld { line, _ throws(NATSProtocolError) in try delegate.checkPartial(line: line) }
                return true
            }
            let nl = UnsafeRawPointer(nlPtr) - UnsafeRawPointer(base)
            if heldLine.isEmpty {
                var end = nl
                if end > i && data[end - 1] == ASCII.cr { end -= 1 }
                let line = data.slice(i, end)
                i = nl + 1
                guard let plen = try delegate.payloadLength(forLine: line) else {
                    if !(try delegate.frame(line: line, payload: nil)) { return false }
                    continue
                }
                if i + plen + 2 <= n {
                    guard data[i + plen] == ASCII.cr, data[i + plen + 1] == ASCII.lf else { throw .unknownOperation }
                    let payload = data.slice(i, i + plen)
                    i += plen + 2
                    if !(try delegate.frame(line: line, payload: payload)) { return false }
                } else {
                    heldLine.append(contentsOf: line)
                    heldPayload.append(contentsOf: data.slice(i, n))
                    awaiting = plen
                    i = n
                    // The payload may already hold its CRLF check bytes partially; nothing to do until more arrive.
                }
            } else {
                // The line began in an earlier read.
                heldLine.append(contentsOf: data.slice(i, nl))
                if heldLine.last == ASCII.cr { heldLine.removeLast() }
                i = nl + 1
                let plen = try withHeld { line, _ throws(NATSProtocolError) in try delegate.payloadLength(forLine: line) }
                if let plen {
                    awaiting = plen
                    continue  // the payload branch completes the frame, now or in a later read
                }
                let keepGoing = try withHeld { line, _ throws(NATSProtocolError) in
                    try delegate.frame(line: line, payload: nil)
                }
                heldLine.removeAll(keepingCapacity: true)
                if !keepGoing { return false }
            }
        }
        return true
    }

    /// Runs `body` over the held line and payload. (`withUnsafeBytes` only rethrows untyped errors, so the
    /// typed error is carried out through a `Result`.)
    private func withHeld<R>(_ body: (Bytes, Bytes) throws(NATSProtocolError) -> R) throws(NATSProtocolError) -> R {
        let result: Result<R, NATSProtocolError> = heldLine.withUnsafeBytes { line in
            heldPayload.withUnsafeBytes { payload in
                Result { () throws(NATSProtocolError) -> R in try body(line, payload) }
            }
        }
        return try result.get()
    }
}
