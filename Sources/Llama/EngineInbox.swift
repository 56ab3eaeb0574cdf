#if canImport(Glibc)
import Glibc
#endif

/// Where tasks hand requests to the engine's thread, and where that thread sleeps when it has nothing to decode.
///
/// A pthread mutex and condition variable (not `Synchronization.Mutex`): the engine thread must block without a
/// busy wait, and ThreadSanitizer understands pthread primitives. The published `EngineStats` live here too, so a
/// reader sees a consistent snapshot.
final class EngineInbox: @unchecked Sendable {
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let cond = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private var queue: [EngineRequest] = []
    private var stopping = false
    /// While > 0, the engine thread takes nothing until this many requests are queued (tests: requests that must
    /// join the same step, or join at a chosen step).
    private var holdUntil = 0
    private var published = EngineStats()

    init() {
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(cond, nil)
    }

    deinit {
        pthread_cond_destroy(cond)
        pthread_mutex_destroy(mutex)
        cond.deallocate()
        mutex.deallocate()
    }

    private func locked<R>(_ body: () -> R) -> R {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return body()
    }

    /// Queues a request and wakes the engine; false once the engine is stopping (the caller fails the request).
    func submit(_ request: EngineRequest) -> Bool {
        locked {
            guard !stopping else { return false }
            queue.append(request)
            pthread_cond_signal(cond)
            return true
        }
    }

    /// Wakes the engine thread (a cancellation arrived).
    func wake() { locked { _ = pthread_cond_signal(cond) } }

    /// Tells the engine thread to fail what it holds and exit.
    func stop() {
        locked {
            stopping = true
            pthread_cond_signal(cond)
        }
    }

    /// Makes the engine thread's next `take` wait until `count` requests are queued, so they join one step.
    func hold(untilQueued count: Int) { locked { holdUntil = count } }

    /// New requests; with `idle`, sleeps until there is one. nil when the engine must stop.
    func take(idle: Bool) -> [EngineRequest]? {
        locked {
            while ((idle && queue.isEmpty) || queue.count < holdUntil) && !stopping { pthread_cond_wait(cond, mutex) }
            holdUntil = 0
            if stopping { return nil }
            defer { queue.removeAll(keepingCapacity: true) }
            return queue
        }
    }

    /// Requests that never reached the engine thread (it was stopping).
    func drain() -> [EngineRequest] {
        locked {
            defer { queue.removeAll() }
            return queue
        }
    }

    func publish(_ stats: EngineStats) { locked { published = stats } }

    var stats: EngineStats { locked { published } }
}
