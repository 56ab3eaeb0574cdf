import FoundationEssentials
import HiveCore
import HiveHTTP
@testable import Honeycomb
import Testing

/// `HTTPAPI.decide` on each route class (public, read, change) for each kind of caller: an operator, an observer,
/// no or wrong credentials, a browser session with and without its CSRF token, and read-only mode.
@Suite struct HTTPAuthTests {
    static let auth = HTTPAuth(principals: [HTTPPrincipal(name: "alice", token: "op", mayChange: true),
                                            HTTPPrincipal(name: "grafana", token: "obs", mayChange: false)])
    /// A request of each class: (method, path).
    static let publicRoutes = [("GET", "/healthz"), ("GET", "/"), ("GET", "/assets/" + (Dashboard.assets.keys.sorted().first ?? "x"))]
    static let reads = [("GET", "/api/status"), ("GET", "/api/goals"), ("GET", "/api/drones"), ("GET", "/api/goals/g1"),
                        ("GET", "/api/goals/g1/tasks"), ("GET", "/api/goals/g1/trace"), ("GET", "/api/modules"),
                        ("GET", "/api/events"), ("GET", "/api/goals/g1/events"), ("GET", "/metrics"), ("GET", "/api/session")]
    static let changes = [("POST", "/api/goals"), ("POST", "/api/goals/g1/cancel"), ("POST", "/api/goals/g1/approve"),
                          ("POST", "/api/goals/g1/deny"), ("DELETE", "/api/modules/" + String(repeating: "a", count: 64))]

    /// 0 when the request is served, else the refusal's status.
    func decision(_ api: HTTPAPI, _ method: String, _ path: String, _ headers: [(String, String)] = []) -> Int {
        var all: [(name: String, value: String)] = [("Host", "127.0.0.1:8420")]
        if method != "GET" { all.append(("Content-Type", "application/json")) }
        all += headers.map { (name: $0.0, value: $0.1) }
        switch api.decide(HTTPRequest(method: method, target: path, headers: all)) {
        case .serve: return 0
        case .refuse(let r): return r.status
        }
    }

    func api(_ service: ControlService, auth: HTTPAuth = Self.auth, readOnly: Bool = false, sessions: SessionStore<HTTPPrincipal> = SessionStore()) -> HTTPAPI {
        HTTPAPI(service: service, auth: auth, readOnly: readOnly, hosts: HostPolicy(listenHost: "127.0.0.1"), sessions: sessions,
                extraMetrics: { "" })
    }

    @Test func operatorsChangeObserversReadAndStrangersSeeOnlyPublicRoutes() async throws {
        try await withService { service, _ in
            let api = api(service)
            let op = [("Authorization", "Bearer op")], obs = [("Authorization", "Bearer obs")], wrong = [("Authorization", "Bearer nope")]
            for (m, p) in Self.publicRoutes {
                for who in [op, obs, wrong, []] { #expect(decision(api, m, p, who) == 0, "\(m) \(p)") }
            }
            for (m, p) in Self.reads {
                #expect(decision(api, m, p, op) == 0, "\(m) \(p)")
                #expect(decision(api, m, p, obs) == 0, "\(m) \(p)")
                #expect(decision(api, m, p, wrong) == 401, "\(m) \(p)")
                #expect(decision(api, m, p) == 401, "\(m) \(p)")
            }
            for (m, p) in Self.changes {
                #expect(decision(api, m, p, op) == 0, "\(m) \(p)")
                #expect(decision(api, m, p, obs) == 403, "\(m) \(p)")
                #expect(decision(api, m, p, wrong) == 401, "\(m) \(p)")
            }
            // The observer's refusal names the role.
            guard case .refuse(let r) = api.decide(HTTPRequest(method: "POST", target: "/api/goals",
                                                               headers: [("Host", "127.0.0.1"), ("Content-Type", "application/json"), ("Authorization", "Bearer obs")])) else {
                Issue.record("served"); return
            }
            #expect(String(decoding: r.body, as: UTF8.self).contains("observer"))
        }
    }

    @Test func readOnlyRefusesEveryChangeEvenToAnOperator() async throws {
        try await withService { service, _ in
            let api = api(service, readOnly: true)
            for (m, p) in Self.changes { #expect(decision(api, m, p, [("Authorization", "Bearer op")]) == 403, "\(m) \(p)") }
            for (m, p) in Self.reads { #expect(decision(api, m, p, [("Authorization", "Bearer op")]) == 0, "\(m) \(p)") }
        }
    }

    @Test func aBrowserSessionsChangesNeedItsCSRFTokenAndItsRoleStillCounts() async throws {
        try await withService { service, _ in
            let sessions = SessionStore<HTTPPrincipal>()
            let api = api(service, sessions: sessions)
            let (op, _) = sessions.open(for: Self.auth.principals[0], now: HTTPAPI.nowMillis())
            let (obs, _) = sessions.open(for: Self.auth.principals[1], now: HTTPAPI.nowMillis())
            let cookie = { (s: SessionStore<HTTPPrincipal>.Session) in ("Cookie", "\(HTTPAPI.sessionCookie)=\(s.id)") }
            for (m, p) in Self.changes {
                #expect(decision(api, m, p, [cookie(op)]) == 403, "\(m) \(p)")
                #expect(decision(api, m, p, [cookie(op), (HTTPAPI.csrfHeader, "wrong")]) == 403, "\(m) \(p)")
                #expect(decision(api, m, p, [cookie(op), (HTTPAPI.csrfHeader, op.csrfToken)]) == 0, "\(m) \(p)")
                #expect(decision(api, m, p, [cookie(obs), (HTTPAPI.csrfHeader, obs.csrfToken)]) == 403, "\(m) \(p)")
            }
            for (m, p) in Self.reads { #expect(decision(api, m, p, [cookie(obs)]) == 0, "\(m) \(p)") }
            // A URL is never a credential, and a forged cookie is no session.
            #expect(decision(api, "GET", "/api/goals?token=op") == 401)
            #expect(decision(api, "GET", "/api/goals", [("Cookie", "\(HTTPAPI.sessionCookie)=forged")]) == 401)
        }
    }

    @Test func withoutCredentialsConfiguredEveryoneIsAnOperatorButChangesMustBeJSON() async throws {
        try await withService { service, _ in
            let api = api(service, auth: .none)
            for (m, p) in Self.changes + Self.reads { #expect(decision(api, m, p) == 0, "\(m) \(p)") }
            let form = HTTPRequest(method: "POST", target: "/api/goals", headers: [("Host", "127.0.0.1"), ("Content-Type", "application/x-www-form-urlencoded")])
            guard case .refuse(let r) = api.decide(form) else { Issue.record("a form post was served"); return }
            #expect(r.status == 415)
        }
    }
}
