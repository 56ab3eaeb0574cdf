#if canImport(Glibc)
import Glibc
#endif
import FoundationEssentials
import HiveCore
import HiveLog
import HiveWasm

/// How much the module store holds at most: total bytes and module count (`modules_max_bytes`,
/// `modules_max_count`), plus the largest single module.
public struct ModuleQuota: Sendable, Equatable {
    public var maxBytes = 256 << 20
    public var maxCount = 1024
    public var maxModuleBytes = 64 << 20
    public init() {}
}

/// WebAssembly modules honeycombd accepted, by SHA-256: validated before they are stored (a module that would not
/// load is refused with the reason at `hive module add`, not at run time on a drone), kept in memory and, with a
/// data directory, on disk under `modules/`, so they survive restarts like the goals that name them.
/// Owned by the `ControlService` actor, which serializes every use.
///
/// Bounded by a `ModuleQuota` (total bytes and count, the modules on disk from earlier runs included: they are
/// indexed at start-up), and modules can be removed (`remove`), from disk too.
///
/// Modules larger than one bus message arrive in parts (`addPart`), in order; a partial upload is held in memory
/// until its last part, then hashed, validated and stored like a whole one. Partial uploads are bounded in size and
/// number and dropped when idle, so an abandoned upload costs nothing for long; one that would not fit the quota
/// is refused at its first part.
final class ModuleStore {
    /// Module bytes read so far (from uploads, or from disk on first use).
    private var loaded: [String: [UInt8]] = [:]
    /// Every stored module's size, by hash: what the quota counts.
    private var sizes: [String: Int] = [:]
    private(set) var totalBytes = 0
    private let directory: String?
    let quota: ModuleQuota
    /// The largest module accepted.
    var maxModuleBytes: Int { quota.maxModuleBytes }
    private var uploads: [String: Upload] = [:]
    private struct Upload {
        var bytes: [UInt8]
        var size: Int
        var touched: ContinuousClock.Instant
    }
    /// How long a partial upload waits for its next part.
    static let uploadIdle: Duration = .seconds(120)
    /// Uploads in parts held at once; past it the one idle longest is dropped for a newcomer.
    static let uploadsInFlight = 16

    init(dataDirectory: String?, quota: ModuleQuota = ModuleQuota()) {
        directory = dataDirectory.map { $0 + "/modules" }
        self.quota = quota
        guard let directory else { return }
        let files = FileManager.default
        try? files.createDirectory(atPath: directory, withIntermediateDirectories: true)
        for name in (try? files.contentsOfDirectory(atPath: directory)) ?? [] {
            let path = directory + "/" + name
            if name.hasSuffix(".tmp") {  // a write cut short by a crash
                try? files.removeItem(atPath: path)
                continue
            }
            var info = stat()
            guard name.hasSuffix(".wasm"), Self.isHash(String(name.dropLast(5))), stat(path, &info) == 0 else { continue }
            let size = Int(info.st_size)
            sizes[String(name.dropLast(5))] = size
            totalBytes += size
        }
        if sizes.count > quota.maxCount || totalBytes > quota.maxBytes {
            Log("modules").warn("over_quota", ["modules": sizes.count, "bytes": totalBytes, "max_count": quota.maxCount,
                                               "max_bytes": quota.maxBytes, "effect": "new modules are refused until some are removed"])
        }
    }

    convenience init(dataDirectory: String?, maxModuleBytes: Int) {
        var quota = ModuleQuota()
        quota.maxModuleBytes = maxModuleBytes
        self.init(dataDirectory: dataDirectory, quota: quota)
    }

    static func isHash(_ s: String) -> Bool {
        s.utf8.count == 64 && s.utf8.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) }
    }

    /// Why storing one more module of `size` bytes would break the quota, if it would.
    private func quotaRefusal(adding size: Int) -> ModuleStoreError? {
        if sizes.count >= quota.maxCount { return .overCount(stored: sizes.count, limit: quota.maxCount) }
        if totalBytes + size > quota.maxBytes { return .overBytes(stored: totalBytes, adding: size, limit: quota.maxBytes) }
        return nil
    }

    /// One part of a module sent in parts: `bytes` at `offset` of a `size`-byte module whose SHA-256 is `hash`.
    /// Returns the progress (`received`), or the stored module after the last part, or why the part is refused
    /// (out of order, too large, over the quota, a different size than the upload's first part, or parts that
    /// hash otherwise).
    func addPart(hash: String, offset: Int, size: Int, bytes: [UInt8]) -> Result<ModuleRef, ModuleStoreError> {
        let now = ContinuousClock.now
        uploads = uploads.filter { now - $0.value.touched < Self.uploadIdle }
        guard Self.isHash(hash) else { return .failure(.notAHash(hash)) }
        if sizes[hash] != nil { return .success(ModuleRef(module: hash, size: size)) }  // stored already: stop sending
        guard size > 0, size <= maxModuleBytes else { return .failure(.tooLarge(size: size, limit: maxModuleBytes)) }
        var upload: Upload
        if offset == 0 {
            if let refusal = quotaRefusal(adding: size) { return .failure(refusal) }
            // Declared sizes cost nothing to claim: what is held is what was received. Past the number of uploads
            // in flight, the one idle longest makes room (a client that claims slots and stalls cannot lock others out).
            uploads[hash] = nil
            while uploads.count >= Self.uploadsInFlight, let stalest = uploads.min(by: { $0.value.touched < $1.value.touched }) {
                uploads[stalest.key] = nil
            }
            upload = Upload(bytes: [], size: size, touched: now)
        } else {
            guard let u = uploads[hash] else { return .failure(.noUpload(hash: hash, offset: offset)) }
            upload = u
        }
        guard upload.size == size else { return .failure(.sizeMismatch(size: size, upload: upload.size)) }
        guard offset == upload.bytes.count else { return .failure(.outOfOrder(offset: offset, expected: upload.bytes.count)) }
        guard bytes.count <= size - offset else {
            uploads[hash] = nil
            return .failure(.pastDeclaredSize(end: offset &+ bytes.count, size: size))
        }
        // Bytes held for all uploads stay under four modules' worth: the idlest others make room, else this part waits.
        var held = uploads.values.reduce(0) { $0 + $1.bytes.count } - (uploads[hash]?.bytes.count ?? 0) + upload.bytes.count
        while held + bytes.count > 4 * maxModuleBytes,
              let stalest = uploads.filter({ $0.key != hash }).min(by: { $0.value.touched < $1.value.touched }) {
            held -= stalest.value.bytes.count
            uploads[stalest.key] = nil
        }
        guard held + bytes.count <= 4 * maxModuleBytes else { return .failure(.tooManyUploads(retryAfter: Self.uploadIdle)) }
        upload.bytes += bytes
        upload.touched = now
        guard upload.bytes.count == size else {
            uploads[hash] = upload
            return .success(ModuleRef(module: hash, size: size, received: upload.bytes.count))
        }
        uploads[hash] = nil
        guard SHA256.hex(upload.bytes) == hash else { return .failure(.hashMismatch(hash)) }
        return add(upload.bytes)
    }

    /// Validates and stores `bytes`; returns the hash, or why the module is refused.
    func add(_ bytes: [UInt8]) -> Result<ModuleRef, ModuleStoreError> {
        guard bytes.count <= maxModuleBytes else { return .failure(.tooLarge(size: bytes.count, limit: maxModuleBytes)) }
        let hash = SHA256.hex(bytes)
        if sizes[hash] != nil { return .success(ModuleRef(module: hash, size: bytes.count)) }  // stored already
        if let refusal = quotaRefusal(adding: bytes.count) { return .failure(refusal) }
        do {
            _ = try ModuleValidator.compile(try ModuleDecoder.decode(bytes))
        } catch {
            return .failure(.invalid("\(error)"))
        }
        if let directory {
            let path = directory + "/" + hash + ".wasm"
            guard FileManager.default.createFile(atPath: path + ".tmp", contents: Data(bytes)) else {
                return .failure(.cannotStore(directory: directory, reason: "cannot write \(path).tmp"))
            }
            do {
                if FileManager.default.fileExists(atPath: path) { try FileManager.default.removeItem(atPath: path) }
                try FileManager.default.moveItem(atPath: path + ".tmp", toPath: path)
            } catch {
                return .failure(.cannotStore(directory: directory, reason: "\(error)"))
            }
        }
        loaded[hash] = bytes
        sizes[hash] = bytes.count
        totalBytes += bytes.count
        return .success(ModuleRef(module: hash, size: bytes.count))
    }

    func get(_ hash: String) -> [UInt8]? {
        guard sizes[hash] != nil else { return nil }
        if let m = loaded[hash] { return m }
        guard let directory, let data = FileManager.default.contents(atPath: directory + "/" + hash + ".wasm") else { return nil }
        let bytes = Array(data)
        guard SHA256.hex(bytes) == hash else { return nil }  // a damaged file is no module
        loaded[hash] = bytes
        return bytes
    }

    /// Removes a stored module, from memory and disk.
    func remove(_ hash: String) -> Result<ModuleRef, ModuleStoreError> {
        guard Self.isHash(hash) else { return .failure(.notAHash(hash)) }
        guard let size = sizes[hash] else { return .failure(.unknown(hash)) }
        if let directory {
            let path = directory + "/" + hash + ".wasm"
            do { try FileManager.default.removeItem(atPath: path) } catch {
                if FileManager.default.fileExists(atPath: path) {
                    return .failure(.cannotStore(directory: directory, reason: "cannot remove \(path): \(error)"))
                }
            }
        }
        sizes[hash] = nil
        loaded[hash] = nil
        totalBytes -= size
        return .success(ModuleRef(module: hash, size: size))
    }

    /// Every stored module (by hash) and the quota.
    func list() -> ModuleList {
        ModuleList(modules: sizes.sorted { $0.key < $1.key }.map { ModuleList.Entry(module: $0.key, size: $0.value) },
                   totalBytes: totalBytes, maxBytes: quota.maxBytes, maxCount: quota.maxCount)
    }
}
