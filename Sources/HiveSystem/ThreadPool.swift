/// OS threads for blocking jobs, kept once started and reused: a job runs at once, on a thread that waits idle if
/// there is one, else on a new one (never queued behind another job: a job may block for as long as it likes).
/// For jobs that are short and frequent, where creating a thread each time (a stack mapped and unmapped, a clone)
/// costs as much as the job's own bookkeeping: an exec task's process is watched this way.
///
/// Threads never end, so the pool grows to the most jobs ever run at once (a drone's slots, plus its agents' exec
/// tools) and stays there. For exec that is a guarantee, not only a saving: a child started with PR_SET_PDEATHSIG
/// is killed when the *thread* that started it ends, and a pool thread ends only with the process.
public final class ThreadPool: @unchecked Sendable {
    private let name: String
    private let lock = PosixLock()
    private let wake: PosixCondition
    private var jobs: [@Sendable () -> Void] = []
    private var next = 0
    /// Threads blocked in `wake.wait`; each job beyond them gets a thread of its own.
    private var waiting = 0
    private var started = 0
    /// Threads started so far.
    public var threads: Int { lock.withLock { started } }
    /// Threads waiting for a job now.
    public var idleThreads: Int { lock.withLock { waiting } }

    public init(name: String) {
        self.name = name
        wake = PosixCondition(lock: lock)
    }

    /// Runs `job` on a pool thread, now.
    public func run(_ job: @escaping @Sendable () -> Void) {
        let grow: Bool = lock.withLock {
            jobs.append(job)
            if jobs.count - next > waiting {
                started += 1
                return true
            }
            wake.signal()
            return false
        }
        if grow { OSThread(name: name) { self.serve() }.detach() }
    }

    private func serve() {
        while true {
            let job: @Sendable () -> Void = lock.withLock {
                while next == jobs.count {
                    waiting += 1
                    wake.wait(timeoutNanos: 60_000_000_000)
                    waiting -= 1
                }
                let job = jobs[next]
                next += 1
                if next == jobs.count {
                    jobs.removeAll(keepingCapacity: true)
                    next = 0
                }
                return job
            }
            job()
        }
    }
}
