import FoundationEssentials
import HiveCore

/// One call of honeycombd's API, whichever transport brought it: the bus (`hive.v1.api.VERB`, decoded by
/// `APIRequest.init(verb:payload:headers:limits:)`) or HTTP (`HTTPAPI`, from method, path and body). The service
/// answers it in one place (`ControlService.handle`), so neither transport re-encodes a request for the other.
/// Decoding checks what the request alone can show (readable JSON, the spec's size and nesting); the service
/// checks the rest against its state (unknown goals, paging past the end, nothing awaiting approval).
enum APIRequest: Sendable {
    /// A goal; `traceparent` is the submitter's trace (a header on either transport), if it sent one.
    case submit(GoalSpec, traceparent: String?)
    case goals(PageRequest)
    /// A goal's summary, with why its pending tasks wait.
    case goal(GoalID)
    /// One page of every node of a goal's task tree.
    case tasks(GoalID, PageRequest)
    /// A goal's outcome with one page of its work tasks.
    case result(GoalID, PageRequest)
    case trace(GoalID)
    case cancel(GoalID)
    /// `tasks` nil or empty: every task of the goal that awaits approval.
    case approve(goal: GoalID, tasks: [TaskID]?)
    case deny(goal: GoalID, tasks: [TaskID]?, reason: String?)
    /// A whole WebAssembly module.
    case moduleAdd([UInt8])
    /// One part of a module too large for one bus message (`ModuleTransfer`).
    case moduleAddPart(hash: String, offset: Int, size: Int, bytes: [UInt8])
    /// A module's bytes from `offset` (as many as one bus message carries).
    case moduleGet(module: String, offset: Int?)
    case moduleRemove(module: String)
    case modules
    /// One part of a blob (`BlobTransfer`): a task input or output too large (or too binary) for one message.
    case blobAddPart(blob: String, offset: Int, size: Int, bytes: [UInt8])
    /// A blob's bytes from `offset` (as many as one bus message carries).
    case blobGet(blob: String, offset: Int?)
    /// Which of these blobs honeycombd holds.
    case blobHas([String])
    case droneAdd(name: String, tier: Tier?)
    case droneRevoke(name: String)
    case drones(PageRequest)
    case status

    /// The verb's name on the bus (`hive.v1.api.<verb>`), for logs and messages.
    var verb: String {
        switch self {
        case .submit: return "submit"
        case .goals: return "goals"
        case .goal: return "goal"
        case .tasks: return "tasks"
        case .result: return "result"
        case .trace: return "trace"
        case .cancel: return "cancel"
        case .approve: return "approve"
        case .deny: return "deny"
        case .moduleAdd, .moduleAddPart: return "module_add"
        case .moduleGet: return "module_get"
        case .moduleRemove: return "module_rm"
        case .modules: return "modules"
        case .blobAddPart: return "blob_add"
        case .blobGet: return "blob_get"
        case .blobHas: return "blob_has"
        case .droneAdd: return "drone_add"
        case .droneRevoke: return "drone_revoke"
        case .drones: return "drones"
        case .status: return "status"
        }
    }
}

/// A successful API reply: its body (JSON, or a module's bytes for `module_get`) and what travels beside it as
/// headers on either transport.
struct APIReply: Sendable {
    var body: [UInt8]
    /// A list's next page (`Paging.cursorHeader`); nil on the last page and for everything that is not a list.
    var nextCursor: String?
    /// `module_get`: the module's whole size (`ModuleTransfer.sizeHeader`).
    var moduleSize: Int?
    /// `blob_get`: the blob's whole size (`BlobTransfer.sizeHeader`); a reply without it is an error.
    var blobSize: Int?

    init(body: [UInt8], nextCursor: String? = nil, moduleSize: Int? = nil, blobSize: Int? = nil) {
        self.body = body
        self.nextCursor = nextCursor
        self.moduleSize = moduleSize
        self.blobSize = blobSize
    }

    /// The headers that go with the body, in a fixed order.
    var headers: [(name: String, value: String)] {
        var h: [(name: String, value: String)] = []
        if let nextCursor { h.append((Paging.cursorHeader, nextCursor)) }
        if let moduleSize { h.append((ModuleTransfer.sizeHeader, String(moduleSize))) }
        if let blobSize { h.append((BlobTransfer.sizeHeader, String(blobSize))) }
        return h
    }
}

/// Request bodies both transports send the same way, decoded once.
enum APIBody {
    /// A goal spec, bounded before decoding: its size (`max_spec_bytes`), and the nesting a recursive decoder would
    /// follow (`SpecLimits.jsonNesting`).
    static func goalSpec(_ payload: [UInt8], maxSpecBytes: Int) -> Result<GoalSpec, APIError> {
        if payload.count > maxSpecBytes {
            return .failure(APIError(.tooLarge, SubmitError.violation(.tooLarge(bytes: payload.count, limit: maxSpecBytes)).description))
        }
        if JSONNesting.exceeds(payload, limit: SpecLimits.jsonNesting) {
            return .failure(APIError(.badRequest, SubmitError.violation(.nestedTooDeep(limit: SpecLimits.jsonNesting)).description))
        }
        do { return .success(try JSONDecoder().decode(GoalSpec.self, from: Data(payload))) } catch {
            return .failure(APIError(.badRequest, "unreadable goal: \(error)"))
        }
    }

    /// A list verb's page request: empty (or only white space) for the first page.
    static func page(_ payload: [UInt8]) -> Result<PageRequest, APIError> {
        if payload.allSatisfy({ $0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09 }) { return .success(PageRequest()) }
        guard let page = try? JSONDecoder().decode(PageRequest.self, from: Data(payload)) else {
            return .failure(APIError(.badRequest, "unreadable page request: send {\"limit\": N, \"cursor\": C}"))
        }
        return .success(page)
    }
}

/// An API request's answer as applied to the state, before the journal holds what it says (`ControlService.apply`):
/// sent once the journal is durable up to `after` (nil: at once). When the journal cannot make it so in time the
/// answer is sent all the same, save a submit's: that one becomes "unavailable", naming `unacknowledged`.
struct APIAnswer: Sendable {
    var outcome: Result<APIReply, APIError>
    /// The journal sequence that must be durable before the answer is sent; nil: nothing to wait for.
    var after: UInt64?
    /// The goal a submit accepted: its reply says so only once the journal holds it.
    var unacknowledged: GoalID?

    init(outcome: Result<APIReply, APIError>, after: UInt64?, unacknowledged: GoalID? = nil) {
        (self.outcome, self.after, self.unacknowledged) = (outcome, after, unacknowledged)
    }

    /// An answer sent at once.
    static func now(_ outcome: Result<APIReply, APIError>) -> APIAnswer { APIAnswer(outcome: outcome, after: nil) }
}
