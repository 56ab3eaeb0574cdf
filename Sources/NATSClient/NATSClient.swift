import HiveTLS
import NATSWire

/// A NATS client: publish, subscribe, request/reply, flush and drain, with automatic reconnects across a
/// server list. Works against honeycombd's embedded broker and any nats-server or cluster.
///
/// ```swift
/// let nc = try await NATSClient.connect(urls: "nats://127.0.0.1:4222")
/// let sub = try nc.subscribe("greet.*")
/// try nc.publish("greet.joe", "hello")
/// for await msg in sub { print(msg.subject, msg.string) }
/// ```
///
/// Thread-safe: share one client across tasks. Errors thrown are `NATSClientError` (or `CancellationError`
/// for a cancelled request).
public final class NATSClient: Sendable {
    let core: ClientCore

    private init(core: ClientCore) { self.core = core }

    deinit { core.close() }

    /// Connects to the first reachable server of `options.servers`.
    public static func connect(_ options: NATSClientOptions) async throws -> NATSClient {
        if options.servers.isEmpty { throw NATSClientError.noServers }
        // One TLS context per client, made here so that unreadable files fail the connect at once.
        var context: TLSContext?
        if options.tls != nil || options.servers.contains(where: \.tls) {
            do { context = try TLSContext.client(options.tls ?? TLSFiles()) } catch { throw NATSClientError.tls(error) }
        }
        let core = ClientCore(options: options, tlsContext: context)
        try await withCheckedThrowingContinuation { (c: CheckedContinuation<Void, Error>) in core.start(c) }
        return NATSClient(core: core)
    }

    /// Connects with default options to a comma-separated URL list.
    public static func connect(urls: String) async throws -> NATSClient {
        try await connect(NATSClientOptions(urls: urls))
    }

    /// Lifecycle events (connected, disconnected, reconnected, errors, closed). One consumer at a time.
    public var events: AsyncStream<NATSClientEvent> { core.events }

    public var status: NATSClientStatus { core.lock.withLock { core.status } }

    /// The server currently connected to (`host:port`), if any.
    public var connectedServer: String? { core.lock.withLock { core.fd >= 0 ? core.currentServer?.description : nil } }

    /// The connected server's name in its cluster (INFO `server_name`), if any: what JetStream's stream info
    /// names a raft leader by.
    public var connectedServerName: String? { core.lock.withLock { core.fd >= 0 ? core.serverName : nil } }

    /// The current connection's TLS protocol and cipher ("TLSv1.3 TLS_AES_256_GCM_SHA384"); nil when plain text
    /// or not connected.
    public var negotiatedTLS: String? { core.lock.withLock { core.fd >= 0 ? core.session?.negotiated : nil } }

    /// How many times the client has reconnected since it first connected. Core NATS keeps nothing for a
    /// subscriber that is away: a caller that sees this change knows that messages published meanwhile may be lost,
    /// and asks for the state it was listening for (`hive submit --wait` asks how its goal stands).
    public var reconnects: Int { core.lock.withLock { max(0, core.connections - 1) } }

    /// Every server known, configured and discovered.
    public var knownServers: [String] { core.lock.withLock { core.pool.servers.map(\.description) } }

    /// The connected server's max_payload.
    public var maxPayload: Int { core.lock.withLock { core.maxPayload } }

    /// Publishes `payload` to `subject` (queued; sent by the writer thread, many publishes per syscall).
    public func publish(_ subject: String, _ payload: [UInt8] = [], reply: String? = nil,
                        headers: NATSHeaders? = nil) throws {
        try payload.withUnsafeBytes { (p: UnsafeRawBufferPointer) throws -> Void in
            try core.publish(subject: subject, reply: reply, headers: headers, payload: p)
        }
    }

    public func publish(_ subject: String, _ text: String, reply: String? = nil, headers: NATSHeaders? = nil) throws {
        try publish(subject, Array(text.utf8), reply: reply, headers: headers)
    }

    /// Subscribes to `subject` (wildcards allowed), optionally in queue group `queue`.
    public func subscribe(_ subject: String, queue: String? = nil) throws -> NATSSubscription {
        try core.subscribe(subject: subject, queue: queue)
    }

    /// Sends a request and waits for the first reply, through one shared inbox subscription.
    public func request(_ subject: String, _ payload: [UInt8] = [], headers: NATSHeaders? = nil,
                        timeout: Double = 5) async throws -> NATSMessage {
        try await core.request(subject: subject, payload: payload, headers: headers, timeout: timeout)
    }

    public func request(_ subject: String, _ text: String, headers: NATSHeaders? = nil, timeout: Double = 5) async throws -> NATSMessage {
        try await request(subject, Array(text.utf8), headers: headers, timeout: timeout)
    }

    /// Returns once the server has processed everything sent before it (a PING/PONG round trip).
    public func flush(timeout: Double = 5) async throws { try await core.flush(timeout: timeout) }

    /// Unsubscribes everything, lets in-flight messages reach their subscribers, sends what is queued, closes.
    public func drain(timeout: Double = 5) async throws { try await core.drain(timeout: timeout) }

    /// Closes at once: pending requests and flushes fail with `.closed`, subscriptions end.
    public func close() { core.close() }
}
