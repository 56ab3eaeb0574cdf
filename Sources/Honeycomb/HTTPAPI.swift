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
/// `admit` decides everything the head alone can (credentials, route, method, read-only mode, content type) before
/// the server reads a body, so a refused request costs its headers and nothing more; `handle` answers admitted ones.
///
/// | route | |
/// | --- | --- |
/// | `GET /api/status`, `/api/drones`, `/api/goals` | as `hive status`, `hive drones`, `hive goals` |
/// | `POST /api/goals` | submit a goal (the JSON `hive submit` sends) → 201 `{"goal": ID}` |
/// | `GET /api/goals/ID` | the goal, its answer, ledger, steps and work tasks (`hive result`) |
/// | `GET /api/goals/ID/tasks` | every node of the task tree, forks included |
/// | `GET /api/goals/ID/trace` | the goal's spans (`hive trace`) |
/// | `POST /api/goals/ID/cancel` | cancel |
/// | `GET /api/modules` | stored WebAssembly modules and the store's quota (`hive module ls`) |
/// | `DELETE /api/modules/HASH` | remove a module (`hive module rm`); 409 while a running goal names it |
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

    /// What a request asks for, decided from its method and path alone.
    enum Route: Equatable {
        case health, dashboard, metrics, status, drones, goals, submit, events(allTasks: Bool)
        case goal(String), goalTasks(String), goalTrace(String), cancel(String), goalEvents(String)
        case modules, removeModule(String)

        /// Routes that change something: refused in read-only mode, and their bodies must be JSON.
        var changes: Bool {
            switch self {
            case .submit, .cancel, .removeModule: return true
            default: return false
            }
        }
    }

    /// A request's route, or the refusal (404, 405) to answer instead.
    enum Routing {
        case to(Route)
        case refused(HTTPResponse)
    }

    /// Decides from the head alone (no body read yet): nil admits the request; otherwise the refusal to send
    /// (401 without credentials, 404/405 for no such route or method, 403 read-only, 415 not JSON).
    public func admit(_ head: HTTPRequest) -> HTTPResponse? {
        if head.path == "/healthz" { return nil }
        guard auth.allows(head) else {
            return .error(401, "authentication required: Authorization: Bearer TOKEN (or Basic for user/password)",
                          headers: [("WWW-Authenticate", "Bearer realm=\"hive\"")])
        }
        switch route(head) {
        case .refused(let refusal): return refusal
        case .to(let route): return route.changes ? writable(head) : nil
        }
    }

    /// The route for a request's method and path, or the 404/405 to answer.
    func route(_ r: HTTPRequest) -> Routing {
        let path = r.path
        let parts = path.split(separator: "/", omittingEmptySubsequences: true).map(String.init)
        func only(_ methods: String..., route: Route) -> Routing {
            let allowed = methods + (methods.contains("GET") ? ["HEAD"] : [])
            guard allowed.contains(r.method) else {
                return .refused(.error(405, "\(r.method) is not allowed on \(path)", headers: [("Allow", allowed.joined(separator: ", "))]))
            }
            return .to(route)
        }
        let read = r.method == "GET" || r.method == "HEAD"
        switch parts {
        case ["healthz"]: return .to(.health)
        case []: return only("GET", route: .dashboard)
        case ["metrics"]: return only("GET", route: .metrics)
        case ["api", "status"]: return only("GET", route: .status)
        case ["api", "drones"]: return only("GET", route: .drones)
        case ["api", "goals"]: return only("GET", "POST", route: read ? .goals : .submit)
        case ["api", "events"]: return only("GET", route: .events(allTasks: r.query["tasks"] == "all"))
        case ["api", "modules"]: return only("GET", route: .modules)
        case let p where p.count == 3 && p[0] == "api" && p[1] == "modules": return only("DELETE", route: .removeModule(p[2]))
        case let p where p.count == 3 && p[0] == "api" && p[1] == "goals": return only("GET", route: .goal(p[2]))
        case let p where p.count == 4 && p[0] == "api" && p[1] == "goals":
            switch p[3] {
            case "tasks": return only("GET", route: .goalTasks(p[2]))
            case "trace": return only("GET", route: .goalTrace(p[2]))
            case "cancel": return only("POST", route: .cancel(p[2]))
            case "events": return only("GET", route: .goalEvents(p[2]))
            default: break
            }
        default: break
        }
        return .refused(.error(404, "no route for \(path)"))
    }

    public func handle(_ r: HTTPRequest) async -> HTTPReply {
        if let refused = admit(r) { return .response(refused) }
        guard case .to(let route) = route(r) else { return .response(.error(404, "no route for \(r.path)")) }
        func ref(_ goal: String) -> [UInt8] { Array((try? JSONEncoder().encode(GoalRef(goal: goal))) ?? Data()) }
        switch route {
        case .health: return .response(.text(200, "ok\n"))
        case .dashboard: return .response(.text(200, Dashboard.html, contentType: "text/html; charset=utf-8"))
        case .metrics:
            let text = await service.metrics() + extraMetrics()
            return .response(.text(200, text, contentType: "text/plain; version=0.0.4; charset=utf-8"))
        case .status: return await call("status", [])
        case .drones:
            guard let page = Self.page(r) else { return Self.badPage }
            return await call("drones", Array((try? JSONEncoder().encode(page)) ?? Data()))
        case .goals:
            guard let page = Self.page(r) else { return Self.badPage }
            return await call("goals", Array((try? JSONEncoder().encode(page)) ?? Data()))
        case .submit:
            let trace = r.header("traceparent").map { ["traceparent": $0] as NATSHeaders }
            return await call("submit", r.body, headers: trace, created: true)
        case .events(let allTasks):
            guard let stream = await service.events(goal: nil, allTasks: allTasks) else { return .response(.error(404, "no events")) }
            return .events(stream)
        case .goal(let goal): return await paged("result", goal, r)
        case .goalTasks(let goal): return await paged("tasks", goal, r)
        case .goalTrace(let goal): return await paged("trace", goal, r)
        case .cancel(let goal): return await call("cancel", ref(goal))
        case .goalEvents(let goal):
            guard let stream = await service.events(goal: goal) else { return .response(.error(404, "unknown goal '\(goal)'")) }
            return .events(stream)
        case .modules: return await call("modules", [])
        case .removeModule(let hash):
            return await call("module_rm", Array((try? JSONEncoder().encode(ModuleRef(module: hash))) ?? Data()))
        }
    }

    /// Refuses changes in read-only mode and bodies that are not JSON.
    private func writable(_ r: HTTPRequest) -> HTTPResponse? {
        if readOnly { return .error(403, "this honeycombd serves HTTP read-only (--http-read-only)") }
        if let type = r.header("Content-Type"), !type.lowercased().hasPrefix("application/json") {
            return .error(415, "send JSON (Content-Type: application/json), not \(type)")
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
    /// A goal verb with the request's `limit`/`cursor` (pages of a goal's tasks).
    private func paged(_ verb: String, _ goal: String, _ r: HTTPRequest) async -> HTTPReply {
        guard let page = Self.page(r) else { return Self.badPage }
        return await call(verb, Array((try? JSONEncoder().encode(GoalRef(goal: goal, limit: page.limit, cursor: page.cursor))) ?? Data()))
    }

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
