import FoundationEssentials
import NATSWire

/// Someone the HTTP API knows: a name, a credential (a token sent as `Authorization: Bearer TOKEN`, or a user and
/// password sent as HTTP Basic or typed into the dashboard's login form), and whether they may change things
/// (an operator: submit, cancel, remove modules) or only read (an observer).
///
/// Config roles map onto it: `operator`/`control` → `mayChange: true`, `observer` → `mayChange: false`; drones
/// have no place on HTTP.
public struct HTTPPrincipal: Sendable, Equatable {
    public enum Credential: Sendable, Equatable {
        case token(String)
        case userPassword(user: String, password: String)
    }

    public var name: String
    public var credential: Credential
    public var mayChange: Bool

    public init(name: String, token: String, mayChange: Bool) {
        self.name = name
        credential = .token(token)
        self.mayChange = mayChange
    }

    public init(name: String, user: String, password: String, mayChange: Bool) {
        self.name = name
        credential = .userPassword(user: user, password: password)
        self.mayChange = mayChange
    }

    /// `operator` or `observer`, as messages name it.
    public var role: String { mayChange ? "operator" : "observer" }
}

/// Who may use the HTTP API: its principals; with none, anyone who can reach the port is an operator (only
/// allowed on loopback: see `ControlPlane.serveHTTP`). Credentials come in the `Authorization` header (API
/// clients) or once through `POST /login` (browsers, which then hold a session cookie); never in a URL, where
/// they would end up in history, logs and `Referer`s.
public struct HTTPAuth: Sendable, Equatable {
    public var principals: [HTTPPrincipal]

    public init(principals: [HTTPPrincipal]) { self.principals = principals }

    /// Open to anyone (loopback only).
    public static let none = HTTPAuth(principals: [])

    /// The legacy single credential (`--token`): one principal that may change things.
    public static func token(_ token: String) -> HTTPAuth {
        HTTPAuth(principals: [HTTPPrincipal(name: "admin", token: token, mayChange: true)])
    }

    /// The legacy single credential (`--user/--pass`): one principal that may change things.
    public static func userPassword(user: String, password: String) -> HTTPAuth {
        HTTPAuth(principals: [HTTPPrincipal(name: user, user: user, password: password, mayChange: true)])
    }

    /// Whether requests need credentials at all.
    public var required: Bool { !principals.isEmpty }

    /// The principal an `Authorization` header (`Bearer TOKEN` or `Basic BASE64(user:pass)`) names, if any.
    func principal(authorization header: String) -> HTTPPrincipal? {
        if header.hasPrefix("Bearer ") {
            return principal(token: String(header.dropFirst(7)))
        }
        if header.hasPrefix("Basic "), let data = Data(base64Encoded: String(header.dropFirst(6))),
           let pair = String(data: data, encoding: .utf8), let colon = pair.firstIndex(of: ":") {
            return principal(user: String(pair[..<colon]), password: String(pair[pair.index(after: colon)...]))
        }
        return nil
    }

    /// Every principal is compared (no early exit), so the time taken says nothing about which one came close.
    func principal(token: String) -> HTTPPrincipal? {
        var found: HTTPPrincipal?
        for p in principals {
            if case .token(let t) = p.credential, constantTimeEqual(token, t), found == nil { found = p }
        }
        return found
    }

    func principal(user: String, password: String) -> HTTPPrincipal? {
        var found: HTTPPrincipal?
        for p in principals {
            guard case .userPassword(let u, let pw) = p.credential else { continue }
            let userMatches = constantTimeEqual(user, u), passwordMatches = constantTimeEqual(password, pw)  // both compared, always
            if userMatches && passwordMatches && found == nil { found = p }
        }
        return found
    }

}
