#if canImport(Glibc)
import Glibc
#endif
import CEpoll

/// Starts an OS thread running `body`. Event loops, client readers/writers and the journal writer are
/// long-lived threads, not tasks: they block in `epoll_wait`, `poll`, `send` or `fdatasync`, which must never
/// happen on Swift's cooperative pool (two threads on a two-core machine).
public final class OSThread: @unchecked Sendable {
    private var handle = pthread_t()
    private let body: @Sendable () -> Void
    private let name: String

    public init(name: String, _ body: @escaping @Sendable () -> Void) {
        self.body = body
        self.name = String(name.prefix(15))
        let unmanaged = Unmanaged.passRetained(self)
        pthread_create(&handle, nil, { arg in
            let thread = Unmanaged<OSThread>.fromOpaque(arg!).takeRetainedValue()
            hive_set_thread_name(thread.name)
            thread.body()
            return nil
        }, unmanaged.toOpaque())
    }

    /// Waits for the thread to finish. Call at most once, and only for threads that are not detached.
    public func join() { pthread_join(handle, nil) }

    /// Lets the thread's resources go when it ends (for threads nobody joins).
    public func detach() { pthread_detach(handle) }
}
