import NATSWire

/// How a principal proves who it is in CONNECT.
public enum Credential: Sendable, Equatable {
    /// `auth_token` in CONNECT (`nats://TOKEN@host:port`).
    case token(String)
    /// `user` and `pass` in CONNECT (`nats://USER:PASS@host:port`).
    case userPassword(user: String, password: String)
    /// A client certificate verified against the broker's TLS CA (`--tls-ca`) with this name among its names
    /// (CN, DNS or email subjectAltName): mutual TLS as identity, like nats-server's `verify_and_map`.
    case certificate(String)
}

/// Allow and deny lists of subject patterns (wildcards allowed), in nats-server's shape.
///
/// `allow == nil` allows every subject not denied; an empty `allow` allows none. A subject matched by `deny`
/// is refused whatever `allow` says.
public struct SubjectRules: Sendable, Equatable {
    public var allow: [String]?
    public var deny: [String]

    public init(allow: [String]? = nil, deny: [String] = []) {
        self.allow = allow
        self.deny = deny
    }

    /// True when the rules refuse nothing.
    public var isUnrestricted: Bool { allow == nil && deny.isEmpty }
}

/// nats-server's `allow_responses`: a principal may publish to the reply subject of a message it received, at
/// most `maxMessages` times (0: no limit) within `expiresMillis` of receiving it (0: no time limit).
public struct ResponsePermission: Sendable, Equatable {
    public var maxMessages: Int
    public var expiresMillis: Int

    /// nats-server's defaults for `allow_responses: true`: one response within two minutes.
    public init(maxMessages: Int = 1, expiresMillis: Int = 120_000) {
        self.maxMessages = maxMessages
        self.expiresMillis = expiresMillis
    }
}

/// What a principal may publish and subscribe to, in nats-server's shape.
public struct Permissions: Sendable, Equatable {
    public var publish: SubjectRules
    public var subscribe: SubjectRules
    /// With `allow_responses` and no publish `allow` list, nats-server allows publishing replies only; so do we.
    public var allowResponses: ResponsePermission?

    public init(publish: SubjectRules = SubjectRules(), subscribe: SubjectRules = SubjectRules(),
                allowResponses: ResponsePermission? = nil) {
        self.publish = publish
        self.subscribe = subscribe
        self.allowResponses = allowResponses
    }

    /// Every subject, both ways.
    public static let all = Permissions()
}

/// Someone on the bus: a name (for logs and revocation), the credential it connects with, and its permissions.
/// The broker knows principals and permissions only; roles are Hive's and expand to permissions elsewhere.
public struct Principal: Sendable, Equatable {
    public var name: String
    public var credential: Credential
    public var permissions: Permissions

    public init(name: String, credential: Credential, permissions: Permissions = .all) {
        self.name = name
        self.credential = credential
        self.permissions = permissions
    }

    /// The first problem with a principal list, as a sentence naming the principal; nil when it is usable.
    /// Names, tokens and user names must each be unique: a shared credential would make two principals one.
    public static func problem(in list: [Principal]) -> String? {
        if list.isEmpty { return "principals must list at least one principal" }
        var names: [String: Int] = [:]
        var tokens: [String: String] = [:]
        var users: [String: String] = [:]
        var certificates: [String: String] = [:]
        for (i, p) in list.enumerated() {
            if p.name.isEmpty { return "principal #\(i + 1) has an empty name" }
            if names[p.name] != nil { return "principal name '\(p.name)' is used twice" }
            names[p.name] = i
            switch p.credential {
            case .token(let t):
                if t.isEmpty { return "principal '\(p.name)' has an empty token" }
                if let other = tokens[t] { return "principals '\(other)' and '\(p.name)' have the same token" }
                tokens[t] = p.name
            case .userPassword(let u, let pw):
                if u.isEmpty { return "principal '\(p.name)' has an empty user" }
                if pw.isEmpty { return "principal '\(p.name)' has an empty pass" }
                if let other = users[u] { return "principals '\(other)' and '\(p.name)' have the same user '\(u)'" }
                users[u] = p.name
            case .certificate(let c):
                if c.isEmpty { return "principal '\(p.name)' has an empty certificate name" }
                if let other = certificates[c] {
                    return "principals '\(other)' and '\(p.name)' map the same certificate name '\(c)'"
                }
                certificates[c] = p.name
            }
            if let why = p.permissions.problem { return "principal '\(p.name)': \(why)" }
        }
        return nil
    }
}

extension Permissions {
    /// The first invalid pattern or number, or nil.
    var problem: String? {
        for (what, rules) in [("publish", publish), ("subscribe", subscribe)] {
            for (list, pats) in [("allow", rules.allow ?? []), ("deny", rules.deny)] {
                for p in pats {
                    if p.contains(" ") || p.contains("\t") {
                        return "\(what).\(list) pattern '\(p)' contains a space (queue-group permissions are not supported)"
                    }
                    let ok = withBytes(p) { Subject.isValidSubscription($0) }
                    if !ok { return "\(what).\(list) pattern '\(p)' is not a valid subject (no empty tokens; '>' only last)" }
                }
            }
        }
        if let r = allowResponses {
            if r.maxMessages < 0 { return "allow_responses.max must be 0 (no limit) or more, not \(r.maxMessages)" }
            if r.expiresMillis < 0 { return "allow_responses.expires_ms must be 0 (no limit) or more, not \(r.expiresMillis)" }
        }
        return nil
    }
}
