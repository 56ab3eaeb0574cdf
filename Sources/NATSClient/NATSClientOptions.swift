import HiveTLS

/// How a client connects, reconnects and buffers. Defaults follow the official NATS clients.
public struct NATSClientOptions: Sendable {
    public var servers: [ServerAddress]
    /// Shown in the server's monitoring and logs.
    public var name: String?
    /// Credentials used for servers whose URL carries none.
    public var user: String?
    public var password: String?
    public var token: String?
    /// Do not receive our own publishes.
    public var noEcho = false
    /// Reconnect after a lost connection (else the client closes).
    public var allowReconnect = true
    /// Full passes over the server list before giving up; -1 retries forever.
    public var maxReconnectAttempts = 60
    /// Wait after a full failed pass, doubled each pass up to `maxReconnectWaitMillis`, plus up to 20 % jitter.
    public var reconnectWaitMillis = 250
    public var maxReconnectWaitMillis = 4_000
    /// Keep trying the initial connect as if reconnecting, instead of failing at once.
    public var retryOnFailedConnect = false
    /// Shuffle the configured servers (spreads clients over a cluster).
    public var randomizeServers = true
    public var connectTimeoutMillis = 2_000
    /// Bytes of publishes kept while disconnected; past it `publish` fails with `reconnectBufferFull`.
    public var reconnectBufferBytes = 8 << 20
    /// Bytes queued for the writer while connected before `publish` waits for it (backpressure).
    public var maxOutboundBytes = 64 << 20
    /// Client PING interval and how many may go unanswered before the connection counts as stale.
    public var pingIntervalMillis = 120_000
    public var maxPingsOut = 2
    /// Messages buffered per subscription before new ones are dropped (and counted as dropped).
    public var subscriptionBufferLimit = 65_536
    /// Prefix for request inboxes.
    public var inboxPrefix = "_INBOX"
    /// Where the connected socket comes from instead of TCP (for each connect and reconnect): honeycombd's own
    /// connection to its embedded broker is a socket pair (`Broker.connectInProcess`). A failure is reported
    /// and retried like a failed TCP connect.
    public var dial: (@Sendable (ServerAddress) throws(NATSClientError) -> Int32)?

    /// TLS: the CA that signed the servers' certificates (else the system's trusted CAs) and a client certificate
    /// and key to present (mutual TLS). Set, every connection must be TLS, as with `tls://` URLs; unset, a
    /// connection is TLS when its URL is `tls://` or the server's INFO says `tls_required` (verified against the
    /// system's CAs). The server's certificate must name the host dialed.
    public var tls: TLSFiles?

    public init(servers: [ServerAddress]) { self.servers = servers }

    /// Options for a comma-separated URL list.
    public init(urls: String) throws(NATSClientError) { servers = try ServerAddress.parseList(urls) }
}

/// Lifecycle changes, reported on `NATSClient.events`.
public enum NATSClientEvent: Sendable, Equatable {
    case connected(server: String)
    case disconnected(reason: String)
    case reconnected(server: String)
    /// A server this client did not know was announced by the cluster.
    case discoveredServers([String])
    /// The server sent an `-ERR` (the connection may continue) or sent something unparseable.
    case error(String)
    /// A subscription's buffer was full and a message was dropped.
    case slowConsumer(subject: String)
    case closed
}

/// Where the connection stands.
public enum NATSClientStatus: Sendable, Equatable {
    case connecting
    case connected
    case reconnecting
    case draining
    case closed
}
