/// How clients authenticate. Set at most one mechanism.
public enum BrokerAuth: Sendable, Equatable {
    case none
    /// One shared token with every permission (a hive on one machine).
    case token(String)
    /// One shared user and password with every permission.
    case userPassword(user: String, password: String)
    /// Each client is one of these principals and gets its permissions (replaceable: `Broker.setPrincipals`).
    case principals([Principal])

    public var isRequired: Bool { self != .none }
}

/// Everything the embedded broker can be told. Defaults are nats-server 2.9.10's.
public struct BrokerConfig: Sendable, Equatable {
    public var listen = ListenAddress(host: "127.0.0.1", port: 4222)
    public var serverName = "honeycombd"
    public var auth = BrokerAuth.none
    /// Largest PUB/HPUB payload accepted (advertised in INFO).
    public var maxPayload = 1 << 20
    /// Longest control-line argument accepted.
    public var maxControlLine = 4096
    /// Outbound bytes queued for one client before it is cut off as a slow consumer.
    public var maxPending = 64 << 20
    /// How long a client's socket may stay unwritable with data queued before it is a slow consumer.
    public var writeDeadlineMillis = 10_000
    /// Interval between server PINGs to an idle client.
    public var pingIntervalMillis = 120_000
    /// Unanswered PINGs tolerated before `Stale Connection`.
    public var pingMax = 2
    /// Time a client has to send CONNECT when auth is required.
    public var authTimeoutMillis = 2_000
    /// Connection limit (`maximum connections exceeded` beyond it).
    public var maxConnections = 65_536
    /// Per-connection subscription limit; 0 is unlimited.
    public var maxSubscriptions = 0
    /// Event-loop threads; 0 means one per CPU core.
    public var eventLoops = 0
    /// Reply subjects one `allow_responses` connection may hold permits for (nats-server's fixed 4096).
    public var maxResponsePermits = 4096
    /// TLS for client connections (nats-server's `tls {}`): nil serves plain text.
    public var tls: BrokerTLS?

    public init() {}

    /// Checks ranges; returns the first problem found as a sentence for the user.
    public func validate() -> String? {
        if maxPayload < 1 || maxPayload > 64 << 20 { return "max_payload must be between 1 and 67108864 bytes" }
        if maxControlLine < 256 { return "max_control_line must be at least 256 bytes" }
        if maxPending < maxPayload { return "max_pending must be at least max_payload" }
        if writeDeadlineMillis < 1 { return "write_deadline must be positive" }
        if pingIntervalMillis < 10 { return "ping_interval must be at least 10 ms" }
        if pingMax < 1 { return "ping_max must be at least 1" }
        if authTimeoutMillis < 1 { return "auth_timeout must be positive" }
        if maxConnections < 1 { return "max_connections must be positive" }
        if maxSubscriptions < 0 { return "max_subscriptions must be 0 (unlimited) or positive" }
        if eventLoops < 0 || eventLoops > 256 { return "event_loops must be between 0 (one per core) and 256" }
        if maxResponsePermits < 1 || maxResponsePermits > 1 << 20 { return "max_response_permits must be between 1 and 1048576" }
        if let tls, tls.handshakeTimeoutMillis < 1 || tls.handshakeTimeoutMillis > 600_000 {
            return "tls_timeout_ms must be between 1 and 600000"
        }
        switch auth {
        case .token(let t) where t.isEmpty: return "auth token must not be empty"
        case .userPassword(let u, _) where u.isEmpty: return "auth user must not be empty"
        case .principals(let list): return Principal.problem(in: list)
        default: return nil
        }
    }
}
