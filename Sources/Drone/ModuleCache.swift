import HiveSystem
import HiveWasm
import NATSWire

/// Compiled WebAssembly modules by SHA-256 (`BoundedCache`): a module costs its source bytes plus its translated
/// code (`CompiledModule.translatedBytes`).
typealias ModuleCache = BoundedCache<CompiledModule>

extension BoundedCache where Value == CompiledModule {
    convenience init(maxModules: Int, maxBytes: Int) { self.init(maxEntries: maxModules, maxBytes: maxBytes) }
}

/// Values by content hash (compiled modules, fetched blobs), bounded by count and by bytes, least recently used
/// out first. A value larger than the whole byte bound is not kept at all (it is used, and fetched again next time).
final class BoundedCache<Value: Sendable>: @unchecked Sendable {
    let maxEntries: Int
    let maxBytes: Int
    private let lock = PosixLock()
    private var entries: [String: (value: Value, bytes: Int, used: UInt64)] = [:]
    private var clock: UInt64 = 0
    private var total = 0

    init(maxEntries: Int, maxBytes: Int) {
        self.maxEntries = max(0, maxEntries)
        self.maxBytes = max(0, maxBytes)
    }

    func get(_ hash: String) -> Value? {
        lock.withLock {
            guard var e = entries[hash] else { return nil }
            clock &+= 1
            e.used = clock
            entries[hash] = e
            return e.value
        }
    }

    func put(_ hash: String, _ value: Value, bytes: Int) {
        lock.withLock {
            if let old = entries.removeValue(forKey: hash) { total -= old.bytes }
            guard bytes <= maxBytes, maxEntries > 0 else { return }
            while entries.count >= maxEntries || total + bytes > maxBytes {
                guard let oldest = entries.min(by: { $0.value.used < $1.value.used }) else { break }
                entries[oldest.key] = nil
                total -= oldest.value.bytes
            }
            clock &+= 1
            entries[hash] = (value, bytes, clock)
            total += bytes
        }
    }

    var count: Int { lock.withLock { entries.count } }
    var totalBytes: Int { lock.withLock { total } }
    func contains(_ hash: String) -> Bool { lock.withLock { entries[hash] != nil } }
}
