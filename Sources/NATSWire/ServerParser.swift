/// A MSG or HMSG as a client receives it. Slices die with the callback.
public struct Message {
    public let subject: Bytes
    public let sid: Bytes
    public let reply: Bytes?
    /// Header-block length for HMSG; nil for MSG.
    public let headerLength: Int?
    /// Headers (HMSG) followed by the body.
    public let payload: Bytes

    /// The body without the header block.
    public var body: Bytes { payload.slice(headerLength ?? 0, payload.count) }
    /// The header block, or an empty slice.
    public var headers: Bytes { payload.slice(0, headerLength ?? 0) }
}

/// One operation sent by a server to a client.
public enum ServerOp {
    case info(json: Bytes)
    case msg(Message)
    case ping
    case pong
    case ok
    /// `-ERR` with the text between the quotes.
    case err(Bytes)
}

/// Receives parsed server ops.
public protocol ServerOpHandler: AnyObject {
    /// Return false to stop parsing the rest of the read.
    func handle(_ op: ServerOp) throws(NATSProtocolError) -> Bool
}

/// Incremental parser for the server → client direction (what a client reads).
public struct ServerParser: Sendable {
    /// Longest control line accepted (INFO can be long on a cluster).
    public var maxControlLine: Int
    /// Largest MSG size accepted; a server that announces more is broken or hostile.
    public var maxPayload: Int
    private var assembler = FrameAssembler()
    /// The op whose payload is still arriving: kept here because a delegate lives for one read only.
    private var pending = PendingLine<ServerOpKind>(kind: .ping)

    public init(maxControlLine: Int = 64 * 1024, maxPayload: Int = 64 << 20) {
        self.maxControlLine = maxControlLine
        self.maxPayload = maxPayload
    }

    @discardableResult
    public mutating func parse<H: ServerOpHandler>(_ data: Bytes, handler: H) throws(NATSProtocolError) -> Bool {
        var delegate = ServerFrameDelegate(handler: handler, maxControlLine: maxControlLine, maxPayload: maxPayload,
                                            pending: pending)
        defer { pending = delegate.pending }
        return try assembler.consume(data, &delegate)
    }
}

enum ServerOpKind: Sendable {
    case info, msg, hmsg, ping, pong, ok, err

    static func recognise(_ op: Bytes) -> ServerOpKind? {
        switch op.count {
        case 3:
            if ControlLine.opEquals(op, "MSG") { return .msg }
            if ControlLine.opEquals(op, "+OK") { return .ok }
        case 4:
            if ControlLine.opEquals(op, "INFO") { return .info }
            if ControlLine.opEquals(op, "HMSG") { return .hmsg }
            if ControlLine.opEquals(op, "PING") { return .ping }
            if ControlLine.opEquals(op, "PONG") { return .pong }
            if ControlLine.opEquals(op, "-ERR") { return .err }
        default: break
        }
        return nil
    }

    static func couldBecome(_ op: Bytes) -> Bool {
        for name: StaticString in ["INFO", "MSG", "HMSG", "PING", "PONG", "+OK", "-ERR"]
            where ControlLine.opIsPrefix(op, of: name) { return true }
        return false
    }
}

struct ServerFrameDelegate<H: ServerOpHandler>: FrameDelegate {
    let handler: H
    let maxControlLine: Int
    let maxPayload: Int
    var pending: PendingLine<ServerOpKind>

    mutating func payloadLength(forLine line: Bytes) throws(NATSProtocolError) -> Int? {
        try pending.start(line, maxControlLine: maxControlLine, recognise: ServerOpKind.recognise)
        switch pending.kind {
        case .msg:
            pending.args = ControlLine.split(line, from: pending.argFrom)
            guard pending.args.count == 3 || pending.args.count == 4, let size = parseDecimal(pending.args.arg(pending.args.count - 1, in: line)) else {
                throw .protocolViolation("malformed MSG")
            }
            if size > maxPayload { throw .maxPayloadViolation }
            return size
        case .hmsg:
            pending.args = ControlLine.split(line, from: pending.argFrom)
            guard pending.args.count == 4 || pending.args.count == 5,
                  let hdr = parseDecimal(pending.args.arg(pending.args.count - 2, in: line)),
                  let total = parseDecimal(pending.args.arg(pending.args.count - 1, in: line)), hdr <= total else {
                throw .protocolViolation("malformed HMSG")
            }
            if total > maxPayload { throw .maxPayloadViolation }
            pending.headerLength = hdr
            return total
        default:
            return nil
        }
    }

    mutating func frame(line: Bytes, payload: Bytes?) throws(NATSProtocolError) -> Bool {
        let op: ServerOp
        switch pending.kind {
        case .msg, .hmsg:
            let withReply = pending.args.count == (pending.kind == .msg ? 4 : 5)
            op = .msg(Message(
                subject: pending.args.arg(0, in: line), sid: pending.args.arg(1, in: line),
                reply: withReply ? pending.args.arg(2, in: line) : nil,
                headerLength: pending.kind == .hmsg ? pending.headerLength : nil, payload: payload!))
        case .info: op = .info(json: ControlLine.trimTrailing(line, from: pending.argFrom))
        case .ping: op = .ping
        case .pong: op = .pong
        case .ok: op = .ok
        case .err:
            var text = ControlLine.trimTrailing(line, from: pending.argFrom)
            if text.count >= 2 && text[0] == 39 && text[text.count - 1] == 39 { text = text.slice(1, text.count - 1) }
            op = .err(text)
        }
        return try handler.handle(op)
    }

    func checkPartial(line: Bytes) throws(NATSProtocolError) {
        let opLen = ControlLine.opLength(line)
        if line.isEmpty { return }
        if opLen == 0 { throw .unknownOperation }
        if opLen == line.count {
            var op = line
            if op[op.count - 1] == ASCII.cr { op = op.slice(0, op.count - 1) }
            guard ServerOpKind.couldBecome(op) else { throw .unknownOperation }
            return
        }
        if line.count - ControlLine.argStart(line, opLength: opLen) > maxControlLine + 1 { throw .maxControlLineExceeded }
    }
}
