import FoundationEssentials
import HiveCore
import HiveWasm

/// WebAssembly modules honeycombd accepted, by SHA-256: validated before they are stored (a module that would not
/// load is refused with the reason at `hive module add`, not at run time on a drone), kept in memory and, with a
/// data directory, on disk under `modules/`, so they survive restarts like the goals that name them.
/// Owned by the `ControlService` actor, which serializes every use.
final class ModuleStore {
    private var modules: [String: [UInt8]] = [:]
    private let directory: String?

    init(dataDirectory: String?) {
        directory = dataDirectory.map { $0 + "/modules" }
        if let directory { try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true) }
    }

    /// Validates and stores `bytes`; returns the hash, or why the module is refused.
    func add(_ bytes: [UInt8]) -> Result<ModuleRef, APIError> {
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

