#if canImport(Glibc)
import Glibc
#endif

/// A pthread mutex.
///
/// Used for the broker's shared state instead of `Synchronization.Mutex`: ThreadSanitizer intercepts pthread
/// locks but not Mutex's raw futex path, so with Mutex every access it guards shows up as a race and TSan is
/// useless as a check of the threading rules. The uncontended cost is the same order (one atomic each way).
public final class PosixLock: @unchecked Sendable {
    @usableFromInline let mutex: UnsafeMutablePointer<pthread_mutex_t>

    public init() {
        mutex = .allocate(capacity: 1)
        pthread_mutex_init(mutex, nil)
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    @inlinable
    public func withLock<R, E: Error>(_ body: () throws(E) -> R) throws(E) -> R {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body()
    }
}

/// A condition variable tied to a `PosixLock`: for threads that sleep until another thread has work for them
/// (the client's writer thread waits for publishes this way).
public final class PosixCondition: @unchecked Sendable {
    @usableFromInline let cond: UnsafeMutablePointer<pthread_cond_t>
    let lock: PosixLock

    public init(lock: PosixLock) {
        self.lock = lock
        cond = .allocate(capacity: 1)
        var attr = pthread_condattr_t()
        pthread_condattr_init(&attr)
        pthread_condattr_setclock(&attr, CLOCK_MONOTONIC)
        pthread_cond_init(cond, &attr)
        pthread_condattr_destroy(&attr)
    }

    deinit {
        pthread_cond_destroy(cond)
        cond.deallocate()
    }

    /// Waits for a signal, at most `timeoutNanos`. Call with `lock` held (inside `lock.withLock`).
    public func wait(timeoutNanos: UInt64) {
        let until = Monotonic.after(Monotonic.now(), nanos: timeoutNanos)
        var ts = timespec(tv_sec: Int(clamping: until / 1_000_000_000), tv_nsec: Int(until % 1_000_000_000))
        pthread_cond_timedwait(cond, lock.mutex, &ts)
    }

    /// Wakes one waiter. Call with `lock` held.
    public func signal() { pthread_cond_signal(cond) }

    /// Wakes every waiter. Call with `lock` held.
    public func broadcast() { pthread_cond_broadcast(cond) }
}
