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
/// config file, then command-line flags (flags win).
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

    public static let usage = """
        usage: honeycombd [--config FILE] [--listen HOST:PORT] [--token TOKEN | --user USER --pass PASS]
                          [--max-payload BYTES] [--event-loops N] [--log-level debug|info|warn|error]
                          [--nats nats://HOST:PORT[,nats://HOST:PORT...]] [--data DIR] [--prompts DIR]
                          [--http HOST:PORT|off] [--http-read-only] [--otlp URL]
                          [--http-max-connections N] [--http-max-connections-per-address N]
                          [--http-first-byte-timeout-ms MS] [--http-max-body-bytes BYTES]
                          [--http-allowed-hosts NAME,NAME] [--http-max-sessions N] [--http-session-ttl-minutes M]
                          [--modules-max-bytes BYTES] [--modules-max-count N] [--max-spec-bytes N]
                          [--max-blob-bytes BYTES] [--blob-store-bytes BYTES] [--max-blobs N]
                          [--max-drones N] [--tls-cert FILE --tls-key FILE [--tls-ca FILE [--tls-verify]]]
                          [--tls-timeout-ms MS]
        honeycombd tls init DIR [--host NAME|IP ...] [--days N]
        honeycombd tls client DIR NAME [--days N]

        Runs the Hive control plane with its embedded NATS-compatible broker, or on an external NATS
        server or cluster with --nats (the embedded broker is then off).
          --config FILE        JSON config (example: Config/honeycombd.json); flags override it
          --listen HOST:PORT   broker address (default 127.0.0.1:4222)
          --token TOKEN        require this auth token from clients
          --user/--pass        require this user and password from clients (or list "principals" in the config
                               file: a credential and permissions per client; see Docs/OPERATIONS.md)
          --print-nats-authorization   print the config's principals as a nats-server authorization block
          --max-payload BYTES  largest message accepted (default 1048576)
          --event-loops N      broker threads (default: one per core)
          --log-level LEVEL    debug, info, warn or error (default info)
          --nats URLS          use this NATS server/cluster (credentials in the URL: nats://user:pass@host:port)
                               (tls://host:port for TLS: --tls-ca then verifies the cluster, --tls-cert and
                               --tls-key are honeycombd's client certificate)
          --data DIR           journal accepted goals and task results here (survives crashes and restarts)
          --prompts DIR        role prompt frames replacing the built-in ones file by file (ROLE.txt, ROLE.completion.txt)
          --http HOST:PORT     HTTP API, dashboard and /metrics (default 127.0.0.1:8420; off to disable); it
                               asks for the broker's token or user/password when those are set, and
                               refuses to listen beyond loopback without them
          --http-read-only     serve HTTP without submit and cancel
          --otlp URL           send finished goals' traces as OTLP/HTTP JSON (e.g. http://collector:4318/v1/traces)
          --http-max-connections N     open HTTP connections (default 256); past it an idle or unauthenticated
                               connection is evicted for the newcomer, else 503
          --http-max-connections-per-address N   the same, per client address (default 64)
          --http-first-byte-timeout-ms MS   a new HTTP connection must start its request within this (default 5000)
          --http-max-body-bytes BYTES  largest HTTP request body, as sent (default 1048576)
          --http-allowed-hosts NAMES   host names browsers may use for the dashboard besides loopback and the
                               listen address (comma-separated; others get 421: DNS rebinding guard)
          --http-max-sessions N        dashboard login sessions at once (default 256); a login past it ends the oldest
          --http-session-ttl-minutes M a dashboard login lasts this long (default 720)
          --modules-max-bytes BYTES    total size of stored WebAssembly modules (default 268435456)
          --modules-max-count N        number of stored WebAssembly modules (default 1024)
          --max-blob-bytes BYTES       largest task input or output uploaded in parts (default 67108864, at most 1 GiB)
          --blob-store-bytes BYTES     total size of stored blobs (default 1073741824)
          --max-blobs N                number of stored blobs (default 4096)
          --max-spec-bytes N   largest goal accepted for submission, in bytes (default 4194304)
          --max-drones N       drones registered at once (default 10000); gone drones are forgotten first
          --tls-cert FILE      serve TLS on the bus and HTTPS on the HTTP API with this certificate (PEM chain);
                               clients then need tls://HOST:PORT and the CA (--tls-ca) that signed it
          --tls-key FILE       the certificate's private key (PEM)
          --tls-ca FILE        verify client certificates against this CA: a verified certificate can be a
                               principal's identity ("certificate": NAME in principals); with --nats, the CA that
                               signed the cluster's certificates
          --tls-verify         require a client certificate from every bus client (mutual TLS)
          --tls-timeout-ms MS  a client must finish the TLS handshake within this (default 2000)
          Certificates are read again on SIGHUP (connections already up keep theirs).

        honeycombd tls init DIR --host NAME ...   make a private CA and a certificate for honeycombd naming
                               these hosts (and localhost, 127.0.0.1) in DIR, and print how to use them
        honeycombd tls client DIR NAME            make a client certificate NAME.pem signed by DIR's CA
        """

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
            case "max_drones": control.maxDrones = try positive(key, try int(key, value))
            case "journal_compact_bytes": journalCompactBytes = try int(key, value)
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
            case "max_blob_bytes": blobQuota.maxBlobBytes = try blobBytes(key, try positive(key, try int(key, value)))
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
    private func positive(_ key: String, _ n: Int) throws(HoneycombConfigError) -> Int {
        guard n >= 1 else { throw .invalidValue(key: key, reason: "must be at least 1, not \(n)") }
        return n
    }

    /// The per-blob limit: at most what a goal's `input.size` may say (`SpecLimits.blobSize`, 1 GiB).
    private static func blobBytes(_ key: String, _ n: Int) throws(HoneycombConfigError) -> Int {
        guard n <= SpecLimits.blobSize.upperBound else {
            throw .invalidValue(key: key, reason: "must be at most \(SpecLimits.blobSize.upperBound) (1 GiB), not \(n)")
        }
        return n
    }

    private func blobBytes(_ key: String, _ n: Int) throws(HoneycombConfigError) -> Int { try Self.blobBytes(key, n) }

    /// A flag's value as a limit: a whole number, at least 1.
    private static func positive(_ flag: String, _ value: String) throws(HoneycombConfigError) -> Int {
        guard let n = Int(value), n >= 1 else { throw .invalidValue(key: flag, reason: "'\(value)' is not a whole number of at least 1") }
        return n
    }

    private func int(_ key: String, _ v: JSONValue) throws(HoneycombConfigError) -> Int {
        guard case .number(let d) = v, d.rounded() == d, abs(d) < 1e15 else {
            throw .wrongType(key: key, expected: "an integer", got: v.typeName)
        }
        return Int(d)
    }

    /// Builds the configuration from command-line arguments (without the program name), reading `--config`
    /// first so flags override the file regardless of order.
    public static func from(arguments: [String], readFile: (String) throws -> Data) throws(HoneycombConfigError) -> HoneycombConfig {
        var config = HoneycombConfig()
        var flags: [(String, String)] = []
        var i = 0
        while i < arguments.count {
            let arg = arguments[i]
            let known = ["--config", "--listen", "--token", "--user", "--pass", "--max-payload", "--event-loops", "--log-level",
                         "--nats", "--data", "--prompts", "--http", "--http-read-only", "--otlp", "--http-max-connections",
                         "--http-max-connections-per-address", "--http-first-byte-timeout-ms", "--http-max-body-bytes",
                         "--modules-max-bytes", "--modules-max-count", "--max-spec-bytes", "--max-drones",
                         "--max-blob-bytes", "--blob-store-bytes", "--max-blobs",
                         "--http-allowed-hosts", "--http-max-sessions", "--http-session-ttl-minutes",
                         "--tls-cert", "--tls-key", "--tls-ca", "--tls-verify", "--tls-timeout-ms"]
            var name = arg, value: String?
            if let eq = arg.firstIndex(of: "="), arg.hasPrefix("--") {
                name = String(arg[..<eq])
                value = String(arg[arg.index(after: eq)...])
            }
            guard known.contains(name) else { throw .usage("unknown option '\(arg)'\n\n\(usage)") }
            if name == "--http-read-only" || name == "--tls-verify" {  // a switch, no value
                flags.append((name, value ?? "true"))
                i += 1
                continue
            }
            if value == nil {
                i += 1
                guard i < arguments.count else { throw .usage("option \(name) needs a value\n\n\(usage)") }
                value = arguments[i]
            }
            flags.append((name, value!))
            i += 1
        }
        if let path = flags.last(where: { $0.0 == "--config" })?.1 {
            let data: Data
            do { data = try readFile(path) } catch { throw .unreadableFile(path: path, reason: String(describing: error)) }
            try config.apply(json: data, path: path)
        }
        var token: String?, user: String?, pass: String?
        for (name, value) in flags {
            switch name {
            case "--listen": try config.setListen(value)
            case "--token": token = value
            case "--user": user = value
            case "--pass": pass = value
            case "--max-payload":
                guard let n = Int(value) else { throw .invalidValue(key: "--max-payload", reason: "'\(value)' is not a number") }
                config.broker.maxPayload = n
            case "--event-loops":
                guard let n = Int(value) else { throw .invalidValue(key: "--event-loops", reason: "'\(value)' is not a number") }
                config.broker.eventLoops = n
            case "--log-level": try config.setLogLevel(value)
            case "--nats": try config.setExternalBus(value)
            case "--data": config.dataDirectory = value
            case "--prompts": config.promptsDirectory = value
            case "--http": try config.setHTTP(value)
            case "--otlp": try config.setOTLP(value)
            case "--http-max-connections": config.httpServer.maxConnections = try positive(name, value)
            case "--http-max-connections-per-address": config.httpServer.maxConnectionsPerAddress = try positive(name, value)
            case "--http-first-byte-timeout-ms": config.httpServer.firstByteTimeout = Double(try positive(name, value)) / 1000
            case "--http-max-body-bytes": config.httpServer.limits.maxBodyBytes = try positive(name, value)
            case "--http-allowed-hosts": try config.setAllowedHosts(value.split(separator: ",").map(String.init))
            case "--http-max-sessions": config.httpSessions.maxSessions = try positive(name, value)
            case "--http-session-ttl-minutes": try config.setSessionMinutes(name, try positive(name, value))
            case "--modules-max-bytes": config.moduleQuota.maxBytes = try positive(name, value)
            case "--modules-max-count": config.moduleQuota.maxCount = try positive(name, value)
            case "--max-blob-bytes": config.blobQuota.maxBlobBytes = try blobBytes(name, try positive(name, value))
            case "--blob-store-bytes": config.blobQuota.maxBytes = try positive(name, value)
            case "--max-blobs": config.blobQuota.maxCount = try positive(name, value)
            case "--max-spec-bytes": config.control.maxSpecBytes = try positive(name, value)
            case "--max-drones": config.control.maxDrones = try positive(name, value)
            case "--http-read-only":
                guard let b = Bool(value) else { throw .invalidValue(key: "--http-read-only", reason: "'\(value)' is not true or false") }
                config.httpReadOnly = b
            case "--tls-cert": config.tls.certificate = value
            case "--tls-key": config.tls.key = value
            case "--tls-ca": config.tls.ca = value
            case "--tls-verify":
                guard let b = Bool(value) else { throw .invalidValue(key: "--tls-verify", reason: "'\(value)' is not true or false") }
                config.tls.verifyClients = b
            case "--tls-timeout-ms": config.tlsTimeoutMillis = try positive(name, value)
            default: break
            }
        }
        if token != nil || user != nil || pass != nil { try config.setAuth(token: token, user: user, pass: pass) }
        if let problem = config.broker.validate() { throw .invalidValue(key: "configuration", reason: problem) }
        if config.control.heartbeatMillis < 10 { throw .invalidValue(key: "heartbeat_ms", reason: "must be at least 10") }
        if config.control.lostAfterMillis <= config.control.heartbeatMillis {
            throw .invalidValue(key: "drone_lost_after_ms", reason: "must be longer than heartbeat_ms")
        }
        if !(1024...(256 << 20)).contains(config.control.maxSpecBytes) {
            throw .invalidValue(key: "max_spec_bytes", reason: "must be 1024 to \(256 << 20)")
        }
        if config.control.defaultTimeoutMillis < 1 { throw .invalidValue(key: "task_timeout_ms", reason: "must be positive") }
        if config.journalCompactBytes < 4096 { throw .invalidValue(key: "journal_compact_bytes", reason: "must be at least 4096") }
        if config.tlsTimeoutMillis > 600_000 { throw .invalidValue(key: "tls_timeout_ms", reason: "must be at most 600000") }
        if config.externalBus == nil {
            if let why = config.tls.serverProblem { throw .invalidValue(key: "tls", reason: why) }
        } else {
            if config.tls.verifyClients { throw .invalidValue(key: "tls_verify", reason: "with --nats the cluster verifies clients: tls_verify applies to the embedded broker only") }
            if let why = config.tls.clientProblem { throw .invalidValue(key: "tls", reason: why) }
        }
        if case .principals(let list) = config.broker.auth, config.tls.ca == nil,
           let p = list.first(where: { if case .certificate = $0.credential { return true } else { return false } }) {
            throw .invalidValue(key: "principals", reason: "principal '\(p.name)' is identified by a client certificate: that needs tls_ca (--tls-ca), the CA that signs client certificates")
        }
        return config
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
