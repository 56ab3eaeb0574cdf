import FoundationEssentials
import HiveCore
import HiveWasm

/// WebAssembly modules honeycombd accepted, by SHA-256: validated before they are stored (a module that would not
/// load is refused with the reason at `hive module add`, not at run time on a drone), kept in memory and, with a
/// data directory, on disk under `modules/`, so they survive restarts like the goals that name them.
/// Owned by the `ControlService` actor, which serializes every use.
///
/// Modules larger than one bus message arrive in parts (`addPart`), in order; a partial upload is held in memory
/// until its last part, then hashed, validated and stored like a whole one. Partial uploads are bounded in size and
/// number and dropped when idle, so an abandoned upload costs nothing for long.
final class ModuleStore {
    private var modules: [String: [UInt8]] = [:]
    private let directory: String?
    /// The largest module accepted.
    let maxModuleBytes: Int
    private var uploads: [String: Upload] = [:]
    private struct Upload {
        var bytes: [UInt8]
        var size: Int
        var touched: ContinuousClock.Instant
    }
    /// How long a partial upload waits for its next part.
    static let uploadIdle: Duration = .seconds(120)

    init(dataDirectory: String?, maxModuleBytes: Int = 64 << 20) {
        directory = dataDirectory.map { $0 + "/modules" }
        self.maxModuleBytes = maxModuleBytes
        if let directory { try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true) }
    }

    /// One part of a module sent in parts: `bytes` at `offset` of a `size`-byte module whose SHA-256 is `hash`.
    /// Returns the progress (`received`), or the stored module after the last part, or why the part is refused
    /// (out of order, too large, a different size than the upload's first part, or parts that hash otherwise).
    func addPart(hash: String, offset: Int, size: Int, bytes: [UInt8]) -> Result<ModuleRef, APIError> {
        let now = ContinuousClock.now
        uploads = uploads.filter { now - $0.value.touched < Self.uploadIdle }
        guard hash.count == 64, hash.allSatisfy({ $0.isHexDigit && !$0.isUppercase }) else {
            return .failure(APIError("module part: '\(hash)' is not a lowercase hex SHA-256"))
        }
        if get(hash) != nil { return .success(ModuleRef(module: hash, size: size)) }  // stored already: stop sending
        guard size > 0, size <= maxModuleBytes else {
            return .failure(APIError("module refused: \(size) bytes; honeycombd accepts modules up to \(maxModuleBytes) bytes"))
        }
        var upload: Upload
        if offset == 0 {
            let pending = uploads.values.reduce(0) { $0 + $1.size }
            guard pending + size <= 4 * maxModuleBytes else {
                return .failure(APIError("module refused: too many uploads in progress; try again in \(Self.uploadIdle)"))
            }
            upload = Upload(bytes: [], size: size, touched: now)
            upload.bytes.reserveCapacity(size)
        } else {
            guard let u = uploads[hash] else {
                return .failure(APIError("module part at offset \(offset): no upload of \(hash) in progress (start at offset 0)"))
            }
            upload = u
        }
        guard upload.size == size else {
            return .failure(APIError("module part: size \(size) differs from the upload's \(upload.size) (start at offset 0)"))
        }
        guard offset == upload.bytes.count else {
            return .failure(APIError("module part at offset \(offset): expected offset \(upload.bytes.count)"))
        }
        guard offset + bytes.count <= size else {
            uploads[hash] = nil
            return .failure(APIError("module part: \(offset + bytes.count) bytes is past the declared size \(size)"))
        }
        upload.bytes += bytes
        upload.touched = now
        guard upload.bytes.count == size else {
            uploads[hash] = upload
            return .success(ModuleRef(module: hash, size: size, received: upload.bytes.count))
        }
        uploads[hash] = nil
        guard SHA256.hex(upload.bytes) == hash else {
            return .failure(APIError("module refused: the parts' SHA-256 is not \(hash)"))
        }
        return add(upload.bytes)
    }

    /// Validates and stores `bytes`; returns the hash, or why the module is refused.
    func add(_ bytes: [UInt8]) -> Result<ModuleRef, APIError> {
        guard bytes.count <= maxModuleBytes else {
            return .failure(APIError("module refused: \(bytes.count) bytes; honeycombd accepts modules up to \(maxModuleBytes) bytes"))
        }
        do {
            _ = try ModuleValidator.compile(try ModuleDecoder.decode(bytes))
        } catch {
            return .failure(APIError("module refused: \(error)"))
        }
        let hash = SHA256.hex(bytes)
        modules[hash] = bytes
        if let directory {
            let path = directory + "/" + hash + ".wasm"
            if !FileManager.default.fileExists(atPath: path) {
                guard FileManager.default.createFile(atPath: path + ".tmp", contents: Data(bytes)),
                      (try? FileManager.default.moveItem(atPath: path + ".tmp", toPath: path)) != nil else {
                    return .failure(APIError("cannot store the module under \(directory)"))
                }
            }
        }
        return .success(ModuleRef(module: hash, size: bytes.count))
    }

    func get(_ hash: String) -> [UInt8]? {
        if let m = modules[hash] { return m }
        guard let directory, hash.count == 64, hash.allSatisfy(\.isHexDigit),
              let data = FileManager.default.contents(atPath: directory + "/" + hash + ".wasm") else { return nil }
        let bytes = Array(data)
        guard SHA256.hex(bytes) == hash else { return nil }  // a damaged file is no module
        modules[hash] = bytes
        return bytes
    }
}

