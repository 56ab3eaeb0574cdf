/// Encoding of the frames a server sends to subscribers, straight into an outbound buffer.
extension ByteBuffer {
    /// `MSG <subject> <sid> [reply] <size>\r\n<payload>\r\n`. `sizeText` is the publisher's own size field,
    /// reused verbatim (it is already decimal, and nats-server echoes it as written).
    @inlinable
    public mutating func appendMSG(subject: Bytes, sid: Bytes, reply: Bytes?, sizeText: Bytes, payload: Bytes) {
        reserve(subject.count + sid.count + (reply?.count ?? 0) + sizeText.count + payload.count + 12)
        append("MSG ")
        append(subject)
        append(byte: ASCII.space)
        append(sid)
        append(byte: ASCII.space)
        if let reply {
            append(reply)
            append(byte: ASCII.space)
        }
        append(sizeText)
        append("\r\n")
        append(payload)
        append("\r\n")
    }

    /// `MSG` with a computed size (used when stripping headers for a subscriber that did not ask for them).
    @inlinable
    public mutating func appendMSG(subject: Bytes, sid: Bytes, reply: Bytes?, payload: Bytes) {
        reserve(subject.count + sid.count + (reply?.count ?? 0) + payload.count + 32)
        append("MSG ")
        append(subject)
        append(byte: ASCII.space)
        append(sid)
        append(byte: ASCII.space)
        if let reply {
            append(reply)
            append(byte: ASCII.space)
        }
        appendDecimal(payload.count)
        append("\r\n")
        append(payload)
        append("\r\n")
    }

    /// `HMSG <subject> <sid> [reply] <hdr> <total>\r\n<headers+payload>\r\n`.
    @inlinable
    public mutating func appendHMSG(subject: Bytes, sid: Bytes, reply: Bytes?, headerSizeText: Bytes,
                                    totalSizeText: Bytes, payload: Bytes) {
        reserve(subject.count + sid.count + (reply?.count ?? 0) + headerSizeText.count + totalSizeText.count
                + payload.count + 14)
        append("HMSG ")
        append(subject)
        append(byte: ASCII.space)
        append(sid)
        append(byte: ASCII.space)
        if let reply {
            append(reply)
            append(byte: ASCII.space)
        }
        append(headerSizeText)
        append(byte: ASCII.space)
        append(totalSizeText)
        append("\r\n")
        append(payload)
        append("\r\n")
    }

    /// `PUB <subject> [reply] <size>\r\n<payload>\r\n` (client side).
    @inlinable
    public mutating func appendPUB(subject: Bytes, reply: Bytes?, payload: Bytes) {
        reserve(subject.count + (reply?.count ?? 0) + payload.count + 32)
        append("PUB ")
        append(subject)
        append(byte: ASCII.space)
        if let reply {
            append(reply)
            append(byte: ASCII.space)
        }
        appendDecimal(payload.count)
        append("\r\n")
        append(payload)
        append("\r\n")
    }
}

/// The exact 503 status frame nats-server sends for no-responders: `NATS/1.0 503\r\n\r\n` is 16 bytes.
public enum NoResponders {
    public static let headerBlock: StaticString = "NATS/1.0 503\r\n\r\n"
}
