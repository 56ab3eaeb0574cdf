#if canImport(Glibc)
import Glibc
#endif
import HiveCore
import HiveSystem

/// Ctrl-C (or SIGTERM) while `hive submit --wait` waits: the goal goes on in the hive, so say how to follow or
/// cancel it instead of leaving the user to wonder whether it was cancelled. Exits 130 (128 + SIGINT), as a shell
/// expects. The handler is in place before `install` returns (`ShutdownSignal`: sigaction + eventfd), so a
/// signal sent once the "waiting" line is out is never lost.
enum WaitInterrupt {
    static func install(goal: GoalID) {
        ShutdownSignal.install()
        Task.detached {
            _ = await ShutdownSignal.wait()
            printError("stopped waiting; goal \(goal) goes on: hive watch \(goal) to follow it, hive cancel \(goal) to stop it")
            exit(130)
        }
    }
}
