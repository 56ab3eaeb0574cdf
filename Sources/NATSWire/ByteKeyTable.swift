#if canImport(Glibc)
import Glibc
#endif

/// An open-addressing hash map keyed by byte strings that can be looked up with a borrowed slice.
///
/// Swift's Dictionary would need an owned key (an allocation) for every lookup; the broker looks up a subject
/// or a subject token per published message, so lookups here take `Bytes` and allocate nothing. Linear
/// probing with backward-shift deletion keeps it tombstone-free.
public struct ByteKeyTable<Value> {
    // Parallel arrays so probing touches only plain integers; hash 0 marks an empty slot.
    @usableFromInline var hashes: [UInt64]
    @usableFromInline var keys: [[UInt8]]
    @usableFromInline var vals: [Value?]
    @usableFromInline var mask: Int
    public private(set) var count = 0

    public init(capacity: Int = 8) {
        var c = 8
        while c < capacity * 2 { c <<= 1 }
        hashes = Array(repeating: 0, count: c)
        keys = Array(repeating: [], count: c)
        vals = Array(repeating: nil, count: c)
        mask = c - 1
    }

    public var isEmpty: Bool { count == 0 }

    /// 64-bit hash of a byte string, never 0: 8 bytes per step, then a final mix (wyhash-style constants).
    @inlinable
    public static func hash(_ key: Bytes) -> UInt64 {
        var h: UInt64 = 0x9E37_79B9_7F4A_7C15 ^ UInt64(key.count)
        var i = 0
        let n = key.count
        if let base = key.baseAddress {
            while i + 8 <= n {
                let w = base.loadUnaligned(fromByteOffset: i, as: UInt64.self)
                h = (h ^ w) &* 0xA076_1D64_78BD_642F
                h ^= h >> 29
                i += 8
            }
            var tail: UInt64 = 0
            var shift: UInt64 = 0
            while i < n {
                tail |= UInt64(base.load(fromByteOffset: i, as: UInt8.self)) << shift
                shift += 8
                i += 1
            }
            h = (h ^ tail) &* 0xE703_7ED1_A0B4_28DB
        }
        h ^= h >> 32
        return h | 1
    }

    @inlinable
    func find(_ key: Bytes, _ h: UInt64) -> Int? {
        var i = Int(truncatingIfNeeded: h) & mask
        while true {
            let sh = hashes[i]
            if sh == 0 { return nil }
            if sh == h && keys[i].withUnsafeBytes({ $0.bytesEqual(key) }) { return i }
            i = (i + 1) & mask
        }
    }

    /// The value stored under `key`, if any.
    @inlinable
    public func value(for key: Bytes) -> Value? {
        guard let i = find(key, Self.hash(key)) else { return nil }
        return vals[i]
    }

    /// Inserts or replaces the value under `key`.
    public mutating func set(_ value: Value, for key: Bytes) {
        let h = Self.hash(key)
        if let i = find(key, h) { vals[i] = value; return }
        if (count + 1) * 4 > hashes.count * 3 { grow() }
        var i = Int(truncatingIfNeeded: h) & mask
        while hashes[i] != 0 { i = (i + 1) & mask }
        hashes[i] = h
        keys[i] = Array(key)
        vals[i] = value
        count += 1
    }

    /// Removes the value under `key`; returns it if it was present.
    @discardableResult
    public mutating func remove(_ key: Bytes) -> Value? {
        guard var hole = find(key, Self.hash(key)) else { return nil }
        let removed = vals[hole]
        clear(hole)
        count -= 1
        // Backward-shift: move later members of the probe run into the hole when that brings them closer home.
        var i = (hole + 1) & mask
        while hashes[i] != 0 {
            let home = Int(truncatingIfNeeded: hashes[i]) & mask
            if (i - home) & mask >= (i - hole) & mask {
                hashes[hole] = hashes[i]
                keys[hole] = keys[i]
                vals[hole] = vals[i]
                clear(i)
                hole = i
            }
            i = (i + 1) & mask
        }
        return removed
    }

    private mutating func clear(_ i: Int) {
        hashes[i] = 0
        keys[i] = []
        vals[i] = nil
    }

    /// Drops every entry, keeping the storage.
    public mutating func removeAll() {
        guard count > 0 else { return }
        for i in hashes.indices where hashes[i] != 0 { clear(i) }
        count = 0
    }

    /// Every key with its value (order unspecified).
    public var entries: [(key: [UInt8], value: Value)] {
        hashes.indices.compactMap { i in hashes[i] == 0 ? nil : (keys[i], vals[i]!) }
    }

    /// Every value (order unspecified).
    public var values: [Value] { vals.compactMap { $0 } }

    private mutating func grow() {
        let (oldH, oldK, oldV) = (hashes, keys, vals)
        let c = oldH.count * 2
        hashes = Array(repeating: 0, count: c)
        keys = Array(repeating: [], count: c)
        vals = Array(repeating: nil, count: c)
        mask = c - 1
        for j in oldH.indices where oldH[j] != 0 {
            var i = Int(truncatingIfNeeded: oldH[j]) & mask
            while hashes[i] != 0 { i = (i + 1) & mask }
            hashes[i] = oldH[j]
            keys[i] = oldK[j]
            vals[i] = oldV[j]
        }
    }
}

extension ByteKeyTable: Sendable where Value: Sendable {}
