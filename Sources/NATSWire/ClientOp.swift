/// A PUB or HPUB as parsed. All slices point into the read buffer and die with the callback.
public struct Publish {
    public let subject: Bytes
    /// The reply subject, or nil when the op had none.
    public let reply: Bytes?
    /// The header-block length for HPUB; nil for PUB.
    public let headerLength: Int?
    /// The size fields exactly as the client wrote them (nats-server echoes `PUB foo 002` as `MSG foo 1 002`).
    public let headerSizeText: Bytes?
    public let totalSizeText: Bytes
    /// Headers (HPUB) followed by the message body.
    public let payload: Bytes

    /// The message body without any header block.
    public var body: Bytes { payload.slice(headerLength ?? 0, payload.count) }
}

/// One operation sent by a client to the server.
public enum ClientOp {
    case connect(json: Bytes)
    case publish(Publish)
    case subscribe(subject: Bytes, queue: Bytes?, sid: Bytes)
    case unsubscribe(sid: Bytes, max: Int?)
    case ping
    case pong
    /// A client-sent INFO, ignored by servers.
    case info
    /// A client-sent +OK, ignored by servers.
    case ok
}

/// Receives parsed client ops. A class so the parser can call it without copying state in and out.
public protocol ClientOpHandler: AnyObject {
    /// Handles one op. Return false to stop parsing the rest of the read (the connection is closing).
    /// Throwing closes the connection with the error's `-ERR` line.
    func handle(_ op: ClientOp) throws(NATSProtocolError) -> Bool
}
