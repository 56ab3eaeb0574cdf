import HiveCore

/// Why the module store refused a request, worded so the user can act on it (limits are named with their flag).
enum ModuleStoreError: Error, Equatable, Sendable, CustomStringConvertible {
    case notAHash(String)
    case tooLarge(size: Int, limit: Int)
    case tooManyUploads(retryAfter: Duration)
    case noUpload(hash: String, offset: Int)
    case sizeMismatch(size: Int, upload: Int)
    case outOfOrder(offset: Int, expected: Int)
    case pastDeclaredSize(end: Int, size: Int)
    case hashMismatch(String)
    case invalid(String)
    case cannotStore(directory: String, reason: String)
    /// Storing `adding` more bytes would pass `modules_max_bytes`.
    case overBytes(stored: Int, adding: Int, limit: Int)
    /// The store already holds `modules_max_count` modules.
    case overCount(stored: Int, limit: Int)
    case unknown(String)
    /// A goal that is still running names the module.
    case inUse(module: String, goal: String)

    /// What kind of refusal it is (the HTTP edge makes it a status; the bus carries only the message).
    var kind: APIError.Kind {
        switch self {
        case .unknown: return .notFound
        case .inUse: return .conflict
        case .overBytes, .overCount: return .storageFull
        default: return .badRequest
        }
    }

    var description: String {
        switch self {
        case .notAHash(let h): return "module: '\(h.prefix(80))' is not a lowercase hex SHA-256"
        case .tooLarge(let size, let limit): return "module refused: \(size) bytes; honeycombd accepts modules up to \(limit) bytes"
        case .tooManyUploads(let after): return "module refused: too many uploads in progress; try again in \(after)"
        case .noUpload(let hash, let offset): return "module part at offset \(offset): no upload of \(hash) in progress (start at offset 0)"
        case .sizeMismatch(let size, let upload): return "module part: size \(size) differs from the upload's \(upload) (start at offset 0)"
        case .outOfOrder(let offset, let expected): return "module part at offset \(offset): expected offset \(expected)"
        case .pastDeclaredSize(let end, let size): return "module part: \(end) bytes is past the declared size \(size)"
        case .hashMismatch(let hash): return "module refused: the parts' SHA-256 is not \(hash)"
        case .invalid(let why): return "module refused: \(why)"
        case .cannotStore(let dir, let why): return "cannot store the module under \(dir): \(why)"
        case .overBytes(let stored, let adding, let limit):
            return "module refused: storing its \(adding) bytes would make \(stored + adding) bytes of modules, over modules_max_bytes \(limit) "
                + "(--modules-max-bytes); remove modules with hive module rm HASH (hive module ls lists them)"
        case .overCount(let stored, let limit):
            return "module refused: the store holds \(stored) modules, modules_max_count is \(limit) (--modules-max-count); "
                + "remove modules with hive module rm HASH (hive module ls lists them)"
        case .unknown(let hash): return "unknown module '\(hash.prefix(80))' (hive module ls lists the stored ones)"
        case .inUse(let module, let goal):
            return "module \(module) is named by goal \(goal), which is still running; cancel it (hive cancel \(goal)) or wait for it to end, then remove the module"
        }
    }
}
