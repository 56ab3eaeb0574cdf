import FoundationEssentials
import HiveCore
import HiveHTTP
import HiveLog
import HiveSystem
import NATSWire

/// honeycombd's HTTP routes: the same calls the bus API serves (each route decoded into an `APIRequest` and
/// answered by `ControlService.handle`), event streams, Prometheus metrics and the dashboard. Every error is JSON
/// (`{"error": "..."}`) with a 4xx status (an `APIError`'s kind becomes its status here, in `APIError.Kind.httpStatus`,
/// and nowhere else); nothing a request does reaches the broker or the scheduler except through the API calls.
///
/// `admit` decides everything the head alone can before the server reads a body, so a refused request costs its
/// headers and nothing more; `handle` answers admitted ones. In order: `Host` and `Origin` (`HostPolicy`: DNS
/// rebinding, cross-site pages; 421/403), credentials (401; public routes need none), route and method (404/405),
/// `Content-Type: application/json` on every POST and DELETE (415), the principal's role (403 for an observer's
/// change), a browser session's CSRF token on every POST and DELETE (403), read-only mode (403).
///
/// | route | |
/// | --- | --- |
/// | `GET /api/status`, `/api/drones`, `/api/goals` | as `hive status`, `hive drones`, `hive goals` |
/// | `POST /api/goals` | submit a goal (the JSON `hive submit` sends) → 201 `{"goal": ID}` |
/// | `GET /api/goals/ID` | the goal, its answer, ledger, steps and work tasks (`hive result`) |
/// | `GET /api/goals/ID/tasks` | every node of the task tree, forks included |
/// | `GET /api/goals/ID/trace` | the goal's spans (`hive trace`) |
/// | `POST /api/goals/ID/cancel` | cancel |
/// | `POST /api/goals/ID/approve`, `/deny` | `{"tasks": [TASK…], "reason": TEXT}` (no tasks: every task awaiting approval); recorded as the caller's decision |
/// | `GET /api/modules` | stored WebAssembly modules and the store's quota (`hive module ls`) |
/// | `DELETE /api/modules/HASH` | remove a module (`hive module rm`); 409 while a running goal names it |
/// | `GET /api/events[?tasks=all]`, `/api/goals/ID/events` | Server-Sent Events: a snapshot, then live changes (goal-level globally unless `tasks=all`; a goal's stream has its tasks) |
/// | `GET /api/session` | who the caller is: `{"principal", "role", "csrf"}` (`csrf`: the token a browser session echoes in `X-Hive-CSRF`) |
/// | `POST /login` | `{"token": T}` or `{"user": U, "pass": P}` → a session cookie (no credentials needed) |
/// | `POST /logout` | ends the browser session |
/// | `GET /metrics` | Prometheus text |
/// | `?limit=N&cursor=C` | on `/api/goals`, `/api/drones`, `/api/goals/ID` (its tasks) and `/api/goals/ID/tasks`: one page (`Paging`); a `Hive-Next-Cursor` header names the next |
/// | `GET /healthz` | `ok` (no auth, no `Host` check: for load balancers and systemd checks) |
/// | `GET /` | the dashboard, or its login form when credentials are needed and the browser has no session |
/// | `GET /assets/NAME` | the dashboard's script and style (no auth: the same text in every binary) |
public struct HTTPAPI: Sendable {
    let service: ControlService
    let auth: HTTPAuth
    let readOnly: Bool
    let hosts: HostPolicy
    let sessions: SessionStore<HTTPPrincipal>
    /// More metrics to append (the embedded broker's), computed at scrape time.
    let extraMetrics: @Sendable () -> String
    /// Served over HTTPS: the session cookie is `Secure`.
    let overTLS: Bool
    private let log = Log("http")
    private let refusals = LogThrottle(intervalMillis: 1_000)
    private let failedLogins = LogThrottle(intervalMillis: 1_000)

    /// The browser session's cookie, and the header its changes carry the session's CSRF token in.
    public static let sessionCookie = "hive_session"
    public static let csrfHeader = "X-Hive-CSRF"

    init(service: ControlService, auth: HTTPAuth, readOnly: Bool, hosts: HostPolicy,
         sessions: SessionStore<HTTPPrincipal>, extraMetrics: @escaping @Sendable () -> String, overTLS: Bool = false) {
        self.overTLS = overTLS
        self.service = service
        self.auth = auth
        self.readOnly = readOnly
        self.hosts = hosts
        self.sessions = sessions
        self.extraMetrics = extraMetrics
    }

    /// What a request asks for, decided from its method and path alone.
    enum Route: Equatable {
        case health, dashboard, asset(String), login, logout, session
        case metrics, status, drones, goals, submit, events(allTasks: Bool)
        case goal(String), goalTasks(String), goalTrace(String), cancel(String), goalEvents(String)
        case approve(String), deny(String)
        case modules, removeModule(String)

        /// Routes that change the hive: they need an operator and are refused in read-only mode.
        var changes: Bool {
            switch self {
            case .submit, .cancel, .removeModule, .approve, .deny: return true
            default: return false
            }
        }

        /// Routes anyone may use: what a browser needs before it has logged in.
        var isPublic: Bool {
            switch self {
            case .health, .dashboard, .asset, .login, .logout: return true
            default: return false
            }
        }
    }

    /// A request's route, or the refusal (404, 405) to answer instead.
    enum Routing {
        case to(Route)
        case refused(HTTPResponse)
    }

    /// Who sent a request: a principal (by header or session), or anyone when no credentials are configured.
    struct Caller {
        var name: String
        var mayChange: Bool
        /// Set when the request came with a session cookie (a browser): its changes must carry the CSRF token.
        var session: SessionStore<HTTPPrincipal>.Session?

        var role: String { mayChange ? "operator" : "observer" }
    }

    enum Decision {
        case refuse(HTTPResponse)
        case serve(Route, Caller?)
    }

    /// Decides from the head alone (no body read yet): nil admits the request; otherwise the refusal to send.
    public func admit(_ head: HTTPRequest) -> HTTPResponse? {
        if case .refuse(let refusal) = decide(head) { return refusal }
        return nil
    }

    func decide(_ r: HTTPRequest) -> Decision {
        if r.path == "/healthz" { return .serve(.health, nil) }
        if let refusal = hosts.check(host: r.header("Host"), origin: r.header("Origin")) {
            if let suppressed = refusals.admit(now: Monotonic.now()) {
                log.warn("request_refused", ["status": refusal.status, "reason": refusal.description, "path": r.path, "suppressed": suppressed])
            }
            return .refuse(.error(refusal.status, refusal.description))
        }
        let routing = route(r)
        let caller = authenticate(r)
        let posts = r.method == "POST" || r.method == "DELETE"
        if case .to(let route) = routing, route.isPublic {
            if posts, let refusal = Self.notJSON(r) { return .refuse(refusal) }
            if route == .logout, let caller, let refusal = Self.csrf(r, caller) { return .refuse(refusal) }
            return .serve(route, caller)
        }
        guard let caller else {
            return .refuse(.error(401, "authentication required: Authorization: Bearer TOKEN (or Basic for user/password), or log in at /",
                                  headers: [("WWW-Authenticate", "Bearer realm=\"hive\"")]))
        }
        let route: Route
        switch routing {
        case .refused(let refusal): return .refuse(refusal)
        case .to(let r): route = r
        }
        if posts, let refusal = Self.notJSON(r) { return .refuse(refusal) }
        if route.changes && !caller.mayChange {
            return .refuse(Self.refusal(APIError(.forbidden, "principal '\(caller.name)' is an observer (read only): submitting, cancelling, approving and removing modules need an operator")))
        }
        if posts, let refusal = Self.csrf(r, caller) { return .refuse(refusal) }
        if route.changes && readOnly { return .refuse(Self.refusal(APIError(.forbidden, "this honeycombd serves HTTP read-only (--http-read-only)"))) }
        return .serve(route, caller)
    }

    /// The caller, from `Authorization` (API clients) or else the session cookie (browsers); anyone when no
    /// credentials are configured; nil when the credentials are wrong or missing.
    func authenticate(_ r: HTTPRequest) -> Caller? {
        guard auth.required else { return Caller(name: "anonymous", mayChange: true) }
        if let header = r.header("Authorization") {
            return auth.principal(authorization: header).map { Caller(name: $0.name, mayChange: $0.mayChange) }
        }
        if let id = r.cookie(Self.sessionCookie), let s = sessions.session(id, now: Self.nowMillis()) {
            return Caller(name: s.owner.name, mayChange: s.owner.mayChange, session: s)
        }
        return nil
    }

    /// Every POST and DELETE must be JSON: an HTML form cannot send that, and a page elsewhere cannot make a browser
    /// send it without a CORS preflight this server never approves.
    static func notJSON(_ r: HTTPRequest) -> HTTPResponse? {
        guard let type = r.mediaType else {
            return .error(415, "send JSON: \(r.method) needs Content-Type: application/json")
        }
        return type == "application/json" ? nil : .error(415, "send JSON (Content-Type: application/json), not \(r.header("Content-Type") ?? type)")
    }

    /// A browser session's change must echo the session's CSRF token (a page elsewhere cannot read it).
    static func csrf(_ r: HTTPRequest, _ caller: Caller) -> HTTPResponse? {
        guard let session = caller.session else { return nil }
        guard let sent = r.header(csrfHeader), constantTimeEqual(sent, session.csrfToken) else {
            return refusal(APIError(.forbidden, "missing or wrong \(csrfHeader) header: a browser session's changes must carry the csrf token from GET /api/session"))
        }
        return nil
    }

    static func nowMillis() -> UInt64 { Monotonic.now() / 1_000_000 }

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
        case let p where p.count == 2 && p[0] == "assets" && Dashboard.assets[p[1]] != nil: return only("GET", route: .asset(p[1]))
        case ["login"]: return only("POST", route: .login)
        case ["logout"]: return only("POST", route: .logout)
        case ["api", "session"]: return only("GET", route: .session)
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
            case "approve": return only("POST", route: .approve(p[2]))
            case "deny": return only("POST", route: .deny(p[2]))
            case "events": return only("GET", route: .goalEvents(p[2]))
            default: break
            }
        default: break
        }
        return .refused(.error(404, "no route for \(path)"))
    }

    public func handle(_ r: HTTPRequest) async -> HTTPReply {
        let route: Route, caller: Caller?
        switch decide(r) {
        case .refuse(let refusal): return .response(refusal)
        case .serve(let rt, let c): (route, caller) = (rt, c)
        }
        switch route {
        case .health: return .response(.text(200, "ok\n"))
        case .dashboard:
            let page = caller == nil ? Dashboard.loginPage : Dashboard.page
            return .response(.text(200, page, contentType: "text/html; charset=utf-8"))
        case .asset(let name):
            guard let asset = Dashboard.assets[name] else { return .response(.error(404, "no route for \(r.path)")) }
            return .response(.text(200, asset.text, contentType: asset.contentType))
        case .login: return .response(login(r))
        case .logout:
            if let id = caller?.session?.id { sessions.close(id) }
            return .response(HTTPResponse(status: 204, headers: [("Set-Cookie", Self.cookie(value: "", maxAge: 0, secure: overTLS))]))
        case .session:
            let who = SessionInfo(principal: caller?.name ?? "", role: caller?.role ?? "", csrf: caller?.session?.csrfToken, authRequired: auth.required)
            return .response(.json(200, Array((try? JSONEncoder().encode(who)) ?? Data())))
        case .metrics:
            let text = await service.metrics() + extraMetrics()
            return .response(.text(200, text, contentType: "text/plain; version=0.0.4; charset=utf-8"))
        case .events(let allTasks):
            guard let stream = await service.events(goal: nil, allTasks: allTasks) else { return .response(.error(404, "no events")) }
            return .events(stream)
        case .goalEvents(let goal):
            guard let stream = await service.events(goal: goal) else { return .response(.error(404, "unknown goal '\(goal)'")) }
            return .events(stream)
        case .status, .drones, .goals, .submit, .goal, .goalTasks, .goalTrace, .cancel, .approve, .deny, .modules, .removeModule:
            switch APIRequest.http(route, r, maxSpecBytes: service.maxSpecBytes) {
            case .failure(let e)?: return Self.reply(.failure(e))
            case .success(let request)?:
                // The approver is the caller.
                return Self.reply(await service.handle(request, principal: caller?.name ?? ControlService.busPrincipal),
                                  created: route == .submit)
            case nil: return .response(.error(404, "no route for \(r.path)"))
            }
        }
    }

    /// What `GET /api/session` and `POST /login` answer.
    struct SessionInfo: Codable {
        var principal: String
        var role: String
        var csrf: String?
        var authRequired: Bool

        enum CodingKeys: String, CodingKey {
            case principal, role, csrf
            case authRequired = "auth_required"
        }
    }

    /// What `POST /login` takes: a token, or a user and password.
    struct Login: Decodable {
        var token: String?
        var user: String?
        var pass: String?
    }

    /// Checks the credential in the body; on success opens a session and sets its cookie.
    private func login(_ r: HTTPRequest) -> HTTPResponse {
        guard auth.required else {
            return .error(400, "this honeycombd has no HTTP credentials configured, so there is nothing to log in to (the API is open on loopback)")
        }
        let usage = "send {\"token\": TOKEN} or {\"user\": USER, \"pass\": PASSWORD}"
        guard let form = try? JSONDecoder().decode(Login.self, from: Data(r.body)) else { return .error(400, usage) }
        let principal: HTTPPrincipal?
        if let token = form.token {
            principal = auth.principal(token: token)
        } else if let user = form.user, let pass = form.pass {
            principal = auth.principal(user: user, password: pass)
        } else {
            return .error(400, usage)
        }
        guard let principal else {
            if let suppressed = failedLogins.admit(now: Monotonic.now()) {
                log.warn("login_refused", ["reason": "wrong credentials", "suppressed": suppressed])
            }
            return .error(401, "wrong token or user/password")
        }
        let (session, evicted) = sessions.open(for: principal, now: Self.nowMillis())
        if let evicted {
            log.warn("session_evicted", ["principal": evicted.owner.name,
                                         "reason": "http_max_sessions \(sessions.limits.maxSessions) reached (--http-max-sessions); the oldest session ended"])
        }
        log.info("login", ["principal": principal.name, "role": principal.role])
        let who = SessionInfo(principal: principal.name, role: principal.role, csrf: session.csrfToken, authRequired: true)
        let maxAge = Int(clamping: sessions.limits.lifetimeMillis / 1000)
        return .json(200, Array((try? JSONEncoder().encode(who)) ?? Data()),
                     headers: [("Set-Cookie", Self.cookie(value: session.id, maxAge: maxAge, secure: overTLS))])
    }

    /// The session cookie: page script cannot read it (`HttpOnly`), and no other site's page makes the browser send
    /// it (`SameSite=Strict`). `Secure` comes with TLS: the browser then never sends it over plain HTTP (say, to
    /// an attacker on the network answering for this host on port 80). Without TLS it cannot be set: a browser
    /// drops a `Secure` cookie from a plain-HTTP response, so logging in would never stick.
    static func cookie(value: String, maxAge: Int, secure: Bool) -> String {
        "\(sessionCookie)=\(value); HttpOnly; SameSite=Strict; Path=/; Max-Age=\(maxAge)" + (secure ? "; Secure" : "")
    }

    /// The HTTP response for an API call's outcome: 200 (201 when `created`: a goal was made) with the reply and its
    /// headers, or the error's status (`APIError.Kind.httpStatus`) with `{"error": "…"}`.
    static func reply(_ outcome: Result<APIReply, APIError>, created: Bool = false) -> HTTPReply {
        switch outcome {
        case .success(let r): return .response(.json(created ? 201 : 200, r.body, headers: r.headers))
        case .failure(let e): return .response(refusal(e))
        }
    }
}

extension HTTPAPI {
    /// An API error as an HTTP response: `{"error": "…"}` with its kind's status.
    static func refusal(_ e: APIError) -> HTTPResponse { .error(e.kind.httpStatus, e.error) }
}

extension APIError.Kind {
    /// The HTTP status of an API error of this kind: the one place a kind becomes a status.
    var httpStatus: Int {
        switch self {
        case .badRequest: return 400
        case .forbidden: return 403
        case .notFound: return 404
        case .conflict: return 409
        case .tooLarge: return 413
        case .unavailable: return 503
        case .storageFull: return 507
        }
    }
}
