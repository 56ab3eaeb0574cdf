#if canImport(Glibc)
import Glibc
#endif
import Dispatch
import HiveCore

/// Ctrl-C while `hive submit --wait` waits: the goal goes on in the hive, so say how to follow or cancel it
/// instead of leaving the user to wonder whether it was cancelled. Exits 130 (128 + SIGINT), as a shell expects.
enum WaitInterrupt {
    /// Kept alive for the process's life (a dispatch source is cancelled when released).
    nonisolated(unsafe) private static var source: (any DispatchSourceSignal)?

    static func install(goal: GoalID) {
        signal(SIGINT, SIG_IGN)  // the source sees the signal instead of the default action
        let s = DispatchSource.makeSignalSource(signal: SIGINT, queue: .global())
        s.setEventHandler {
            printError("stopped waiting; goal \(goal) goes on: hive watch \(goal) to follow it, hive cancel \(goal) to stop it")
            exit(130)
        }
        s.resume()
        source = s
    }
}
