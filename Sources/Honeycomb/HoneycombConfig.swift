import FoundationEssentials
import HiveCore
import HiveSystem
import HiveTLS
import HiveHTTP
import HiveLog
import NATSClient
import NATSServer

/// A configuration problem, worded so the user can fix it.
public enum HoneycombConfigError: Error, CustomStringConvertible, Equatable {
    case unreadableFile(path: String, reason: String)
    case invalidJSON(path: String, reason: String)
    case unknownKey(String, path: String)
    case wrongType(key: String, expected: String, got: String)
    case invalidValue(key: String, reason: String)
    case usage(String)

    public var description: String {
        switch self {
        case .unreadableFile(let p, let r): return "cannot read config file \(p): \(r)"
        case .invalidJSON(let p, let r): return "config file \(p) is not valid JSON: \(r)"
        case .unknownKey(let k, let p): return "config file \(p): unknown key '\(k)' (see Config/honeycombd.json for the keys)"
        case .wrongType(let k, let e, let g): return "config key '\(k)' must be \(e), not \(g)"
        case .invalidValue(let k, let r): return "invalid \(k): \(r)"
        case .usage(let m): return m
        }
    }
}

/// honeycombd's settings: the embedded broker's, plus the daemon's own. Built from defaults, then the JSON
/// config file, then command-line flags (flags win): the flags are declared, with what each sets, in
/// `HoneycombConfig+CommandLine.swift`.
public struct HoneycombConfig: Equatable, Sendable {
    public var broker = BrokerConfig()
    public var logLevel = LogLevel.info
    /// An external NATS server or cluster for the control plane; nil runs the embedded broker.
    public var externalBus: [ServerAddress]?
    /// Where the journal lives; nil keeps goals in memory only.
    public var dataDirectory: String?
    /// Heartbeat interval and lost-drone timeout.
    public var control = ControlConfig()
    /// Journal size that triggers compaction into a snapshot.
    public var journalCompactBytes = 64 << 20
    /// `--journal jetstream://STREAM[?replicas=N]` as given.
    public var journalStream: JetStreamJournalSettings?
    /// `--journal-create`: create the stream when missing.
    public var journalCreate = false
    /// `--journal-ack-timeout-ms`, in seconds.
    public var journalAckTimeout = 5.0
    /// `--leader-heartbeat-ms`, in seconds: how often the active honeycombd renews its leader lease.
    public var leaderHeartbeat = 1.0
    /// The journal in a JetStream stream instead of `dataDirectory` (needs `--nats`), with every `--journal-*` setting.
    public var jetStreamJournal: JetStreamJournalSettings? {
        guard var s = journalStream else { return nil }
        s.create = journalCreate
        s.ackTimeout = journalAckTimeout
        s.leaderHeartbeat = leaderHeartbeat
        return s
    }
    /// A directory whose role prompt frames replace the built-in ones file by file; nil runs on the built-in ones.
    public var promptsDirectory: String?
    /// The HTTP API, dashboard and metrics; nil turns HTTP off.
    public var http: ListenAddress? = ListenAddress(host: "127.0.0.1", port: 8420)
    /// Whether `http` was chosen (flag or file): then failing to listen stops start-up, where the default only warns.
    public var httpChosen = false
    /// Refuse HTTP requests that change anything (submit, cancel).
    public var httpReadOnly = false
    /// An OpenTelemetry collector's OTLP/HTTP traces endpoint; finished goals' traces are sent there.
    public var otlpEndpoint: String?
    /// HTTP connection caps, the first-byte deadline and the body limit.
    public var httpServer = HTTPServer.Options()
    /// Host names browsers may use besides loopback and the listen address (DNS rebinding guard).
    public var httpAllowedHosts: [String] = []
    /// Dashboard login sessions: how many at once, and how long each lasts.
    public var httpSessions = SessionStore<HTTPPrincipal>.Limits()
    /// How much the WebAssembly module store holds.
    public var moduleQuota = ModuleQuota()
    /// How much the blob store (task inputs and outputs in parts) holds.
    public var blobQuota = BlobQuota()
    /// With `principals`: the one honeycombd's own bus connection uses (the first `control` principal, or one
    /// `withControlPrincipal()` generates at start).
    public var controlPrincipal: String?
    /// TLS files: with the embedded broker, its certificate (served on the bus and the HTTP API) and the CA that
    /// client certificates must chain to; with `--nats`, what honeycombd's own connection to the cluster trusts
    /// and presents.
    public var tls = TLSFiles()
    /// How long a client has to finish the TLS handshake (nats-server's `tls { timeout }`).
    public var tlsTimeoutMillis = 2_000

    public init() {}

    /// Applies a config file's JSON text.
    public mutating func apply(json data: Data, path: String) throws(HoneycombConfigError) {
        let root: JSONValue
        do { root = try JSONDecoder().decode(JSONValue.self, from: data) } catch {
            throw .invalidJSON(path: path, reason: String(describing: error))
        }
        guard case .object(let top) = root else { throw .wrongType(key: "(top level)", expected: "an object", got: root.typeName) }
        for (key, value) in top.sorted(by: { $0.key < $1.key }) {
            switch key {
            case "listen": try setListen(try string(key, value))
            case "server_name": broker.serverName = try string(key, value)
            case "log_level": try setLogLevel(try string(key, value))
            case "max_payload": broker.maxPayload = try int(key, value)
            case "max_control_line": broker.maxControlLine = try int(key, value)
            case "max_pending": broker.maxPending = try int(key, value)
            case "write_deadline_ms": broker.writeDeadlineMillis = try int(key, value)
            case "ping_interval_ms": broker.pingIntervalMillis = try int(key, value)
            case "ping_max": broker.pingMax = try int(key, value)
            case "auth_timeout_ms": broker.authTimeoutMillis = try int(key, value)
            case "max_connections": broker.maxConnections = try int(key, value)
            case "max_subscriptions": broker.maxSubscriptions = try int(key, value)
            case "event_loops": broker.eventLoops = try int(key, value)
            case "auth":
                if top["principals"] != nil { throw Self.authAndPrincipals }
                try setAuth(value, path: path)
            case "principals": try setPrincipals(value, path: path)
            case "max_response_permits": broker.maxResponsePermits = try positive(key, try int(key, value))
            case "nats": try setExternalBus(try string(key, value))
            case "data": dataDirectory = try string(key, value)
            case "heartbeat_ms": control.heartbeatMillis = try int(key, value)
            case "drone_lost_after_ms": control.lostAfterMillis = try int(key, value)
            case "task_timeout_ms": control.defaultTimeoutMillis = try int(key, value)
            case "max_spec_bytes": control.maxSpecBytes = try int(key, value)
            case "max_replies_awaiting_journal": control.maxRepliesAwaitingJournal = try int(key, value)
            case "max_drones": control.maxDrones = try positive(key, try int(key, value))
            case "max_batch": control.maxBatch = try Self.batchLimit(key, try int(key, value))
            case "journal_compact_bytes": journalCompactBytes = try int(key, value)
            case "journal": try setJournal(try string(key, value))
            case "journal_create":
                guard case .bool(let b) = value else { throw .wrongType(key: key, expected: "true or false", got: value.typeName) }
                journalCreate = b
            case "journal_ack_timeout_ms": journalAckTimeout = Double(try positive(key, try int(key, value))) / 1000
            case "leader_heartbeat_ms": leaderHeartbeat = Double(try positive(key, try int(key, value))) / 1000
            case "prices": try setPrices(value, path: path)
            case "prompts_dir": promptsDirectory = try string(key, value)
            case "http": try setHTTP(try string(key, value))
            case "otlp_endpoint": try setOTLP(try string(key, value))
            case "http_max_connections": httpServer.maxConnections = try positive(key, try int(key, value))
            case "http_max_connections_per_address": httpServer.maxConnectionsPerAddress = try positive(key, try int(key, value))
            case "http_first_byte_timeout_ms": httpServer.firstByteTimeout = Double(try positive(key, try int(key, value))) / 1000
            case "http_max_body_bytes": httpServer.limits.maxBodyBytes = try positive(key, try int(key, value))
            case "http_allowed_hosts":
                guard case .array(let names) = value else { throw .wrongType(key: key, expected: "an array of host names", got: value.typeName) }
                var list: [String] = []
                for n in names { list.append(try string(key, n)) }
                try setAllowedHosts(list)
            case "http_max_sessions": httpSessions.maxSessions = try positive(key, try int(key, value))
            case "http_session_ttl_minutes": try setSessionMinutes(key, try positive(key, try int(key, value)))
            case "modules_max_bytes": moduleQuota.maxBytes = try positive(key, try int(key, value))
            case "modules_max_count": moduleQuota.maxCount = try positive(key, try int(key, value))
            case "max_blob_bytes": blobQuota.maxBlobBytes = try Self.blobBytes(key, try positive(key, try int(key, value)))
            case "blob_store_bytes": blobQuota.maxBytes = try positive(key, try int(key, value))
            case "max_blobs": blobQuota.maxCount = try positive(key, try int(key, value))
            case "http_read_only":
                guard case .bool(let b) = value else { throw .wrongType(key: key, expected: "true or false", got: value.typeName) }
                httpReadOnly = b
            case "tls_cert": tls.certificate = try string(key, value)
            case "tls_key": tls.key = try string(key, value)
            case "tls_ca": tls.ca = try string(key, value)
            case "tls_verify":
                guard case .bool(let b) = value else { throw .wrongType(key: key, expected: "true or false", got: value.typeName) }
                tls.verifyClients = b
            case "tls_timeout_ms": tlsTimeoutMillis = try positive(key, try int(key, value))
            default: throw .unknownKey(key, path: path)
            }
        }
    }

    /// `prices`: `{"MODEL": {"prompt_per_mtok": X, "generated_per_mtok": Y}}`, `*` for any other model.
    private mutating func setPrices(_ value: JSONValue, path: String) throws(HoneycombConfigError) {
        guard case .object(let models) = value else { throw .wrongType(key: "prices", expected: "an object", got: value.typeName) }
        for (model, v) in models.sorted(by: { $0.key < $1.key }) {
            guard case .object(let p) = v else { throw .wrongType(key: "prices.\(model)", expected: "an object", got: v.typeName) }
            for k in p.keys where !["prompt_per_mtok", "generated_per_mtok"].contains(k) { throw .unknownKey("prices.\(model).\(k)", path: path) }
            func price(_ k: String) throws(HoneycombConfigError) -> Double {
                guard case .number(let d)? = p[k] else {
                    throw .wrongType(key: "prices.\(model).\(k)", expected: "a number", got: p[k]?.typeName ?? "missing")
                }
                guard d >= 0 else { throw .invalidValue(key: "prices.\(model).\(k)", reason: "a price cannot be negative") }
                return d
            }
            control.prices[model] = ModelPrice(promptPerMTok: try price("prompt_per_mtok"), generatedPerMTok: try price("generated_per_mtok"))
        }
    }

    private mutating func setAuth(_ value: JSONValue, path: String) throws(HoneycombConfigError) {
        guard case .object(let a) = value else { throw .wrongType(key: "auth", expected: "an object", got: value.typeName) }
        for k in a.keys where !["token", "user", "pass"].contains(k) { throw .unknownKey("auth.\(k)", path: path) }
        let token = try a["token"].map { v throws(HoneycombConfigError) in try string("auth.token", v) }
        let user = try a["user"].map { v throws(HoneycombConfigError) in try string("auth.user", v) }
        let pass = try a["pass"].map { v throws(HoneycombConfigError) in try string("auth.pass", v) }
        try setAuth(token: token, user: user, pass: pass)
    }

    static let authAndPrincipals = HoneycombConfigError.invalidValue(
        key: "principals", reason: "principals replace the single credential: remove 'auth' (and --token/--user/--pass) or 'principals'")

    /// The role each configured principal was given (principals with only a `permissions` block have none).
    public var principalRoles: [String: PrincipalRole] = [:]

    /// Who may use the HTTP API: control and operator principals may change things, observers only read; drones and
    /// principals without a role are not HTTP users. The legacy single credential may change things.
    public var httpAuth: HTTPAuth {
        switch broker.auth {
        case .none: return .none
        case .token(let t): return .token(t)
        case .userPassword(let u, let p): return .userPassword(user: u, password: p)
        case .principals(let list):
            return HTTPAuth(principals: list.compactMap { p -> HTTPPrincipal? in
                guard let role = principalRoles[p.name], role != .drone else { return nil }
                switch p.credential {
                case .token(let t): return HTTPPrincipal(name: p.name, token: t, mayChange: role != .observer)
                case .userPassword(let u, let pw): return HTTPPrincipal(name: p.name, user: u, password: pw, mayChange: role != .observer)
                case .certificate: return nil  // no password to log in with; the bus only
                }
            })
        }
    }

    /// `principals`: `[{"name", "role": "control|operator|observer|drone", "token" | "user"+"pass" | "certificate",
    /// "permissions"?}]`; `certificate` names a client certificate (mutual TLS; needs tls_ca).
    /// A role expands to permissions (`PrincipalRole`); an explicit `permissions` block replaces the expansion.
    private mutating func setPrincipals(_ value: JSONValue, path: String) throws(HoneycombConfigError) {
        guard case .array(let items) = value else { throw .wrongType(key: "principals", expected: "an array", got: value.typeName) }
        var list: [Principal] = []
        var control: String?
        var roles: [String: PrincipalRole] = [:]
        for (i, item) in items.enumerated() {
            let key = "principals[\(i)]"
            guard case .object(let o) = item else { throw .wrongType(key: key, expected: "an object", got: item.typeName) }
            for k in o.keys.sorted() where !["name", "role", "token", "user", "pass", "certificate", "permissions"].contains(k) {
                throw .unknownKey("\(key).\(k)", path: path)
            }
            guard let nameValue = o["name"] else { throw .invalidValue(key: key, reason: "every principal needs a name") }
            let name = try string("\(key).name", nameValue)
            let where_ = "principals '\(name)'"
            let credential: Credential
            let token = try o["token"].map { v throws(HoneycombConfigError) in try string("\(where_).token", v) }
            let user = try o["user"].map { v throws(HoneycombConfigError) in try string("\(where_).user", v) }
            let pass = try o["pass"].map { v throws(HoneycombConfigError) in try string("\(where_).pass", v) }
            let certificate = try o["certificate"].map { v throws(HoneycombConfigError) in try string("\(where_).certificate", v) }
            switch (token, user, pass, certificate) {
            case (let t?, nil, nil, nil): credential = .token(t)
            case (nil, let u?, let p?, nil): credential = .userPassword(user: u, password: p)
            case (nil, nil, nil, let c?): credential = .certificate(c)
            default:
                throw .invalidValue(key: where_, reason: "give one of \"token\", both \"user\" and \"pass\", or \"certificate\" (a client certificate name)")
            }
            var role: PrincipalRole?
            if let r = o["role"] {
                let text = try string("\(where_).role", r)
                guard let known = PrincipalRole(rawValue: text) else {
                    throw .invalidValue(key: "\(where_).role", reason: "'\(text)' is not one of control, operator, observer, drone")
                }
                if let why = known.problem(name: name) { throw .invalidValue(key: where_, reason: why) }
                role = known
            }
            let permissions: Permissions
            if let block = o["permissions"] {
                permissions = try Self.permissions(block, key: "\(where_).permissions", path: path)
            } else if let role {
                permissions = role.permissions(name: name)
            } else {
                throw .invalidValue(key: where_, reason: "give a \"role\" or a \"permissions\" block (a principal with neither would be allowed everything)")
            }
            // honeycombd's own connection needs a secret it can present (a certificate principal is for others).
            var presentable = true
            if case .certificate = credential { presentable = false }
            if role == .control && control == nil && presentable { control = name }
            if let role { roles[name] = role }
            list.append(Principal(name: name, credential: credential, permissions: permissions))
        }
        if let problem = Principal.problem(in: list) { throw .invalidValue(key: "principals", reason: problem) }
        broker.auth = .principals(list)
        controlPrincipal = control
        principalRoles = roles
    }

    /// A nats-server-shaped permissions block: `publish`/`subscribe` with `allow`/`deny` lists, `allow_responses`
    /// (`true`, or `{"max": N, "expires_ms": MS}`).
    private static func permissions(_ value: JSONValue, key: String, path: String) throws(HoneycombConfigError) -> Permissions {
        guard case .object(let o) = value else { throw .wrongType(key: key, expected: "an object", got: value.typeName) }
        for k in o.keys.sorted() where !["publish", "subscribe", "allow_responses"].contains(k) { throw .unknownKey("\(key).\(k)", path: path) }
        func rules(_ name: String) throws(HoneycombConfigError) -> SubjectRules {
            guard let v = o[name] else { return SubjectRules() }
            guard case .object(let r) = v else { throw .wrongType(key: "\(key).\(name)", expected: "an object", got: v.typeName) }
            for k in r.keys.sorted() where !["allow", "deny"].contains(k) { throw .unknownKey("\(key).\(name).\(k)", path: path) }
            func list(_ k: String) throws(HoneycombConfigError) -> [String]? {
                guard let l = r[k] else { return nil }
                guard case .array(let items) = l else { throw .wrongType(key: "\(key).\(name).\(k)", expected: "an array of subjects", got: l.typeName) }
                var out: [String] = []
                for item in items {
                    guard case .string(let s) = item else { throw .wrongType(key: "\(key).\(name).\(k)", expected: "an array of subjects", got: item.typeName) }
                    out.append(s)
                }
                return out
            }
            return SubjectRules(allow: try list("allow"), deny: try list("deny") ?? [])
        }
        var p = Permissions(publish: try rules("publish"), subscribe: try rules("subscribe"))
        switch o["allow_responses"] {
        case nil, .bool(false)?: break
        case .bool(true)?: p.allowResponses = ResponsePermission()
        case .object(let r)?:
            for k in r.keys.sorted() where !["max", "expires_ms"].contains(k) { throw .unknownKey("\(key).allow_responses.\(k)", path: path) }
            var rule = ResponsePermission()
            func count(_ k: String) throws(HoneycombConfigError) -> Int? {
                guard let v = r[k] else { return nil }
                guard case .number(let d) = v, d.rounded() == d, d >= 0, d <= 1e12 else {
                    throw .wrongType(key: "\(key).allow_responses.\(k)", expected: "a whole number from 0 (no limit)", got: v.typeName)
                }
                return Int(d)
            }
            if let m = try count("max") { rule.maxMessages = m }
            if let e = try count("expires_ms") { rule.expiresMillis = e }
            p.allowResponses = rule
        case let other?:
            throw .wrongType(key: "\(key).allow_responses", expected: "true, false or {\"max\", \"expires_ms\"}", got: other.typeName)
        }
        return p
    }

    /// With principals and no `control` principal among them, adds one named `honeycombd` (or a variant if that
    /// name is taken) with a fresh random token, for honeycombd's own bus connection. Returns it when added.
    @discardableResult
    public mutating func withControlPrincipal() -> Principal? {
        guard case .principals(var list) = broker.auth, controlPrincipal == nil else { return nil }
        var name = "honeycombd"
        while list.contains(where: { $0.name == name }) { name = "honeycombd-\(RandomToken.hex(bytes: 4))" }
        let principal = Principal(name: name, credential: .token(RandomToken.hex(bytes: 24)), permissions: PrincipalRole.control.permissions(name: name))
        list.append(principal)
        broker.auth = .principals(list)
        controlPrincipal = name
        return principal
    }

    /// Sets auth from token or user+pass; both, or a user without a password, is an error.
    public mutating func setAuth(token: String?, user: String?, pass: String?) throws(HoneycombConfigError) {
        if case .principals = broker.auth { throw Self.authAndPrincipals }
        if token != nil && (user != nil || pass != nil) {
            throw .invalidValue(key: "auth", reason: "use a token or a user and password, not both")
        }
        if let token { broker.auth = .token(token); return }
        if user != nil || pass != nil {
            guard let user, let pass else { throw .invalidValue(key: "auth", reason: "user and pass must be given together") }
            broker.auth = .userPassword(user: user, password: pass)
        }
    }

    public mutating func setListen(_ text: String) throws(HoneycombConfigError) {
        switch ListenAddress.parse(text) {
        case .success(let a): broker.listen = a
        case .failure(let e): throw .invalidValue(key: "listen", reason: e.description)
        }
    }

    public mutating func setExternalBus(_ text: String) throws(HoneycombConfigError) {
        do { externalBus = try ServerAddress.parseList(text) } catch {
            throw .invalidValue(key: "nats", reason: error.description)
        }
    }

    /// An `http://` or `https://` URL for trace export.
    public mutating func setOTLP(_ text: String) throws(HoneycombConfigError) {
        guard (text.hasPrefix("http://") || text.hasPrefix("https://")), text.count > 8 else {
            throw .invalidValue(key: "otlp_endpoint", reason: "'\(text)' is not an http:// or https:// URL (e.g. http://collector:4318/v1/traces)")
        }
        otlpEndpoint = text
    }

    /// `HOST:PORT` for the HTTP API, or `off`.
    public mutating func setHTTP(_ text: String) throws(HoneycombConfigError) {
        httpChosen = true
        if text == "off" {
            http = nil
            return
        }
        switch ListenAddress.parse(text) {
        case .success(let a): http = a
        case .failure(let e): throw .invalidValue(key: "http", reason: e.description + ", or off")
        }
    }

    /// Host names for `Host` checks: names only (no port, scheme or path).
    public mutating func setAllowedHosts(_ names: [String]) throws(HoneycombConfigError) {
        let cleaned = names.map { $0.filter { !$0.isWhitespace } }.filter { !$0.isEmpty }
        for n in cleaned where n.contains(where: { $0 == "/" || $0 == "@" }) || (n.contains(":") && !n.hasPrefix("[")) {
            throw .invalidValue(key: "http_allowed_hosts", reason: "'\(n)' is not a host name (give names without scheme, port or path, e.g. hive.lan)")
        }
        httpAllowedHosts = cleaned
    }

    /// Session lifetime, at most a year (so the milliseconds cannot overflow).
    mutating func setSessionMinutes(_ key: String, _ minutes: Int) throws(HoneycombConfigError) {
        guard minutes <= 525_600 else { throw .invalidValue(key: key, reason: "must be at most 525600 (a year), not \(minutes)") }
        httpSessions.lifetimeMillis = UInt64(minutes) * 60_000
    }

    public mutating func setLogLevel(_ text: String) throws(HoneycombConfigError) {
        guard let l = LogLevel(name: text) else {
            throw .invalidValue(key: "log_level", reason: "'\(text)' is not one of debug, info, warn, error")
        }
        logLevel = l
    }

    private func string(_ key: String, _ v: JSONValue) throws(HoneycombConfigError) -> String {
        guard case .string(let s) = v else { throw .wrongType(key: key, expected: "a string", got: v.typeName) }
        return s
    }

    /// A limit must be at least 1.
    /// The per-blob limit: at most what a goal's `input.size` may say (`SpecLimits.blobSize`, 1 GiB).
    static func blobBytes(_ key: String, _ n: Int) throws(HoneycombConfigError) -> Int {
        guard n <= SpecLimits.blobSize.upperBound else {
            throw .invalidValue(key: key, reason: "must be at most \(SpecLimits.blobSize.upperBound) (1 GiB), not \(n)")
        }
        return n
    }

    /// `max_batch` / `--max-batch`: within `DroneBatch.limits`.
    static func batchLimit(_ key: String, _ n: Int) throws(HoneycombConfigError) -> Int {
        guard DroneBatch.limits.contains(n) else {
            throw .invalidValue(key: key, reason: "must be between \(DroneBatch.limits.lowerBound) and \(DroneBatch.limits.upperBound) (1: one result and one assignment per message), not \(n)")
        }
        return n
    }

    private func positive(_ key: String, _ n: Int) throws(HoneycombConfigError) -> Int {
        guard n >= 1 else { throw .invalidValue(key: key, reason: "must be at least 1, not \(n)") }
        return n
    }

    private func int(_ key: String, _ v: JSONValue) throws(HoneycombConfigError) -> Int {
        guard case .number(let d) = v, d.rounded() == d, abs(d) < 1e15 else {
            throw .wrongType(key: key, expected: "an integer", got: v.typeName)
        }
        return Int(d)
    }

    /// `--journal jetstream://STREAM[?replicas=N]`.
    mutating func setJournal(_ text: String) throws(HoneycombConfigError) {
        switch JetStreamJournalSettings.parse(text) {
        case .success(let s): journalStream = s
        case .failure(let e): throw .invalidValue(key: "journal", reason: e.description)
        }
    }

    /// The checks that span several settings, once the file and the flags are in (`from(_:readFile:)`).
    public func validate() throws(HoneycombConfigError) {
        if let problem = broker.validate() { throw .invalidValue(key: "configuration", reason: problem) }
        if control.heartbeatMillis < 10 { throw .invalidValue(key: "heartbeat_ms", reason: "must be at least 10") }
        if control.lostAfterMillis <= control.heartbeatMillis {
            throw .invalidValue(key: "drone_lost_after_ms", reason: "must be longer than heartbeat_ms")
        }
        if !(1024...(256 << 20)).contains(control.maxSpecBytes) {
            throw .invalidValue(key: "max_spec_bytes", reason: "must be 1024 to \(256 << 20)")
        }
        if !(1...65_536).contains(control.maxRepliesAwaitingJournal) {
            throw .invalidValue(key: "max_replies_awaiting_journal", reason: "must be 1 to 65536")
        }
        if control.defaultTimeoutMillis < 1 { throw .invalidValue(key: "task_timeout_ms", reason: "must be positive") }
        if journalCompactBytes < 4096 { throw .invalidValue(key: "journal_compact_bytes", reason: "must be at least 4096") }
        if let js = jetStreamJournal {
            if externalBus == nil {
                throw .invalidValue(key: "journal", reason: "jetstream://\(js.stream) needs --nats URLS: the embedded broker has no JetStream (run nats-server -js)")
            }
            if !(0.05...600).contains(js.ackTimeout) {
                throw .invalidValue(key: "journal_ack_timeout_ms", reason: "must be 50 to 600000")
            }
            if !(0.1...60).contains(js.leaderHeartbeat) {
                throw .invalidValue(key: "leader_heartbeat_ms", reason: "must be 100 to 60000")
            }
        }
        if tlsTimeoutMillis > 600_000 { throw .invalidValue(key: "tls_timeout_ms", reason: "must be at most 600000") }
        if externalBus == nil {
            if let why = tls.serverProblem { throw .invalidValue(key: "tls", reason: why) }
        } else {
            if tls.verifyClients { throw .invalidValue(key: "tls_verify", reason: "with --nats the cluster verifies clients: tls_verify applies to the embedded broker only") }
            if let why = tls.clientProblem { throw .invalidValue(key: "tls", reason: why) }
        }
        if case .principals(let list) = broker.auth, tls.ca == nil,
           let p = list.first(where: { if case .certificate = $0.credential { return true } else { return false } }) {
            throw .invalidValue(key: "principals", reason: "principal '\(p.name)' is identified by a client certificate: that needs tls_ca (--tls-ca), the CA that signs client certificates")
        }
    }

    /// Where the control plane connects: the external bus, or this process's own broker — through `dial` when
    /// given (an in-process socket pair: plain text even when the port requires TLS), else TCP to `port`.
    public func busOptions(embeddedPort port: Int,
                           dial: (@Sendable (ServerAddress) throws(NATSClientError) -> Int32)? = nil) -> NATSClientOptions {
        if let externalBus {
            // The cluster's TLS: tls:// URLs, verified against --tls-ca (else the system's CAs); --tls-cert and
            // --tls-key are then honeycombd's client certificate.
            var options = NATSClientOptions(servers: externalBus)
            if !tls.isEmpty { options.tls = tls }
            return options
        }
        var host = broker.listen.host
        if host == "0.0.0.0" || host.isEmpty { host = "127.0.0.1" }
        if host == "::" { host = "::1" }
        var own = ServerAddress(host: host, port: port)
        switch broker.auth {
        case .none: break
        case .token(let t): own.token = t
        case .userPassword(let u, let p):
            own.user = u
            own.password = p
        case .principals(let list):
            switch list.first(where: { $0.name == controlPrincipal })?.credential {
            case .token(let t)?: own.token = t
            case .userPassword(let u, let p)?:
                own.user = u
                own.password = p
            case .certificate?, nil: break  // withControlPrincipal() was not called: the connection will be refused, and says so
            }
        }
        var options = NATSClientOptions(servers: [own])
        options.dial = dial
        return options
    }
}
