/// A cursor over a module's bytes: LEB128 integers, floats, names and vectors, each failing with the offset.
struct ByteReader {
    let bytes: [UInt8]
    private(set) var offset: Int
    let end: Int

    init(_ bytes: [UInt8], from start: Int = 0, to end: Int? = nil) {
        self.bytes = bytes
        offset = start
        self.end = end ?? bytes.count
    }

    var isAtEnd: Bool { offset >= end }

    func fail(_ reason: String, at: Int? = nil) -> WasmError { .malformed(offset: at ?? offset, reason: reason) }

    mutating func byte() throws(WasmError) -> UInt8 {
        guard offset < end else { throw fail("unexpected end") }
        defer { offset += 1 }
        return bytes[offset]
    }

    mutating func bytes(_ n: Int) throws(WasmError) -> ArraySlice<UInt8> {
        guard n >= 0, n <= end - offset else { throw fail("unexpected end (wanted \(n) bytes)") }
        defer { offset += n }
        return bytes[offset..<offset + n]
    }

    mutating func skip(_ n: Int) throws(WasmError) { _ = try bytes(n) }

    /// Unsigned LEB128 of at most `bits` bits; overlong encodings and unused bits set in the last byte are malformed.
    mutating func unsigned(bits: Int) throws(WasmError) -> UInt64 {
        let start = offset
        var result: UInt64 = 0
        var shift = 0
        while true {
            let b = try byte()
            let payload = UInt64(b & 0x7F)
            if shift + 7 > bits {
                // The last allowed byte: no continuation, and no bits beyond `bits`.
                let allowed = bits - shift
                if b & 0x80 != 0 { throw fail("integer representation too long", at: start) }
                if allowed < 7 && payload >> UInt64(allowed) != 0 { throw fail("integer too large", at: start) }
            }
            result |= payload << UInt64(shift)
            if b & 0x80 == 0 { return result }
            shift += 7
            if shift >= bits + 7 { throw fail("integer representation too long", at: start) }
        }
    }

    /// Signed LEB128 of at most `bits` bits; the unused bits of the last byte must repeat the sign.
    mutating func signed(bits: Int) throws(WasmError) -> Int64 {
        let start = offset
        var result: Int64 = 0
        var shift = 0
        var b: UInt8
        repeat {
            b = try byte()
            if shift + 7 > bits {
                if b & 0x80 != 0 { throw fail("integer representation too long", at: start) }
                let allowed = bits - shift  // bits that still carry value, the sign bit among them
                let rest = Int8(bitPattern: b << 1) >> 1  // sign-extend the 7-bit payload
                let high = Int64(rest) >> Int64(allowed - 1)
                if high != 0 && high != -1 { throw fail("integer too large", at: start) }
            }
            result |= Int64(b & 0x7F) << Int64(shift)
            shift += 7
        } while b & 0x80 != 0
        if shift < 64 && b & 0x40 != 0 { result |= -1 << Int64(shift) }
        return result
    }

    mutating func u32() throws(WasmError) -> UInt32 { UInt32(try unsigned(bits: 32)) }
    mutating func i32() throws(WasmError) -> Int32 { Int32(truncatingIfNeeded: try signed(bits: 32)) }
    mutating func i64() throws(WasmError) -> Int64 { try signed(bits: 64) }

    /// A count, checked against the bytes left so a forged length cannot make us allocate gigabytes.
    mutating func count(minBytesEach: Int = 1) throws(WasmError) -> Int {
        let at = offset
        let n = Int(try u32())
        if n * max(1, minBytesEach) > end - offset { throw fail("length out of bounds", at: at) }
        return n
    }

    mutating func f32Bits() throws(WasmError) -> UInt32 {
        let b = try bytes(4)
        return b.reversed().reduce(0) { $0 << 8 | UInt32($1) }
    }

    mutating func f64Bits() throws(WasmError) -> UInt64 {
        let b = try bytes(8)
        return b.reversed().reduce(0) { $0 << 8 | UInt64($1) }
    }

    mutating func name() throws(WasmError) -> String {
        let at = offset
        let n = try count()
        let raw = try bytes(n)
        guard let s = String(validating: raw, as: UTF8.self) else { throw fail("malformed UTF-8 encoding", at: at) }
        return s
    }
}
