#if canImport(Glibc)
import Glibc
#endif
import Foundation
import HiveLog
import Honeycomb
import NATSServer

// honeycombd: flags/config → broker → wait for SIGTERM/SIGINT → clean shutdown.

let arguments = Array(CommandLine.arguments.dropFirst())
if arguments.contains("--help") || arguments.contains("-h") {
    print(HoneycombConfig.usage)
    exit(0)
}

let config: HoneycombConfig
do {
    config = try HoneycombConfig.from(arguments: arguments) { path in try Data(contentsOf: URL(fileURLWithPath: path)) }
} catch {
    FileHandle.standardError.write(Data("honeycombd: \(error)\n".utf8))
    exit(error.isUsage ? 64 : 78)
}
Log.setLevel(config.logLevel)

// Block the shutdown signals before any thread starts, so every thread inherits the mask and sigwait below
// is the only place they are delivered.
signal(SIGPIPE, SIG_IGN)
var shutdownSignals = sigset_t()
sigemptyset(&shutdownSignals)
sigaddset(&shutdownSignals, SIGTERM)
sigaddset(&shutdownSignals, SIGINT)
pthread_sigmask(SIG_BLOCK, &shutdownSignals, nil)

let log = Log("honeycombd")
let broker: Broker
do {
    broker = try Broker.start(config: config.broker)
} catch {
    log.error("start_failed", ["reason": error.description])
    exit(1)
}

var received: Int32 = 0
sigwait(&shutdownSignals, &received)
log.info("shutting_down", ["signal": received == SIGTERM ? "SIGTERM" : "SIGINT"])
broker.shutdown()
exit(0)

extension HoneycombConfigError {
    var isUsage: Bool {
        if case .usage = self { return true }
        return false
    }
}
