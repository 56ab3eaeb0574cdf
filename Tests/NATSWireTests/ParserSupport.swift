import NATSWire

/// An owned copy of a parsed client op, so tests can compare ops after the parser's slices are gone.
enum OwnedClientOp: Equatable {
    case connect(String)
    case pub(subject: String, reply: String?, header: Int?, size: String, payload: [UInt8])
    case sub(subject: String, queue: String?, sid: String)
    case unsub(sid: String, max: Int?)
    case ping, pong, info, ok

    init(_ op: ClientOp) {
        switch op {
        case .connect(let j): self = .connect(j.string)
        case .publish(let p):
            self = .pub(subject: p.subject.string, reply: p.reply?.string, header: p.headerLength,
                        size: p.totalSizeText.string, payload: Array(p.payload))
        case .subscribe(let s, let q, let sid): self = .sub(subject: s.string, queue: q?.string, sid: sid.string)
        case .unsubscribe(let sid, let max): self = .unsub(sid: sid.string, max: max)
        case .ping: self = .ping
        case .pong: self = .pong
        case .info: self = .info
        case .ok: self = .ok
        }
    }
}

/// Collects every op a parser emits.
final class ClientOpRecorder: ClientOpHandler {
    var ops: [OwnedClientOp] = []
    func handle(_ op: ClientOp) throws(NATSProtocolError) -> Bool {
        ops.append(OwnedClientOp(op))
        return true
    }
}

/// Parses `chunks` in order with a fresh parser; returns the ops, or the error that stopped it.
func parseClient(_ chunks: [[UInt8]], maxPayload: Int = 1 << 20, maxControlLine: Int = 4096)
    -> (ops: [OwnedClientOp], error: NATSProtocolError?) {
    var parser = ClientParser(maxControlLine: maxControlLine, maxPayload: maxPayload)
    let recorder = ClientOpRecorder()
    for chunk in chunks {
        let result: Result<Bool, NATSProtocolError> = chunk.withUnsafeBytes { b in
            Result { () throws(NATSProtocolError) -> Bool in try parser.parse(b, handler: recorder) }
        }
        if case .failure(let e) = result { return (recorder.ops, e) }
    }
    return (recorder.ops, nil)
}

func parseClient(_ text: String) -> (ops: [OwnedClientOp], error: NATSProtocolError?) {
    parseClient([Array(text.utf8)])
}

/// Every way to cut `bytes` into two reads, plus one byte per read.
func splits(_ bytes: [UInt8]) -> [[[UInt8]]] {
    var out: [[[UInt8]]] = (0...bytes.count).map { [Array(bytes[..<$0]), Array(bytes[$0...])] }
    out.append(bytes.map { [$0] })
    return out
}
