import HiveSystem
import HiveWasm
import NATSWire

/// Compiled WebAssembly modules by SHA-256, bounded by count and by bytes, least recently used out first.
///
/// A module costs its source bytes plus its translated code (`CompiledModule.translatedBytes`). A module larger
/// than the whole byte bound is not kept at all (it runs, and is fetched and compiled again next time).
final class ModuleCache: @unchecked Sendable {
    let maxModules: Int
    let maxBytes: Int
    private let lock = PosixLock()
    private var entries: [String: (module: CompiledModule, bytes: Int, used: UInt64)] = [:]
    private var clock: UInt64 = 0
    private var total = 0

    init(maxModules: Int, maxBytes: Int) {
        self.maxModules = max(0, maxModules)
        self.maxBytes = max(0, maxBytes)
    }

    func get(_ hash: String) -> CompiledModule? {
        lock.withLock {
            guard var e = entries[hash] else { return nil }
            clock &+= 1
            e.used = clock
            entries[hash] = e
            return e.module
        }
    }

    func put(_ hash: String, _ module: CompiledModule, bytes: Int) {
        lock.withLock {
            if let old = entries.removeValue(forKey: hash) { total -= old.bytes }
            guard bytes <= maxBytes, maxModules > 0 else { return }
            while entries.count >= maxModules || total + bytes > maxBytes {
                guard let oldest = entries.min(by: { $0.value.used < $1.value.used }) else { break }
                entries[oldest.key] = nil
                total -= oldest.value.bytes
            }
            clock &+= 1
            entries[hash] = (module, bytes, clock)
            total += bytes
        }
    }

    var count: Int { lock.withLock { entries.count } }
    var totalBytes: Int { lock.withLock { total } }
    func contains(_ hash: String) -> Bool { lock.withLock { entries[hash] != nil } }
}
