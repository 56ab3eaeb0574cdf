import FoundationEssentials
import HiveCommandLine
import HiveCore

/// honeycombd's serving options, declared once: each option's declaration (parsing and `--help`, through
/// HiveCommandLine) beside what its value sets in the configuration. `honeycombd`'s `ProgramSpec` lists
/// `commandLineOptions`; `from(_:readFile:)` builds the configuration from what HiveCommandLine parsed.
/// Precedence: defaults, then the `--config` file, then the flags (wherever `--config` stands among them).
extension HoneycombConfig {
    /// One option: its declaration and how its value sets the configuration, checked as the same key in a config
    /// file is (nil: `from` handles it itself, or it is an action of honeycombd's rather than a setting).
    struct CommandLineOption: Sendable {
        let spec: OptionSpec
        let apply: (@Sendable (inout HoneycombConfig, String) throws(HoneycombConfigError) -> Void)?

        init(_ spec: OptionSpec, _ apply: (@Sendable (inout HoneycombConfig, String) throws(HoneycombConfigError) -> Void)? = nil) {
            self.spec = spec
            self.apply = apply
        }
    }

    /// The declarations, in the order `--help` lists them.
    static let commandLine: [CommandLineOption] = [
        .init(.value("--config", "FILE", help: "JSON config (example: Config/honeycombd.json); flags override it")),
        .init(.value("--listen", "HOST:PORT", help: "broker address", default: "127.0.0.1:4222")) { c, v throws(HoneycombConfigError) in
            try c.setListen(v)
        },
        .init(.value("--token", "TOKEN", help: "require this auth token from clients")),
        .init(.value("--user", "USER", help: "require this user (with --pass) from clients (or list \"principals\" in the config file: a credential and permissions per client; see Docs/OPERATIONS.md)")),
        .init(.value("--pass", "PASS", help: "the password for --user")),
        .init(.flag("--print-nats-authorization", help: "print the config's principals as a nats-server authorization block, then exit")),
        .init(.value("--max-payload", "BYTES", help: "largest message accepted", default: "1048576")) { c, v throws(HoneycombConfigError) in
            c.broker.maxPayload = try number("--max-payload", v)
        },
        .init(.value("--event-loops", "N", help: "broker threads", default: "one per core")) { c, v throws(HoneycombConfigError) in
            c.broker.eventLoops = try number("--event-loops", v)
        },
        .init(.value("--log-level", "LEVEL", help: "debug, info, warn or error", default: "info")) { c, v throws(HoneycombConfigError) in
            try c.setLogLevel(v)
        },
        .init(.value("--nats", "URLS", help: "use this NATS server/cluster (credentials in the URL: nats://user:pass@host:port; tls://host:port for TLS: --tls-ca then verifies the cluster, --tls-cert and --tls-key are honeycombd's client certificate)")) { c, v throws(HoneycombConfigError) in
            try c.setExternalBus(v)
        },
        .init(.value("--data", "DIR", help: "journal accepted goals and task results here (survives crashes and restarts)")) { c, v throws(HoneycombConfigError) in
            c.dataDirectory = v
        },
        .init(.value("--journal", "jetstream://STREAM[?replicas=N]", help: "keep the journal in this JetStream stream (subjects STREAM.>) on the --nats cluster instead of --data; a missing or misconfigured stream stops startup (see --journal-create)")) { c, v throws(HoneycombConfigError) in
            try c.setJournal(v)
        },
        .init(.flag("--journal-create", help: "create the --journal stream when it is missing (file storage, the URL's replicas or 1)")) { c, _ throws(HoneycombConfigError) in
            c.journalCreate = true
        },
        .init(.value("--journal-ack-timeout-ms", "MS", help: "how long a submit waits for the --journal stream's publish ack before answering unavailable (the goal stays queued for the stream)", default: "5000")) { c, v throws(HoneycombConfigError) in
            c.journalAckTimeout = Double(try positive("--journal-ack-timeout-ms", v)) / 1000
        },
        .init(.value("--leader-heartbeat-ms", "MS", help: "with --journal: how often the active honeycombd renews its leader lease; it lapses after two missed renewals, and a standby sharing the stream takes over", default: "1000")) { c, v throws(HoneycombConfigError) in
            c.leaderHeartbeat = Double(try positive("--leader-heartbeat-ms", v)) / 1000
        },
        .init(.value("--prompts", "DIR", help: "role prompt frames replacing the built-in ones file by file (ROLE.txt, ROLE.completion.txt)")) { c, v throws(HoneycombConfigError) in
            c.promptsDirectory = v
        },
        .init(.value("--http", "HOST:PORT|off", help: "HTTP API, dashboard and /metrics; it asks for the broker's token or user/password when those are set, and refuses to listen beyond loopback without them",
                     default: "127.0.0.1:8420")) { c, v throws(HoneycombConfigError) in
            try c.setHTTP(v)
        },
        .init(.flag("--http-read-only", help: "serve HTTP without submit and cancel")) { c, _ throws(HoneycombConfigError) in
            c.httpReadOnly = true
        },
        .init(.value("--otlp", "URL", help: "send finished goals' traces as OTLP/HTTP JSON (e.g. http://collector:4318/v1/traces)")) { c, v throws(HoneycombConfigError) in
            try c.setOTLP(v)
        },
        .init(.value("--http-max-connections", "N", help: "open HTTP connections; past it an idle or unauthenticated connection is evicted for the newcomer, else 503", default: "256")) { c, v throws(HoneycombConfigError) in
            c.httpServer.maxConnections = try positive("--http-max-connections", v)
        },
        .init(.value("--http-max-connections-per-address", "N", help: "the same, per client address", default: "64")) { c, v throws(HoneycombConfigError) in
            c.httpServer.maxConnectionsPerAddress = try positive("--http-max-connections-per-address", v)
        },
        .init(.value("--http-first-byte-timeout-ms", "MS", help: "a new HTTP connection must start its request within this", default: "5000")) { c, v throws(HoneycombConfigError) in
            c.httpServer.firstByteTimeout = Double(try positive("--http-first-byte-timeout-ms", v)) / 1000
        },
        .init(.value("--http-max-body-bytes", "BYTES", help: "largest HTTP request body, as sent", default: "1048576")) { c, v throws(HoneycombConfigError) in
            c.httpServer.limits.maxBodyBytes = try positive("--http-max-body-bytes", v)
        },
        .init(.value("--http-allowed-hosts", "NAMES", help: "host names browsers may use for the dashboard besides loopback and the listen address (comma-separated; others get 421: DNS rebinding guard)")) { c, v throws(HoneycombConfigError) in
            try c.setAllowedHosts(v.split(separator: ",").map(String.init))
        },
        .init(.value("--http-max-sessions", "N", help: "dashboard login sessions at once; a login past it ends the oldest", default: "256")) { c, v throws(HoneycombConfigError) in
            c.httpSessions.maxSessions = try positive("--http-max-sessions", v)
        },
        .init(.value("--http-session-ttl-minutes", "M", help: "a dashboard login lasts this long", default: "720")) { c, v throws(HoneycombConfigError) in
            try c.setSessionMinutes("--http-session-ttl-minutes", try positive("--http-session-ttl-minutes", v))
        },
        .init(.value("--modules-max-bytes", "BYTES", help: "total size of stored WebAssembly modules", default: "268435456")) { c, v throws(HoneycombConfigError) in
            c.moduleQuota.maxBytes = try positive("--modules-max-bytes", v)
        },
        .init(.value("--modules-max-count", "N", help: "number of stored WebAssembly modules", default: "1024")) { c, v throws(HoneycombConfigError) in
            c.moduleQuota.maxCount = try positive("--modules-max-count", v)
        },
        .init(.value("--max-blob-bytes", "BYTES", help: "largest task input or output uploaded in parts (at most 1 GiB)", default: "67108864")) { c, v throws(HoneycombConfigError) in
            c.blobQuota.maxBlobBytes = try HoneycombConfig.blobBytes("--max-blob-bytes", try positive("--max-blob-bytes", v))
        },
        .init(.value("--blob-store-bytes", "BYTES", help: "total size of stored blobs", default: "1073741824")) { c, v throws(HoneycombConfigError) in
            c.blobQuota.maxBytes = try positive("--blob-store-bytes", v)
        },
        .init(.value("--max-blobs", "N", help: "number of stored blobs", default: "4096")) { c, v throws(HoneycombConfigError) in
            c.blobQuota.maxCount = try positive("--max-blobs", v)
        },
        .init(.value("--max-spec-bytes", "N", help: "largest goal accepted for submission, in bytes", default: "4194304")) { c, v throws(HoneycombConfigError) in
            c.control.maxSpecBytes = try positive("--max-spec-bytes", v)
        },
        .init(.value("--max-replies-awaiting-journal", "N", help: "API replies waiting for the journal at once; past it the API reads no more requests until one is sent", default: "1024")) { c, v throws(HoneycombConfigError) in
            c.control.maxRepliesAwaitingJournal = try positive("--max-replies-awaiting-journal", v)
        },
        .init(.value("--max-drones", "N", help: "drones registered at once; gone drones are forgotten first", default: "10000")) { c, v throws(HoneycombConfigError) in
            c.control.maxDrones = try positive("--max-drones", v)
        },
        .init(.value("--max-batch", "N", help: "results read from one drone message and assignments sent in one, for drones that ask for lists (1: none)", default: "\(DroneBatch.defaultMaxBatch)")) { c, v throws(HoneycombConfigError) in
            c.control.maxBatch = try batchLimit("--max-batch", try positive("--max-batch", v))
        },
        .init(.value("--tls-cert", "FILE", help: "serve TLS on the bus and HTTPS on the HTTP API with this certificate (PEM chain); clients then need tls://HOST:PORT and the CA (--tls-ca) that signed it")) { c, v throws(HoneycombConfigError) in
            c.tls.certificate = v
        },
        .init(.value("--tls-key", "FILE", help: "the certificate's private key (PEM)")) { c, v throws(HoneycombConfigError) in
            c.tls.key = v
        },
        .init(.value("--tls-ca", "FILE", help: "verify client certificates against this CA: a verified certificate can be a principal's identity (\"certificate\": NAME in principals); with --nats, the CA that signed the cluster's certificates")) { c, v throws(HoneycombConfigError) in
            c.tls.ca = v
        },
        .init(.flag("--tls-verify", help: "require a client certificate from every bus client (mutual TLS)")) { c, _ throws(HoneycombConfigError) in
            c.tls.verifyClients = true
        },
        .init(.value("--tls-timeout-ms", "MS", help: "a client must finish the TLS handshake within this", default: "2000")) { c, v throws(HoneycombConfigError) in
            c.tlsTimeoutMillis = try positive("--tls-timeout-ms", v)
        },
    ]

    /// honeycombd's serving options, for its `ProgramSpec`.
    public static var commandLineOptions: [OptionSpec] { commandLine.map(\.spec) }

    /// The configuration from a parsed command line (`commandLineOptions`): the `--config` file first, then every
    /// flag given over it, then the checks that span several settings (`validate`).
    public static func from(_ parsed: ParsedArguments, readFile: (String) throws -> Data) throws(HoneycombConfigError) -> HoneycombConfig {
        var config = HoneycombConfig()
        if let path = parsed.string("--config") {
            let data: Data
            do { data = try readFile(path) } catch { throw .unreadableFile(path: path, reason: String(describing: error)) }
            try config.apply(json: data, path: path)
        }
        for option in commandLine {
            guard let apply = option.apply, parsed.has(option.spec.name) else { continue }
            try apply(&config, parsed.string(option.spec.name) ?? "")
        }
        let (token, user, pass) = (parsed.string("--token"), parsed.string("--user"), parsed.string("--pass"))
        if token != nil || user != nil || pass != nil { try config.setAuth(token: token, user: user, pass: pass) }
        try config.validate()
        return config
    }

    /// The configuration from command-line arguments (without the program's name), parsed against
    /// `commandLineOptions`; a malformed command line is a `.usage` error in HiveCommandLine's words.
    public static func from(arguments: [String], readFile: (String) throws -> Data) throws(HoneycombConfigError) -> HoneycombConfig {
        let parser = CommandParser(commandName: "honeycombd", options: commandLineOptions, arguments: [])
        let outcome: CommandParser.Outcome
        do { outcome = try parser.parse(arguments) } catch { throw .usage(error.description) }
        guard case .parsed(let parsed) = outcome else { throw .usage("see honeycombd --help") }
        return try from(parsed, readFile: readFile)
    }

    /// A flag's value as a whole number (the broker's own checks bound it later).
    static func number(_ flag: String, _ value: String) throws(HoneycombConfigError) -> Int {
        guard let n = Int(value) else { throw .invalidValue(key: flag, reason: "'\(value)' is not a number") }
        return n
    }

    /// A flag's value as a limit: a whole number, at least 1.
    static func positive(_ flag: String, _ value: String) throws(HoneycombConfigError) -> Int {
        guard let n = Int(value), n >= 1 else { throw .invalidValue(key: flag, reason: "'\(value)' is not a whole number of at least 1") }
        return n
    }
}
