#if canImport(Glibc)
import Glibc
#endif

/// A growable, uniquely owned byte buffer over malloc'd memory.
///
/// Non-copyable so that the hot path (appending MSG frames to a subscriber's outbound queue) never pays for
/// copy-on-write checks or reference counting, and so that the compiler refuses accidental copies.
public struct ByteBuffer: ~Copyable, @unchecked Sendable {
    // Public stored properties so `@inlinable` appends can inline across modules; only this file mutates them.
    public var base: UnsafeMutableRawPointer
    public var count: Int = 0
    public var capacity: Int

    public init(capacity: Int = 4096) {
        self.capacity = max(capacity, 64)
        base = malloc(self.capacity)!
    }

    deinit { free(base) }

    public var isEmpty: Bool { count == 0 }

    @inlinable
    public mutating func reserve(_ extra: Int) {
        if count + extra > capacity { grow(to: count + extra) }
    }

    @usableFromInline
    mutating func grow(to needed: Int) {
        var c = capacity * 2
        while c < needed { c *= 2 }
        base = realloc(base, c)!
        capacity = c
    }

    @inlinable
    public mutating func append(_ bytes: Bytes) {
        let n = bytes.count
        if n == 0 { return }
        reserve(n)
        memcpy(base + count, bytes.baseAddress!, n)
        count += n
    }

    @inlinable
    public mutating func append(_ s: StaticString) {
        append(UnsafeRawBufferPointer(start: s.utf8Start, count: s.utf8CodeUnitCount))
    }

    /// Appends a String's UTF-8 (named apart from `append(_: StaticString)`, which literals must resolve to:
    /// with both named `append`, a literal picks the String overload and pays for a UTF-8 view each time).
    public mutating func appendString(_ s: String) {
        withBytes(s) { append($0) }
    }

    @inlinable
    public mutating func append(byte: UInt8) {
        reserve(1)
        base.storeBytes(of: byte, toByteOffset: count, as: UInt8.self)
        count += 1
    }

    /// Appends `value` in decimal.
    @inlinable
    public mutating func appendDecimal(_ value: Int) {
        var v = UInt(max(value, 0))
        var digits: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
                     UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) =
            (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        var n = 0
        withUnsafeMutableBytes(of: &digits) { d in
            repeat {
                d[19 - n] = UInt8(v % 10) + ASCII.zero
                v /= 10
                n += 1
            } while v > 0
            append(UnsafeRawBufferPointer(rebasing: d[(20 - n)...]))
        }
    }

    /// Drops the first `n` bytes, moving the rest to the front.
    public mutating func removeFirst(_ n: Int) {
        let k = min(n, count)
        if k < count { memmove(base, base + k, count - k) }
        count -= k
    }

    public mutating func removeAll() { count = 0 }

    /// Shrinks storage back to `capacity` if it grew past `threshold` (after a burst).
    public mutating func shrink(to capacity: Int, ifAbove threshold: Int) {
        guard self.capacity > threshold, count <= capacity else { return }
        base = realloc(base, capacity)!
        self.capacity = capacity
    }

    public var bytes: Bytes { UnsafeRawBufferPointer(start: base, count: count) }

    /// A copy as an array (tests and diagnostics).
    public var array: [UInt8] { Array(bytes) }

    /// Swaps contents with another buffer (no copy).
    public mutating func swapContents(with other: inout ByteBuffer) {
        swap(&base, &other.base)
        swap(&count, &other.count)
        swap(&capacity, &other.capacity)
    }
}
