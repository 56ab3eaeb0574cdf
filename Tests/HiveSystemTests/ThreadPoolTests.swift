#if canImport(Glibc)
import Glibc
#endif
import HiveSystem
import Testing

/// `ThreadPool`: a job never waits behind another (a blocked job gets company, not a queue), and threads are
/// reused once idle.
@Suite struct ThreadPoolTests {
    /// Waits until `condition` holds, at most `seconds`; whether it did.
    private func eventually(_ seconds: Double = 10, _ condition: () -> Bool) -> Bool {
        let deadline = Monotonic.after(Monotonic.now(), nanos: UInt64(seconds * 1e9))
        while Monotonic.now() < deadline {
            if condition() { return true }
            sched_yield()
        }
        return condition()
    }

    @Test func aJobRunsWhileAnotherBlocksAndIdleThreadsAreReused() {
        let pool = ThreadPool(name: "test-pool")
        let lock = PosixLock()
        let release = PosixCondition(lock: lock)
        final class State: @unchecked Sendable {  // guarded by `lock`
            var released = false
            var done = 0
        }
        let state = State()
        // The first job blocks until the second has run: with one thread, or with jobs queued, it never would.
        pool.run {
            lock.withLock {
                while !state.released { release.wait(timeoutNanos: 100_000_000) }
                state.done += 1
            }
        }
        pool.run {
            lock.withLock {
                state.released = true
                release.broadcast()
                state.done += 1
            }
        }
        #expect(eventually { lock.withLock { state.done } == 2 })
        #expect(pool.threads == 2)
        // Both idle again: the next jobs, one after the other, start no thread.
        #expect(eventually { pool.idleThreads == 2 })
        for i in 0..<20 {
            pool.run { lock.withLock { state.done += 1 } }
            #expect(eventually { lock.withLock { state.done } == 3 + i })
            #expect(eventually { pool.idleThreads == 2 })
        }
        #expect(pool.threads == 2)
    }
}
