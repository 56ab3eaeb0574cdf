#if canImport(Glibc)
import Glibc
#endif
import CEpoll

/// Waits for SIGTERM or SIGINT.
///
/// A `sigaction` handler writes the signal number to an eventfd (async-signal-safe) and a thread blocked on
/// the eventfd resumes the waiter. Masking plus `sigwait` does not work here: with top-level `await`, Swift's
/// executor threads exist before `main` runs, so a mask set in `main` comes too late for them and the signal's
/// default action would kill the process.
public enum ShutdownSignal {
    nonisolated(unsafe) static var eventFD: Int32 = -1

    /// Installs the handlers. Call once, early.
    public static func install() {
        eventFD = hive_eventfd()
        let flags = fcntl(eventFD, F_GETFL, 0)
        _ = fcntl(eventFD, F_SETFL, flags & ~O_NONBLOCK)
        var action = sigaction()
        action.__sigaction_handler.sa_handler = { signo in
            var value = UInt64(signo)
            _ = write(ShutdownSignal.eventFD, &value, 8)
        }
        sigemptyset(&action.sa_mask)
        action.sa_flags = Int32(SA_RESTART)
        sigaction(SIGTERM, &action, nil)
        sigaction(SIGINT, &action, nil)
        signal(SIGPIPE, SIG_IGN)
    }

    /// Suspends until a shutdown signal arrives; returns its number.
    public static func wait() async -> Int32 {
        await withCheckedContinuation { continuation in
            OSThread(name: "signals") {
                var value: UInt64 = 0
                while read(ShutdownSignal.eventFD, &value, 8) != 8 {}
                continuation.resume(returning: Int32(value))
            }.detach()
        }
    }
}
