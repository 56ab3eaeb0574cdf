import HiveCore
import HiveWasm

/// How much the module store holds at most: total bytes and module count (`modules_max_bytes`,
/// `modules_max_count`), plus the largest single module.
public struct ModuleQuota: Sendable, Equatable {
    public var maxBytes = 256 << 20
    public var maxCount = 1024
    public var maxModuleBytes = 64 << 20
    public init() {}
}

/// Why the module store refused a request (`ContentStoreError` in the module store's words).
typealias ModuleStoreError = ContentStoreError

/// WebAssembly modules honeycombd accepted, by SHA-256: a `ContentStore` under `modules/HASH.wasm` whose items are
/// validated before they are stored (a module that would not load is refused with the reason at `hive module add`,
/// not at run time on a drone; validation compiles the module, so `ControlService` runs it off its actor) and kept in memory once read, so they survive restarts like the goals that name them.
/// Modules can be removed (`remove`) unless a running goal names them (`ControlService`).
final class ModuleStore {
    static let words = ContentWords(noun: "module", directory: "modules", suffix: ".wasm", itemFlag: "",
                                    bytesKey: "modules_max_bytes", bytesFlag: "--modules-max-bytes",
                                    countKey: "modules_max_count", countFlag: "--modules-max-count",
                                    fullHint: "remove modules with hive module rm HASH (hive module ls lists them)",
                                    listHint: "hive module ls lists the stored ones")
    /// The store itself: `ControlService` stores modules through it with the hashing, validation and writing off
    /// its actor (`ControlService.finish`).
    let content: ContentStore
    private var store: ContentStore { content }
    let quota: ModuleQuota
    /// The largest module accepted.
    var maxModuleBytes: Int { quota.maxModuleBytes }
    var totalBytes: Int { store.totalBytes }
    /// Uploads in parts held at once (`ContentStore`'s bound).
    static let uploadsInFlight = ContentStore.uploadsInFlight

    init(dataDirectory: String?, quota: ModuleQuota = ModuleQuota()) {
        self.quota = quota
        content = ContentStore(dataDirectory: dataDirectory, words: Self.words,
                             quota: ContentQuota(maxBytes: quota.maxBytes, maxCount: quota.maxCount, maxItemBytes: quota.maxModuleBytes),
                             validate: { bytes in
                                 do { _ = try ModuleValidator.compile(try ModuleDecoder.decode(bytes)) } catch { return "\(error)" }
                                 return nil
                             })
    }

    convenience init(dataDirectory: String?, maxModuleBytes: Int) {
        var quota = ModuleQuota()
        quota.maxModuleBytes = maxModuleBytes
        self.init(dataDirectory: dataDirectory, quota: quota)
    }

    static func ref(_ r: Result<ContentItem, ContentStoreError>) -> Result<ModuleRef, ModuleStoreError> {
        r.map { ModuleRef(module: $0.hash, size: $0.size, received: $0.received) }
    }

    /// One part of a module sent in parts (`ContentStore.addPart`); validated and stored after the last.
    func addPart(hash: String, offset: Int, size: Int, bytes: [UInt8]) -> Result<ModuleRef, ModuleStoreError> {
        Self.ref(store.addPart(hash: hash, offset: offset, size: size, bytes: bytes))
    }

    /// Validates and stores `bytes`; returns the hash, or why the module is refused.
    func add(_ bytes: [UInt8]) -> Result<ModuleRef, ModuleStoreError> { Self.ref(store.add(bytes)) }

    func get(_ hash: String) -> [UInt8]? { store.get(hash) }

    /// Removes a stored module, from memory and disk.
    func remove(_ hash: String) -> Result<ModuleRef, ModuleStoreError> { Self.ref(store.remove(hash)) }

    /// Every stored module (by hash) and the quota.
    func list() -> ModuleList {
        ModuleList(modules: store.list().map { ModuleList.Entry(module: $0.hash, size: $0.size) },
                   totalBytes: store.totalBytes, maxBytes: quota.maxBytes, maxCount: quota.maxCount)
    }
}

extension ContentStoreError {
    /// A module removal a running goal blocks, in the module store's words.
    static func inUse(module: String, goal: String) -> ContentStoreError {
        ContentStoreError(.inUse(hash: module, goal: goal, how: "cancel it (hive cancel \(goal)) or wait for it to end, then remove the module"),
                          ModuleStore.words)
    }
}
