import HiveCommandLine

/// honeycombd's command line, declared once: `honeycombd [options]` serves, `honeycombd tls init|client` makes
/// certificates. The serving options' values are then checked (and merged with `--config`) by `HoneycombConfig`,
/// which also checks the same keys in a config file.
let honeycombdProgram = ProgramSpec("honeycombd", summary: """
    Runs the Hive control plane with its embedded NATS-compatible broker, or on an external NATS server or cluster \
    with --nats (the embedded broker is then off). Certificates are read again on SIGHUP (connections already up \
    keep theirs).
    """, commands: [tlsCommand], defaultCommand: CommandSpec("honeycombd", summary: "serve", options: [
        .value("--config", "FILE", help: "JSON config (example: Config/honeycombd.json); flags override it"),
        .value("--listen", "HOST:PORT", help: "broker address", default: "127.0.0.1:4222"),
        .value("--token", "TOKEN", help: "require this auth token from clients"),
        .value("--user", "USER", help: "require this user (with --pass) from clients (or list \"principals\" in the config file: a credential and permissions per client; see Docs/OPERATIONS.md)"),
        .value("--pass", "PASS", help: "the password for --user"),
        .flag("--print-nats-authorization", help: "print the config's principals as a nats-server authorization block, then exit"),
        .value("--max-payload", "BYTES", help: "largest message accepted", default: "1048576"),
        .value("--event-loops", "N", help: "broker threads", default: "one per core"),
        .value("--log-level", "LEVEL", help: "debug, info, warn or error", default: "info"),
        .value("--nats", "URLS", help: "use this NATS server/cluster (credentials in the URL: nats://user:pass@host:port; tls://host:port for TLS: --tls-ca then verifies the cluster, --tls-cert and --tls-key are honeycombd's client certificate)"),
        .value("--data", "DIR", help: "journal accepted goals and task results here (survives crashes and restarts)"),
        .value("--prompts", "DIR", help: "role prompt frames replacing the built-in ones file by file (ROLE.txt, ROLE.completion.txt)"),
        .value("--http", "HOST:PORT|off", help: "HTTP API, dashboard and /metrics; it asks for the broker's token or user/password when those are set, and refuses to listen beyond loopback without them",
               default: "127.0.0.1:8420"),
        .flag("--http-read-only", help: "serve HTTP without submit and cancel"),
        .value("--otlp", "URL", help: "send finished goals' traces as OTLP/HTTP JSON (e.g. http://collector:4318/v1/traces)"),
        .value("--http-max-connections", "N", help: "open HTTP connections; past it an idle or unauthenticated connection is evicted for the newcomer, else 503", default: "256"),
        .value("--http-max-connections-per-address", "N", help: "the same, per client address", default: "64"),
        .value("--http-first-byte-timeout-ms", "MS", help: "a new HTTP connection must start its request within this", default: "5000"),
        .value("--http-max-body-bytes", "BYTES", help: "largest HTTP request body, as sent", default: "1048576"),
        .value("--http-allowed-hosts", "NAMES", help: "host names browsers may use for the dashboard besides loopback and the listen address (comma-separated; others get 421: DNS rebinding guard)"),
        .value("--http-max-sessions", "N", help: "dashboard login sessions at once; a login past it ends the oldest", default: "256"),
        .value("--http-session-ttl-minutes", "M", help: "a dashboard login lasts this long", default: "720"),
        .value("--modules-max-bytes", "BYTES", help: "total size of stored WebAssembly modules", default: "268435456"),
        .value("--modules-max-count", "N", help: "number of stored WebAssembly modules", default: "1024"),
        .value("--max-blob-bytes", "BYTES", help: "largest task input or output uploaded in parts (at most 1 GiB)", default: "67108864"),
        .value("--blob-store-bytes", "BYTES", help: "total size of stored blobs", default: "1073741824"),
        .value("--max-blobs", "N", help: "number of stored blobs", default: "4096"),
        .value("--max-spec-bytes", "N", help: "largest goal accepted for submission, in bytes", default: "4194304"),
        .value("--max-drones", "N", help: "drones registered at once; gone drones are forgotten first", default: "10000"),
        .value("--tls-cert", "FILE", help: "serve TLS on the bus and HTTPS on the HTTP API with this certificate (PEM chain); clients then need tls://HOST:PORT and the CA (--tls-ca) that signed it"),
        .value("--tls-key", "FILE", help: "the certificate's private key (PEM)"),
        .value("--tls-ca", "FILE", help: "verify client certificates against this CA: a verified certificate can be a principal's identity (\"certificate\": NAME in principals); with --nats, the CA that signed the cluster's certificates"),
        .flag("--tls-verify", help: "require a client certificate from every bus client (mutual TLS)"),
        .value("--tls-timeout-ms", "MS", help: "a client must finish the TLS handshake within this", default: "2000"),
    ]))

let tlsDaysOption = OptionSpec.value("--days", "N", help: "how long the certificate is valid, 1 to 36500 days", default: "825")

/// `honeycombd tls init|client`: see `TLSCommand`.
let tlsCommand = CommandSpec("tls", summary: "a private CA for a LAN without a PKI, and certificates signed by it", subcommands: [
    CommandSpec("init", summary: "make a private CA in DIR (kept if DIR already has one) and a certificate for honeycombd that names every --host (plus localhost and 127.0.0.1): the names drones will dial",
                options: [.repeated("--host", "NAME|IP", help: "a name or address drones dial (repeat, or comma-separate)"), tlsDaysOption],
                arguments: [ArgumentSpec("DIR", help: "where the CA and the certificates live")]),
    CommandSpec("client", summary: "make a client certificate NAME.pem/NAME-key.pem signed by DIR's CA (mutual TLS: a principal with \"certificate\": \"NAME\" connects with it)",
                options: [tlsDaysOption],
                arguments: [ArgumentSpec("DIR", help: "the directory tls init made"), ArgumentSpec("NAME", help: "the client's name")]),
])
