import FoundationEssentials
import HiveCore
import NATSWire

extension APIRequest {
    /// The request a `hive.v1.api.VERB` message carries (`verb`, its payload and headers), or why it is not one.
    /// `maxSpecBytes` bounds a submitted goal before it is decoded.
    static func bus(verb: String, payload: [UInt8], headers: NATSHeaders?, maxSpecBytes: Int) -> Result<APIRequest, APIError> {
        let decoder = JSONDecoder()
        func decode<T: Decodable>(_ type: T.Type) -> T? { try? decoder.decode(type, from: Data(payload)) }
        /// A goal verb's `GoalRef`; an unreadable one names no goal, and is answered as an unknown goal.
        func ref() -> Result<GoalRef, APIError> {
            decode(GoalRef.self).map { .success($0) } ?? .failure(APIError(.notFound, "unknown goal ''"))
        }
        switch verb {
        case "submit":
            return APIBody.goalSpec(payload, maxSpecBytes: maxSpecBytes).map { .submit($0, traceparent: headers?["traceparent"]) }
        case "goals": return APIBody.page(payload).map { .goals($0) }
        case "drones": return APIBody.page(payload).map { .drones($0) }
        case "goal": return ref().map { .goal($0.goal) }
        case "tasks": return ref().map { .tasks($0.goal, PageRequest(limit: $0.limit, cursor: $0.cursor)) }
        case "result": return ref().map { .result($0.goal, PageRequest(limit: $0.limit, cursor: $0.cursor)) }
        case "trace": return ref().map { .trace($0.goal) }
        case "cancel": return ref().map { .cancel($0.goal) }
        case "approve", "deny":
            guard let d = decode(ApprovalDecision.self) else {
                return .failure(APIError(.badRequest, "unreadable \(verb) request: send {\"goal\": ID, \"tasks\": [TASK…], \"reason\": TEXT}"))
            }
            return .success(verb == "approve" ? .approve(goal: d.goal, tasks: d.tasks) : .deny(goal: d.goal, tasks: d.tasks, reason: d.reason))
        case "module_add":
            guard let hash = headers?[ModuleTransfer.hashHeader] else { return .success(.moduleAdd(payload)) }
            guard let offset = headers?[ModuleTransfer.offsetHeader].flatMap(Int.init),
                  let size = headers?[ModuleTransfer.sizeHeader].flatMap(Int.init) else {
                return .failure(APIError(.badRequest, "module part: needs integer \(ModuleTransfer.offsetHeader) and \(ModuleTransfer.sizeHeader) headers"))
            }
            return .success(.moduleAddPart(hash: hash, offset: offset, size: size, bytes: payload))
        case "module_get":
            guard let r = decode(ModuleRef.self) else {
                return .failure(APIError(.notFound, "unknown module (add it with hive module add FILE.wasm)"))
            }
            return .success(.moduleGet(module: r.module, offset: r.offset))
        case "module_rm":
            guard let r = decode(ModuleRef.self) else { return .failure(APIError(.badRequest, "module_rm: send {\"module\": SHA256}")) }
            return .success(.moduleRemove(module: r.module))
        case "modules": return .success(.modules)
        case "blob_add":
            // Always in parts (one part for a small blob): the headers name what the raw bytes are.
            guard let blob = headers?[BlobTransfer.hashHeader], let offset = headers?[BlobTransfer.offsetHeader].flatMap(Int.init),
                  let size = headers?[BlobTransfer.sizeHeader].flatMap(Int.init) else {
                return .failure(APIError(.badRequest, "blob part: needs \(BlobTransfer.hashHeader) (sha256:HEX) and integer \(BlobTransfer.offsetHeader) and \(BlobTransfer.sizeHeader) headers"))
            }
            return .success(.blobAddPart(blob: blob, offset: offset, size: size, bytes: payload))
        case "blob_get":
            guard let r = decode(BlobRef.self) else { return .failure(APIError(.badRequest, "blob_get: send {\"blob\": \"sha256:HEX\", \"offset\": N}")) }
            return .success(.blobGet(blob: r.blob, offset: r.offset))
        case "blob_has":
            guard let r = decode(BlobHas.self) else { return .failure(APIError(.badRequest, "blob_has: send {\"blobs\": [\"sha256:HEX\", …]}")) }
            guard r.blobs.count <= BlobHas.maxNames else {
                return .failure(APIError(.badRequest, "blob_has: \(r.blobs.count) names; ask about at most \(BlobHas.maxNames) at once"))
            }
            return .success(.blobHas(r.blobs))
        case "drone_add", "drone_revoke":
            guard let r = decode(DroneAdd.self) else {
                return .failure(APIError(.badRequest, "send {\"name\": NAME, \"tier\": \"edge|worker|core\"}"))
            }
            return .success(verb == "drone_add" ? .droneAdd(name: r.name, tier: r.tier) : .droneRevoke(name: r.name))
        case "status": return .success(.status)
        default: return .failure(APIError(.notFound, "unknown API '\(verb)'"))
        }
    }
}
