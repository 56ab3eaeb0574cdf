import HiveCommandLine
import Honeycomb

/// honeycombd's command line: `honeycombd [options]` serves, `honeycombd tls init|client` makes certificates. The
/// serving options are declared in `HoneycombConfig.commandLineOptions`, beside what each value sets (and the
/// same checks as its key in a config file get).
let honeycombdProgram = ProgramSpec("honeycombd", summary: """
    Runs the Hive control plane with its embedded NATS-compatible broker, or on an external NATS server or cluster \
    with --nats (the embedded broker is then off). Certificates are read again on SIGHUP (connections already up \
    keep theirs).
    """, commands: [tlsCommand], defaultCommand: CommandSpec("honeycombd", summary: "serve", options: HoneycombConfig.commandLineOptions))

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
