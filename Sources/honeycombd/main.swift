#if canImport(Glibc)
import Glibc
#endif
import Foundation
import HiveCommandLine
import HiveLog
import HiveSystem
import HiveTLS
import Honeycomb
import NATSClient
import NATSServer
import Synchronization

// honeycombd: flags/config → embedded broker (unless --nats) → control plane on the bus → wait for
// SIGTERM/SIGINT → clean shutdown.

let parsed = honeycombdProgram.parseOrExit(Array(CommandLine.arguments.dropFirst()))
if parsed.path.first == "tls" { exit(TLSCommand.run(parsed)) }
// Prints the configured principals as a nats-server authorization block (for a NATS cluster), then exits.
let printNATSAuthorization = parsed.flag("--print-nats-authorization")
var config: HoneycombConfig
do {
    config = try HoneycombConfig.from(parsed) { path in try Data(contentsOf: URL(fileURLWithPath: path)) }
} catch {
    FileHandle.standardError.write(Data("honeycombd: \(error)\n".utf8))
    exit(error.isUsage ? 64 : 78)
}
if printNATSAuthorization {
    guard case .principals(let list) = config.broker.auth else {
        FileHandle.standardError.write(Data("honeycombd: --print-nats-authorization needs 'principals' in the config file\n".utf8))
        exit(64)
    }
    print(NATSServerAuthorization.block(list), terminator: "")
    exit(0)
}
// With principals, honeycombd's own connection is a control principal: generated now if none is configured.
if let generated = config.withControlPrincipal() {
    Log("honeycombd").info("control_principal_generated", ["name": generated.name])
}
Log.setLevel(config.logLevel)

ShutdownSignal.install()

let log = Log("honeycombd")
let prompts: PromptLibrary
do {
    let (library, replaced) = try PromptLibrary.resolve(configured: config.promptsDirectory)
    prompts = library
    log.info("prompts_loaded", ["dir": config.promptsDirectory ?? "builtin",
                                "from_dir": replaced.isEmpty ? "none" : replaced.joined(separator: ","),
                                "roles": library.frames.keys.sorted().joined(separator: ",")])
} catch {
    FileHandle.standardError.write(Data("honeycombd: \(error)\n".utf8))
    exit(78)
}
// Drone credentials issued at run time (hive drone add) join the configured principals (embedded broker only).
let brokerBox = BrokerBox()
var credentials: DroneCredentials?
if config.externalBus == nil, case .principals(let configured) = config.broker.auth {
    do {
        credentials = try DroneCredentials(configured: configured, directory: config.dataDirectory) { list in
            guard let b = brokerBox.broker else { return }
            try b.setPrincipals(list)
        }
        config.broker.auth = .principals(credentials!.principals)
    } catch {
        log.error("start_failed", ["reason": error.description])
        exit(78)
    }
}
// One certificate for the bus and the HTTP API, read again on SIGHUP.
var tlsIdentity: TLSServerIdentity?
if config.externalBus == nil && config.tls.certificate != nil {
    do {
        tlsIdentity = try TLSServerIdentity(config.tls)
        config.broker.tls = BrokerTLS(identity: tlsIdentity!, handshakeTimeoutMillis: config.tlsTimeoutMillis)
        TLSCommand.reportExpiry(tlsIdentity!.context, log: log)
    } catch {
        log.error("start_failed", ["reason": error.description])
        exit(78)
    }
}
if let identity = tlsIdentity {
    ReloadSignal.install {
        do {
            let fresh = try identity.reload()
            log.info("tls_reloaded", ["certificate": identity.files.certificate ?? ""])
            TLSCommand.reportExpiry(fresh, log: log)
        } catch {
            log.error("tls_reload_failed", ["reason": "\(error)", "effect": "the previous certificate stays in use"])
        }
    }
}
var broker: Broker?
if config.externalBus == nil {
    do {
        broker = try Broker.start(config: config.broker)
        brokerBox.broker = broker
    } catch {
        log.error("start_failed", ["reason": error.description])
        exit(1)
    }
}

// A shutdown signal ends the process at once while it is still starting (a standby waits in ControlPlane.start
// for the leader lease, possibly forever), closing the embedded broker's clients first (it listens before the
// control plane is up: a client may already be connected); once serving, it shuts down cleanly below.
// The phase decides, under one lock, whether a signal stops a start (then a start that fails because the broker
// went away is that stop, not a failure: it must not exit 1 before the signal's exit 0) or a running service.
enum StartPhase { case starting, stoppingWhileStarting, serving }
let phase = Mutex(StartPhase.starting)
let shutdownSignal = Task.detached { () -> Int32 in
    let received = await ShutdownSignal.wait()
    let stopsTheStart = phase.withLock { p -> Bool in
        guard p == .starting else { return false }
        p = .stoppingWhileStarting
        return true
    }
    if stopsTheStart {
        log.info("shutting_down", ["signal": received == SIGTERM ? "SIGTERM" : "SIGINT", "while": "starting"])
        brokerBox.broker?.shutdown()
        exit(0)
    }
    return received
}

let control: ControlPlane
do {
    let mode: ControlPlane.BrokerMode = config.externalBus == nil ? .embedded : .external
    if mode == .external {
        log.info("using_external_bus", ["servers": config.externalBus!.map(\.description).joined(separator: ",")])
    }
    // honeycombd's own connection to its embedded broker is a socket pair inside this process.
    let dial = broker.map(inProcessDial)
    control = try await ControlPlane.start(options: config.busOptions(embeddedPort: broker?.port ?? 0, dial: dial), mode: mode,
                                           dataDirectory: config.dataDirectory, jetStreamJournal: config.jetStreamJournal, config: config.control,
                                           compactAtBytes: config.journalCompactBytes, prompts: prompts,
                                           otlpEndpoint: config.otlpEndpoint, moduleQuota: config.moduleQuota, blobQuota: config.blobQuota,
                                           droneCredentials: credentials) { reason in
        // Stepping down is crash-only: stop at once, before anything else is served or written, and let the
        // supervisor start this honeycombd again as a standby (Config/systemd/honeycombd.service:
        // RestartForceExitStatus=75). A fresh process has no state, subscriptions or sockets of the deposed
        // leader's to tear down; an in-place step-down would have to undo each (see Docs/ARCHITECTURE.md).
        log.error("stepped_down", ["reason": reason, "effect": "exiting without writing; restart to stand by"])
        exit(75)
    }
    phase.withLock { if $0 == .starting { $0 = .serving } }
} catch {
    // A start cut short by a shutdown signal: the signal's task closes the broker and exits 0.
    if phase.withLock({ $0 == .stoppingWhileStarting }) { _ = await shutdownSignal.value }
    log.error("start_failed", ["reason": "control plane could not start: \(error)"])
    broker?.shutdown()
    exit(1)
}

if let address = config.http {
    let auth = config.httpAuth
    let embedded = broker
    let settings = ControlPlane.HTTPSettings(host: address.host, port: address.port, auth: auth, readOnly: config.httpReadOnly,
                                             allowedHosts: config.httpAllowedHosts, sessions: config.httpSessions,
                                             server: config.httpServer, extraMetrics: { embedded.map { BrokerMetrics.text($0.stats()) } ?? "" },
                                             tls: tlsIdentity)
    do {
        _ = try control.serveHTTP(settings)
    } catch {
        if config.httpChosen {
            log.error("start_failed", ["reason": "\(error)"])
            await control.stop()
            broker?.shutdown()
            exit(1)
        }
        log.warn("http_off", ["reason": "\(error)", "effect": "no HTTP API or dashboard; pass --http HOST:PORT to choose another address"])
    }
}

let received = await shutdownSignal.value
log.info("shutting_down", ["signal": received == SIGTERM ? "SIGTERM" : "SIGINT"])
await control.stop()
broker?.shutdown()
exit(0)

extension HoneycombConfigError {
    var isUsage: Bool {
        if case .usage = self { return true }
        return false
    }
}

/// The broker, once started, for the drone-credential store's updates (it is made before the broker starts).
final class BrokerBox: @unchecked Sendable {
    var broker: Broker?
}

/// Dials `broker` from inside this process (`Broker.connectInProcess`).
func inProcessDial(_ broker: Broker) -> @Sendable (ServerAddress) throws(NATSClientError) -> Int32 {
    return { _ throws(NATSClientError) -> Int32 in
        do {
            return try broker.connectInProcess()
        } catch {
            throw NATSClientError.connectionFailed(server: "in-process", reason: "\(error)")
        }
    }
}
