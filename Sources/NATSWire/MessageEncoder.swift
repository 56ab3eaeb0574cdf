/// Encoding of the frames a server sends to subscribers, straight into an outbound buffer.
extension ByteBuffer {
    /// Writes pieces at the end without per-piece capacity checks: callers reserve the total first.
    @inlinable
    mutating func put(_ bytes: Bytes) {
        let n = bytes.count
        if n > 0 { (base + count).copyMemory(from: bytes.baseAddress!, byteCount: n) }
        count += n
    }

    @inlinable
    mutating func put(_ byte: UInt8) {
        base.storeBytes(of: byte, toByteOffset: count, as: UInt8.self)
        count += 1
    }

    @inlinable
    mutating func putCRLF() {
        base.storeBytes(of: UInt16(0x0A0D), toByteOffset: count, as: UInt16.self)
        count += 2
    }

    /// `<subject> <sid> [reply] `: the part every MSG and HMSG line shares.
    @inlinable
    mutating func putRouting(subject: Bytes, sid: Bytes, reply: Bytes?) {
        put(subject)
        put(ASCII.space)
        put(sid)
        put(ASCII.space)
        if let reply {
            put(reply)
            put(ASCII.space)
        }
    }

    /// `MSG <subject> <sid> [reply] <size>\r\n<payload>\r\n`. `sizeText` is the publisher's own size field,
    /// reused verbatim (it is already decimal, and nats-server echoes it as written). One capacity check per
    /// frame: this runs once per delivered message.
    @inlinable
    public mutating func appendMSG(subject: Bytes, sid: Bytes, reply: Bytes?, sizeText: Bytes, payload: Bytes) {
        reserve(subject.count + sid.count + (reply?.count ?? 0) + sizeText.count + payload.count + 12)
        base.storeBytes(of: UInt32(0x2047_534D), toByteOffset: count, as: UInt32.self)  // "MSG "
        count += 4
        putRouting(subject: subject, sid: sid, reply: reply)
        put(sizeText)
        putCRLF()
        put(payload)
        putCRLF()
    }

    /// `MSG` with a computed size (used when stripping headers for a subscriber that did not ask for them).
    @inlinable
    public mutating func appendMSG(subject: Bytes, sid: Bytes, reply: Bytes?, payload: Bytes) {
        reserve(subject.count + sid.count + (reply?.count ?? 0) + payload.count + 32)
        append("MSG ")
        putRouting(subject: subject, sid: sid, reply: reply)
        appendDecimal(payload.count)
        putCRLF()
        put(payload)
        putCRLF()
    }

    /// `HMSG <subject> <sid> [reply] <hdr> <total>\r\n<headers+payload>\r\n`.
    @inlinable
    public mutating func appendHMSG(subject: Bytes, sid: Bytes, reply: Bytes?, headerSizeText: Bytes,
                                    totalSizeText: Bytes, payload: Bytes) {
        reserve(subject.count + sid.count + (reply?.count ?? 0) + headerSizeText.count + totalSizeText.count
                + payload.count + 14)
        append("HMSG ")
        putRouting(subject: subject, sid: sid, reply: reply)
        put(headerSizeText)
        put(ASCII.space)
        put(totalSizeText)
        putCRLF()
        put(payload)
        putCRLF()
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
