#if canImport(Glibc)
import Glibc
#endif
import CEpoll

/// Runs a handler on each SIGHUP (reload certificates and the like), on a thread of its own: the signal handler
/// only writes to an eventfd (async-signal-safe), the thread reads it and calls `handler`.
public enum ReloadSignal {
    nonisolated(unsafe) static var eventFD: Int32 = -1

    /// Installs the SIGHUP handler and starts the thread. Call once.
    public static func install(_ handler: @escaping @Sendable () -> Void) {
        eventFD = hive_eventfd()
        let flags = fcntl(eventFD, F_GETFL, 0)
        _ = fcntl(eventFD, F_SETFL, flags & ~O_NONBLOCK)
        var action = sigaction()
        action.__sigaction_handler.sa_handler = { _ in
            var one: UInt64 = 1
            _ = write(ReloadSignal.eventFD, &one, 8)
        }
        sigemptyset(&action.sa_mask)
        action.sa_flags = Int32(SA_RESTART)
        sigaction(SIGHUP, &action, nil)
        OSThread(name: "reload") {
            var value: UInt64 = 0
            while true {
                if read(ReloadSignal.eventFD, &value, 8) == 8 { handler() }
            }
        }.detach()
    }
}
