import FoundationEssentials
import HiveCore
import HiveHTTP
import NATSWire

/// Who may use the HTTP API: the broker's credentials when honeycombd has them (a token as
/// `Authorization: Bearer TOKEN`; a user and password as HTTP Basic), else anyone who can reach the port.
/// Browsers' `EventSource` cannot set headers, so `?access_token=` is accepted too.
public enum HTTPAuth: Sendable, Equatable {
    case none
    case token(String)
    case userPassword(user: String, password: String)

    func allows(_ r: HTTPRequest) -> Bool {
        if self == .none { return true }
        let header = r.header("Authorization") ?? ""
        let query = r.query["access_token"]
        switch self {
        case .none:
            return true
        case .token(let t):
            return Self.same(header, "Bearer " + t) || query.map { Self.same($0, t) } == true
        case .userPassword(let u, let p):
            let basic = "Basic " + Data("\(u):\(p)".utf8).base64EncodedString()
            return Self.same(header, basic) || query.map { Self.same($0, "\(u):\(p)") } == true
        }
    }

    /// Compares without an early exit, so the time taken says nothing about where a guess went wrong.
    static func same(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8), y = Array(b.utf8)
        var diff = x.count ^ y.count
        for i in 0..<Swift.min(x.count, y.count) { diff |= Int(x[i] ^ y[i]) }
        return diff == 0
    }
}

/// honeycombd's HTTP routes: the same calls the bus API serves (`ControlService.api`), event streams,
/// Prometheus metrics and the dashboard. Every error is JSON (`{"error": "..."}`) with a 4xx status; nothing a
/// request does reaches the broker or the scheduler except through the API calls themselves.
///
/// | route | |
/// | --- | --- |
/// | `GET /api/status`, `/api/drones`, `/api/goals` | as `hive status`, `hive drones`, `hive goals` |
/// | `POST /api/goals` | submit a goal (the JSON `hive submit` sends) → 201 `{"goal": ID}` |
/// | `GET /api/goals/ID` | the goal, its answer, ledger, steps and work tasks (`hive result`) |
/// | `GET /api/goals/ID/tasks` | every node of the task tree, forks included |
/// | `GET /api/goals/ID/trace` | the goal's spans (`hive trace`) |
/// | `POST /api/goals/ID/cancel` | cancel |
/// | `GET /api/events[?tasks=all]`, `/api/goals/ID/events` | Server-Sent Events: a snapshot, then live changes (goal-level globally unless `tasks=all`; a goal's stream has its tasks) |
/// | `GET /metrics` | Prometheus text |
/// | `?limit=N&cursor=C` | on `/api/goals`, `/api/drones`, `/api/goals/ID` (its tasks) and `/api/goals/ID/tasks`: one page (`Paging`); a `Hive-Next-Cursor` header names the next |
/// | `GET /healthz` | `ok` (no auth: for load balancers and systemd checks) |
/// | `GET /` | the dashboard |
public struct HTTPAPI: Sendable {
    let service: ControlService
    let auth: HTTPAuth
    let readOnly: Bool
    /// More metrics to append (the embedded broker's), computed at scrape time.
    let extraMetrics: @Sendable () -> String

    public func handle(_ r: HTTPRequest) async -> HTTPReply {
        let path = r.path
        if path == "/healthz" { return .response(.text(200, "ok\n")) }
        guard auth.allows(r) else {
            return .response(.error(401, "authentication required: Authorization: Bearer TOKEN (or Basic for user/password)",
                                    headers: [("WWW-Authenticate", "Bearer realm=\"hive\"")]))
        }
        let parts = path.split(separator: "/", omittingEmptySubsequences: true).map(String.init)
        let read = r.method == "GET" || r.method == "HEAD"
        func only(_ methods: String...) -> HTTPReply? {
            let allowed = methods + (methods.contains("GET") ? ["HEAD"] : [])
            guard !allowed.contains(r.method) else { return nil }
            return .response(.error(405, "\(r.method) is not allowed on \(path)", headers: [("Allow", allowed.joined(separator: ", "))]))
        }
        switch parts {
        case []:
            if let refused = only("GET") { return refused }
            return .response(.text(200, Dashboard.html, contentType: "text/html; charset=utf-8"))
        case ["metrics"]:
            if let refused = only("GET") { return refused }
            let text = await service.metrics() + extraMetrics()
            return .response(.text(200, text, contentType: "text/plain; version=0.0.4; charset=utf-8"))
        case ["api", "status"]:
            if let refused = only("GET") { return refused }
            return await call(parts[1], [])
        case ["api", "drones"]:
            if let refused = only("GET") { return refused }
            guard let page = Self.page(r) else { return Self.badPage }
            return await call(parts[1], Array((try? JSONEncoder().encode(page)) ?? Data()))
        case ["api", "goals"]:
            if let refused = only("GET", "POST") { return refused }
            if read {
                guard let page = Self.page(r) else { return Self.badPage }
                return await call("goals", Array((try? JSONEncoder().encode(page)) ?? Data()))
            }
            if let refused = writable(r) { return refused }
            let trace = r.header("traceparent").map { ["traceparent": $0] as NATSHeaders }
            return await call("submit", r.body, headers: trace, created: true)
        case ["api", "events"]:
            if let refused = only("GET") { return refused }
            guard let stream = await service.events(goal: nil, allTasks: r.query["tasks"] == "all") else {
                return .response(.error(404, "no events"))
            }
            return .events(stream)
        default:
            break
        }
        guard parts.count >= 3, parts[0] == "api", parts[1] == "goals" else { return .response(.error(404, "no route for \(path)")) }
        let goal = parts[2]
        guard let page = Self.page(r) else { return Self.badPage }
        let ref = Array((try? JSONEncoder().encode(GoalRef(goal: goal, limit: page.limit, cursor: page.cursor))) ?? Data())
        switch parts.count == 4 ? parts[3] : "" {
        case "" where parts.count == 3:
            if let refused = only("GET") { return refused }
            return await call("result", ref)
        case "tasks", "trace":
            if let refused = only("GET") { return refused }
            return await call(parts[3], ref)
        case "cancel":
            if let refused = only("POST") { return refused }
            if let refused = writable(r) { return refused }
            return await call("cancel", ref)
        case "events":
            if let refused = only("GET") { return refused }
            guard let stream = await service.events(goal: goal) else { return .response(.error(404, "unknown goal '\(goal)'")) }
            return .events(stream)
        default:
            return .response(.error(404, "no route for \(path)"))
        }
    }

    /// Refuses changes in read-only mode and bodies that are not JSON.
    private func writable(_ r: HTTPRequest) -> HTTPReply? {
        if readOnly { return .response(.error(403, "this honeycombd serves HTTP read-only (--http-read-only)")) }
        if let type = r.header("Content-Type"), !type.lowercased().hasPrefix("application/json") {
            return .response(.error(415, "send JSON (Content-Type: application/json), not \(type)"))
        }
        return nil
    }

    private func call(_ verb: String, _ payload: [UInt8], headers: NATSHeaders? = nil, created: Bool = false) async -> HTTPReply {
        let answer = await service.api(verb, payload: payload, headers: headers)
        let status = answer.status == 200 && created ? 201 : answer.status
        let next = answer.headers?[Paging.cursorHeader].map { [(name: Paging.cursorHeader, value: $0)] } ?? []
        return .response(.json(status, answer.body, headers: next))
    }

    /// `?limit=N&cursor=C` of the list routes (`Paging`), or nil when `limit` is not a number.
    static func page(_ r: HTTPRequest) -> PageRequest? {
        var page = PageRequest(cursor: r.query["cursor"])
        if let text = r.query["limit"] {
            guard let n = Int(text) else { return nil }
            page.limit = n
        }
        return page
    }

    static let badPage = HTTPReply.response(.error(400, "limit must be a number (1 to \(Paging.maxLimit))"))
}
