import NATSWire

/// A received message: owned copies of everything, safe to keep and share.
public struct NATSMessage: Sendable, Equatable {
    public let subject: String
    public let reply: String?
    public let headers: NATSHeaders?
    public let payload: [UInt8]

    public init(subject: String, reply: String?, headers: NATSHeaders?, payload: [UInt8]) {
        self.subject = subject
        self.reply = reply
        self.headers = headers
        self.payload = payload
    }

    /// The payload as UTF-8 text.
    public var string: String { String(decoding: payload, as: UTF8.self) }

    /// The header status code, e.g. 503 for a no-responders reply.
    public var status: Int? { headers?.status }

    init(_ m: Message) {
        subject = m.subject.string
        reply = m.reply?.string
        headers = m.headerLength != nil ? NATSHeaders.parse(m.headers) : nil
        payload = Array(m.body)
    }
}
