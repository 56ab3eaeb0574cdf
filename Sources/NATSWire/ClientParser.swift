/// Incremental parser for the client → server direction (what a broker reads).
///
/// Feed it reads of any size, split anywhere; it calls the handler once per complete op, with slices of the
/// read (copies only for ops that straddle reads). Limits are checked on the control line, before any payload
/// is buffered, so a hostile peer cannot make it hold more than one control line plus one max-size payload.
public struct ClientParser: Sendable {
    /// Longest allowed argument part of a control line (after the op and its blanks, without CRLF).
    public var maxControlLine: Int
    /// Largest PUB/HPUB size accepted.
    public var maxPayload: Int
    private var assembler = FrameAssembler()
    /// The op whose payload is still arriving: kept here because a delegate lives for one read only.
    private var pending = PendingLine<ClientOpKind>(kind: .ping)

    public init(maxControlLine: Int = 4096, maxPayload: Int = 1 << 20) {
        self.maxControlLine = maxControlLine
        self.maxPayload = maxPayload
    }

    /// Bytes currently held for a partial op.
    public var heldBytes: Int { assembler.heldBytes }

    /// Parses one read. Returns false when the handler asked to stop.
    @discardableResult
    public mutating func parse<H: ClientOpHandler>(_ data: Bytes, handler: H) throws(NATSProtocolError) -> Bool {
        var delegate = ClientFrameDelegate(handler: handler, maxControlLine: maxControlLine, maxPayload: maxPayload,
                                            pending: pending)
        defer { pending = delegate.pending }
        return try assembler.consume(data, &delegate)
    }
}

/// The ops a client may send, as recognised from the op token.
enum ClientOpKind: Sendable {
    case connect, pub, hpub, sub, unsub, ping, pong, info, ok, err

    /// Recognises a complete op token (case-insensitive). PING/PONG accept trailing junk as nats-server does.
    static func recognise(_ op: Bytes) -> ClientOpKind? {
        switch op.count {
        case 3:
            if ControlLine.opEquals(op, "PUB") { return .pub }
            if ControlLine.opEquals(op, "SUB") { return .sub }
            if ControlLine.opEquals(op, "+OK") { return .ok }
        case 4:
            if ControlLine.opEquals(op, "HPUB") { return .hpub }
            if ControlLine.opEquals(op, "INFO") { return .info }
            if ControlLine.opEquals(op, "-ERR") { return .err }
        case 5:
            if ControlLine.opEquals(op, "UNSUB") { return .unsub }
        case 7:
            if ControlLine.opEquals(op, "CONNECT") { return .connect }
        default: break
        }
        if op.count >= 4 {
            let head = op.slice(0, 4)
            if ControlLine.opEquals(head, "PING") { return .ping }
            if ControlLine.opEquals(head, "PONG") { return .pong }
        }
        return nil
    }

    /// True when `op` could still become a known op as more bytes arrive.
    static func couldBecome(_ op: Bytes) -> Bool {
        for name: StaticString in ["CONNECT", "PUB", "HPUB", "SUB", "UNSUB", "PING", "PONG", "INFO", "+OK", "-ERR"]
            where ControlLine.opIsPrefix(op, of: name) { return true }
        return recognise(op) == .ping || recognise(op) == .pong
    }
}

/// Adapts the frame assembler's callbacks to `ClientOp`s.
struct ClientFrameDelegate<H: ClientOpHandler>: FrameDelegate {
    let handler: H
    let maxControlLine: Int
    let maxPayload: Int
    var pending: PendingLine<ClientOpKind>

    mutating func payloadLength(forLine line: Bytes) throws(NATSProtocolError) -> Int? {
        try pending.start(line, maxControlLine: maxControlLine, recognise: ClientOpKind.recognise)
        switch pending.kind {
        case .pub:
            pending.args = ControlLine.split(line, from: pending.argFrom)
            guard pending.args.count == 2 || pending.args.count == 3 else { throw .protocolViolation("PUB takes 2 or 3 arguments") }
            guard let size = parseDecimal(pending.args.arg(pending.args.count - 1, in: line)) else {
                throw .protocolViolation("PUB size is not a number")
            }
            if size > maxPayload { throw .maxPayloadViolation }
            return size
        case .hpub:
            pending.args = ControlLine.split(line, from: pending.argFrom)
            guard pending.args.count == 3 || pending.args.count == 4 else { throw .protocolViolation("HPUB takes 3 or 4 arguments") }
            guard let hdr = parseDecimal(pending.args.arg(pending.args.count - 2, in: line)),
                  let total = parseDecimal(pending.args.arg(pending.args.count - 1, in: line)) else {
                throw .protocolViolation("HPUB sizes are not numbers")
            }
            guard hdr <= total else { throw .protocolViolation("HPUB header size exceeds total size") }
            if total > maxPayload { throw .maxPayloadViolation }
            pending.headerLength = hdr
            return total
        case .sub:
            pending.args = ControlLine.split(line, from: pending.argFrom)
            guard pending.args.count == 2 || pending.args.count == 3 else { throw .protocolViolation("SUB takes 2 or 3 arguments") }
        case .unsub:
            pending.args = ControlLine.split(line, from: pending.argFrom)
            guard pending.args.count > 0 else { throw .unknownOperation }
            guard pending.args.count <= 2 else { throw .protocolViolation("UNSUB takes 1 or 2 arguments") }
            if pending.args.count == 2 && parseDecimal(pending.args.arg(1, in: line)) == nil {
                throw .protocolViolation("UNSUB max is not a number")
            }
        case .connect:
            if ControlLine.trimTrailing(line, from: pending.argFrom).isEmpty { throw .unknownOperation }
        case .err:
            throw .peerError(ControlLine.trimTrailing(line, from: pending.argFrom).string)
        case .ping, .pong, .info, .ok:
            break
        }
        return nil
    }

    mutating func frame(line: Bytes, payload: Bytes?) throws(NATSProtocolError) -> Bool {
        let op: ClientOp
        switch pending.kind {
        case .pub:
            let hasReply = pending.args.count == 3
            op = .publish(Publish(
                subject: pending.args.arg(0, in: line), reply: hasReply ? pending.args.arg(1, in: line) : nil,
                headerLength: nil, headerSizeText: nil, totalSizeText: pending.args.arg(pending.args.count - 1, in: line),
                payload: payload!))
        case .hpub:
            let hasReply = pending.args.count == 4
            op = .publish(Publish(
                subject: pending.args.arg(0, in: line), reply: hasReply ? pending.args.arg(1, in: line) : nil,
                headerLength: pending.headerLength, headerSizeText: pending.args.arg(pending.args.count - 2, in: line),
                totalSizeText: pending.args.arg(pending.args.count - 1, in: line), payload: payload!))
        case .sub:
            let hasQueue = pending.args.count == 3
            op = .subscribe(subject: pending.args.arg(0, in: line), queue: hasQueue ? pending.args.arg(1, in: line) : nil,
                            sid: pending.args.arg(pending.args.count - 1, in: line))
        case .unsub:
            op = .unsubscribe(sid: pending.args.arg(0, in: line), max: pending.args.count == 2 ? parseDecimal(pending.args.arg(1, in: line)) : nil)
        case .connect:
            op = .connect(json: ControlLine.trimTrailing(line, from: pending.argFrom))
        case .ping: op = .ping
        case .pong: op = .pong
        case .info: op = .info
        case .ok: op = .ok
        case .err: throw .unknownOperation  // unreachable: rejected in payloadLength
        }
        return try handler.handle(op)
    }

    func checkPartial(line: Bytes) throws(NATSProtocolError) {
        var length = line.count
        if length > 0 && line[length - 1] == ASCII.cr { length -= 1 }
        let l = line.slice(0, length)
        if l.isEmpty { return }
        let opLen = ControlLine.opLength(l)
        if opLen == 0 { throw .unknownOperation }
        let op = l.slice(0, opLen)
        if opLen == length {
            guard ClientOpKind.couldBecome(op) else { throw .unknownOperation }
            if length > maxControlLine + 8 { throw .maxControlLineExceeded }
            return
        }
        guard ClientOpKind.recognise(op) != nil else { throw .unknownOperation }
        if length - ControlLine.argStart(l, opLength: opLen) > maxControlLine { throw .maxControlLineExceeded }
    }
}
