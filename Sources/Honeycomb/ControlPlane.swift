import FoundationEssentials
import HiveCore
import HiveLog
import HiveHTTP
import HiveTLS
import JetStream
import NATSClient
import NATSServer
import Synchronization

/// honeycombd's control plane on the bus: the `ControlService` (scheduler, registry, journal, API) plus the
/// status endpoint. It always talks to the bus through `NATSClient`, so the same code runs on the embedded
/// broker and on an external NATS server or cluster.
public final class ControlPlane: Sendable {
    public enum BrokerMode: String, Sendable {
        case embedded, external
    }

    /// Where and how to serve HTTP (`HTTPAPI`).
    public struct HTTPSettings: Sendable {
        public var host: String
        public var port: Int
        public var auth: HTTPAuth
        public var readOnly: Bool
        /// Names besides loopback and the listen address that browsers may use in `Host` (`--http-allowed-hosts`).
        public var allowedHosts: [String]
        /// How many browser sessions live at once, and for how long.
        public var sessions: SessionStore<HTTPPrincipal>.Limits
        /// Connection caps, deadlines and request limits.
        public var server: HTTPServer.Options
        /// Metrics appended to the control plane's (the embedded broker's).
        public var extraMetrics: @Sendable () -> String
        /// HTTPS with this certificate (the broker's); nil serves plain HTTP.
        public var tls: TLSServerIdentity?

        public init(host: String, port: Int, auth: HTTPAuth = .none, readOnly: Bool = false, allowedHosts: [String] = [],
                    sessions: SessionStore<HTTPPrincipal>.Limits = .init(),
                    server: HTTPServer.Options = HTTPServer.Options(), extraMetrics: @escaping @Sendable () -> String = { "" },
                    tls: TLSServerIdentity? = nil) {
            self.tls = tls
            self.server = server
            self.host = host
            self.port = port
            self.auth = auth
            self.readOnly = readOnly
            self.allowedHosts = allowedHosts
            self.sessions = sessions
            self.extraMetrics = extraMetrics
        }
    }

    /// Why HTTP was not served.
    public enum HTTPSetupError: Error, CustomStringConvertible, Sendable {
        /// Off loopback, an open API would let anyone on the network run commands on the drones.
        case openOffLoopback(String)
        case server(HTTPServerError)

        public var description: String {
            switch self {
            case .openOffLoopback(let address):
                return "--http \(address) listens beyond loopback but no HTTP credentials are configured: anyone on the network "
                    + "could submit exec goals. Set --token TOKEN or --user USER --pass PASS (config auth, or principals), "
                    + "or listen on loopback (--http 127.0.0.1:PORT)"
            case .server(let e): return e.description
            }
        }
    }

    private let client: NATSClient
    private let service: ControlService
    private let journal: (any JournalStore)?
    private let log = Log("control-plane")
    private let http: Mutex<HTTPServer?> = Mutex(nil)

    private let lease: LeaderLease?
    /// The active one's check that keeps the streams' raft leaders off its node (`RaftLeaderPlacement`).
    private let placement: Task<Void, Never>?

    private init(client: NATSClient, service: ControlService, journal: (any JournalStore)?, lease: LeaderLease?,
                 placement: Task<Void, Never>? = nil) {
        self.lease = lease
        self.placement = placement
        self.client = client
        self.service = service
        self.journal = journal
    }

    /// Serves the HTTP API; returns the port (useful when `settings.port` is 0). Refuses to serve an API open to
    /// anyone on an address beyond loopback.
    public func serveHTTP(_ settings: HTTPSettings) throws(HTTPSetupError) -> Int {
        guard settings.auth.required || HostPolicy.isLoopback(settings.host) else {
            throw .openOffLoopback(ListenAddress(host: settings.host, port: settings.port).description)
        }
        let api = HTTPAPI(service: service, auth: settings.auth, readOnly: settings.readOnly,
                          hosts: HostPolicy(listenHost: settings.host, allowedNames: settings.allowedHosts),
                          sessions: SessionStore(limits: settings.sessions), extraMetrics: settings.extraMetrics,
                          overTLS: settings.tls != nil)
        let server: HTTPServer
        do {
            server = try HTTPServer.start(host: settings.host, port: settings.port, options: settings.server, tls: settings.tls,
                                          admit: { head in api.admit(head) }) { request in await api.handle(request) }
        } catch {
            throw .server(error)
        }
        http.withLock { $0 = server }
        let address = ListenAddress(host: settings.host, port: server.port).description
        log.info("http_listening", ["address": address, "tls": settings.tls == nil ? "no" : "yes",
                                    "url": "\(settings.tls == nil ? "http" : "https")://\(address)/",
                                    "read_only": settings.readOnly, "principals": settings.auth.principals.count])
        return server.port
    }

    /// Opens the journal (the stream of `jetStreamJournal`, else the files under `dataDirectory` when set), connects
    /// to the bus (waiting for it if it is not up yet), recovers accepted goals and starts serving.
    public static func start(options: NATSClientOptions, mode: BrokerMode, dataDirectory: String? = nil,
                             jetStreamJournal: JetStreamJournalSettings? = nil,
                             config: ControlConfig = ControlConfig(), compactAtBytes: Int = 64 << 20,
                             prompts: PromptLibrary = PromptLibrary(), otlpEndpoint: String? = nil,
                             moduleQuota: ModuleQuota = ModuleQuota(), blobQuota: BlobQuota = BlobQuota(),
                             droneCredentials: DroneCredentials? = nil,
                             stepDown: @escaping @Sendable (String) -> Void = { _ in }) async throws -> ControlPlane {
        var journal: (any JournalStore)?
        var recovery: JournalRecovery?
        // A JetStream journal is opened once the bus is up (the stream is on it); the file journal before, so that
        // an unreadable one stops startup before anything connects.
        if jetStreamJournal == nil, let dataDirectory {
            let (file, found) = try Journal.open(directory: dataDirectory)
            (journal, recovery) = (file, found)
        } else if jetStreamJournal == nil {
            Log("control-plane").warn("no_data_directory", ["effect": "goals are kept in memory only; pass --data DIR to journal them"])
        }
        var o = options
        o.name = "honeycombd"
        o.retryOnFailedConnect = true
        o.maxReconnectAttempts = -1
        let client = try await NATSClient.connect(o)
        // With a JetStream journal any number of honeycombd share the stream: this one serves only once it holds the
        // leader lease (a standby waits here), and steps down when it loses it or is fenced out of the stream.
        var lease: LeaderLease?
        var placement: Task<Void, Never>?
        if let jetStreamJournal {
            let held = Mutex<LeaderLease?>(nil)
            let (stream, found) = try await JetStreamJournal.open(client: client, settings: jetStreamJournal, leadership: { js in
                let acquired = await LeaderLease.acquire(js, stream: jetStreamJournal.stream, replicas: jetStreamJournal.replicas ?? 1,
                                                         holder: LeaderLease.holderName(), heartbeat: jetStreamJournal.leaderHeartbeat)
                acquired.keepRenewing(stepDown)
                held.withLock { $0 = acquired }
                return acquired.holder
            }, onFenced: stepDown, config: config)
            (journal, recovery, lease) = (stream, found, held.withLock { $0 })
            if let lease {
                let streams = [jetStreamJournal.stream, JetStreamAPI.keyValueStream(lease.bucket)]
                placement = RaftLeaderPlacement(js: stream.js, streams: streams, period: 5 * jetStreamJournal.leaderHeartbeat).start()
            }
        }
        let started = ContinuousClock.now
        let startedAt = Date.now.formatted(.iso8601)
        let status: @Sendable () -> StatusReply = { [client] in
            StatusReply(service: "honeycombd", version: HiveVersion.current, broker: mode.rawValue,
                        busServer: client.connectedServer ?? "", startedAt: startedAt,
                        uptimeSeconds: Double((ContinuousClock.now - started).components.seconds))
        }
        let exporter = otlpEndpoint.flatMap(URL.init(string:)).map(OTLPExporter.init(url:))
        let service = try await ControlService.start(client: client, journal: journal, dataDirectory: dataDirectory, recovery: recovery, config: config,
                                                     compactAtBytes: compactAtBytes, prompts: prompts, exporter: exporter,
                                                     moduleQuota: moduleQuota, blobQuota: blobQuota, credentials: droneCredentials, status: status)
        try await client.flush()
        let plane = ControlPlane(client: client, service: service, journal: journal, lease: lease, placement: placement)
        plane.log.info("bus_connected", ["broker": mode.rawValue, "server": client.connectedServer ?? "?"])
        if let lease { plane.log.info("serving", ["holder": lease.holder, "stream": jetStreamJournal?.stream ?? "-"]) }
        let events = client.events
        Task {
            for await e in events {
                switch e {
                case .disconnected(let why): plane.log.warn("bus_disconnected", ["reason": why])
                case .reconnected(let s): plane.log.info("bus_reconnected", ["server": s])
                case .error(let e): plane.log.warn("bus_error", ["error": e])
                default: break
                }
            }
        }
        return plane
    }

    /// Stops serving and leaves the bus, in a bounded time. The journal closes before the lease is released (no
    /// write after another honeycombd may lead) and before the bus is drained: API replies still waiting for it
    /// (`ControlService.serve`) are settled then (the file journal flushes what is queued; a JetStream journal
    /// answers its waiters false at once, so a submit not yet acknowledged hears "unavailable", naming its goal)
    /// and the drain sends them. Waiting for a stalled stream's ack deadline per reply held shutdown behind them.
    public func stop() async {
        http.withLock { $0 }?.stop()
        await service.stop()
        placement?.cancel()
        journal?.close()
        await lease?.release()
        try? await client.drain(timeout: 2)
        client.close()
    }
}
