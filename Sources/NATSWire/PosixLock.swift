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
