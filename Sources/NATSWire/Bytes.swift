#if canImport(Glibc)
import Glibc
#endif

/// A view of bytes owned by someone else: valid only for the duration of the call that hands it out.
///
/// The parsers hand out slices of the caller's read buffer instead of copying, so a handler that wants to keep
/// a subject or payload past its callback must copy it (`Array(slice)`).
public typealias Bytes = UnsafeRawBufferPointer

/// ASCII constants used by the protocol.
@usableFromInline enum ASCII {
    @usableFromInline static let cr: UInt8 = 13
    @usableFromInline static let lf: UInt8 = 10
    @usableFromInline static let space: UInt8 = 32
    @usableFromInline static let tab: UInt8 = 9
    @usableFromInline static let dot: UInt8 = 46
    @usableFromInline static let star: UInt8 = 42
    @usableFromInline static let gt: UInt8 = 62
    @usableFromInline static let zero: UInt8 = 48
}

extension UnsafeRawBufferPointer {
    /// A sub-slice by offsets, rebased to start at zero.
    @inlinable
    public func slice(_ from: Int, _ to: Int) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: self[from..<to])
    }

    /// Byte-wise equality with another buffer.
    @inlinable
    public func bytesEqual(_ other: UnsafeRawBufferPointer) -> Bool {
        guard count == other.count else { return false }
        if count == 0 { return true }
        return memcmp(baseAddress!, other.baseAddress!, count) == 0
    }

    /// The bytes as a String (lossy UTF-8): for logs, errors and tests, never on the hot path.
    public var string: String { String(decoding: self, as: UTF8.self) }
}

/// Parses an unsigned decimal number made only of ASCII digits; nil on anything else or on overflow.
@inlinable
public func parseDecimal(_ bytes: Bytes) -> Int? {
    if bytes.isEmpty || bytes.count > 18 { return nil }
    var value = 0
    for b in bytes {
        let d = b &- ASCII.zero
        if d > 9 { return nil }
        value = value &* 10 &+ Int(d)
    }
    return value
}

/// Calls `body` with a temporary buffer over a String's UTF-8 bytes.
@inlinable
public func withBytes<R>(_ s: String, _ body: (Bytes) throws -> R) rethrows -> R {
    var copy = s
    return try copy.withUTF8 { try body(UnsafeRawBufferPointer($0)) }
}
