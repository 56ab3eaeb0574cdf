import Foundation
import HiveCore
import HiveSystem
import NATSWire

/// One assignment running on a backend under the drone's deadline: the task's (clamped) timeout plus a grace for
/// the backend to report its own timeout first.
///
/// Two moments matter and they can differ: the *outcome* is known at the first of the backend returning and the
/// deadline passing (the backend is then cancelled, and the task fails as timed out); the backend has *ended* only
/// when its `run` has returned. A backend that overruns (a wasm thread reaching its next checkpoint, a process
/// group being reaped) still works after its outcome was reported, so the drone holds the task's slot until
/// `ended`: a drone never runs more than its slots, however slowly its backends stop.
final class TaskRun: @unchecked Sendable {
    private let lock = PosixLock()
    private var outcome: BackendOutcome?
    private var waiting: [CheckedContinuation<BackendOutcome, Never>] = []
    /// The backend's run, in its own task (cancelling it is how the backend is told to stop). Set once, in init.
    private var work: Task<BackendOutcome, Never>?
    private let timeoutMillis: Int
    private let onTimeout: (@Sendable (BackendOutcome) -> Void)?

    /// Starts `backend` on the assignment. `onEnd` runs on the run's own task once the backend has returned, with
    /// its outcome when that came first (nil when the deadline had already decided it); `onTimeout` runs when the
    /// deadline decides first. One Swift task per run, whatever happens: the drone's hot path.
    init(_ backend: any Backend, _ assignment: Assignment, graceMillis: Int,
         onTimeout: (@Sendable (BackendOutcome) -> Void)? = nil,
         onEnd: (@Sendable (BackendOutcome?) async -> Void)? = nil) {
        timeoutMillis = assignment.timeoutMillis
        self.onTimeout = onTimeout
        let limit = min(max(1, assignment.timeoutMillis), 1 << 40) + min(max(0, graceMillis), 1 << 40)
        // One drone-wide timer watches every run's deadline: no timer task per run (a drone may run thousands a
        // second). Registered before the work starts, so a run that ends at once is never left registered.
        DeadlineSweeper.shared.add(self, deadline: Monotonic.after(Monotonic.now(), nanos: Monotonic.nanos(millis: limit)))
        let task = Task.detached { [self] () -> BackendOutcome in
            let o = await backend.run(assignment)
            let first = settle(o)
            await onEnd?(first ? o : nil)
            return o
        }
        lock.withLock { work = task }
    }

    /// The drone's deadline passed first: the backend is told to stop, and the task fails as timed out.
    fileprivate func expire() {
        // The outcome first: a backend that answers its cancellation at once must not report it as the outcome.
        let timeout = BackendOutcome.failure("timed out after \(timeoutMillis) ms (stopped by the drone)")
        if settle(timeout) { onTimeout?(timeout) }
        lock.withLock { work }?.cancel()
    }

    /// Records the outcome if none was yet; returns whether this one was first.
    @discardableResult
    private func settle(_ o: BackendOutcome) -> Bool {
        let resumed = lock.withLock { () -> [CheckedContinuation<BackendOutcome, Never>]? in
            guard outcome == nil else { return nil }
            outcome = o
            defer { waiting = [] }
            return waiting
        }
        guard let resumed else { return false }
        DeadlineSweeper.shared.remove(self)
        for c in resumed { c.resume(returning: o) }
        return true
    }

    /// The task's outcome: the backend's, or a timeout at the drone's deadline, whichever came first.
    var result: BackendOutcome {
        get async {
            await withCheckedContinuation { c in
                let now: BackendOutcome? = lock.withLock {
                    if let outcome { return outcome }
                    waiting.append(c)
                    return nil
                }
                if let now { c.resume(returning: now) }
            }
        }
    }

    /// Returns once the backend's `run` has returned (its thread or process is gone).
    func ended() async { _ = await lock.withLock({ work })?.value }

    /// Tells the backend to stop (the task was cancelled); `ended` says when it has.
    func cancel() { lock.withLock { work }?.cancel() }
}

/// The one timer behind every `TaskRun`'s deadline: an OS thread that sleeps until the earliest deadline (or a
/// quarter of a second) and expires the runs past theirs. Adding and removing a run is a dictionary operation
/// under a lock; nothing is scheduled per run.
final class DeadlineSweeper: @unchecked Sendable {
    static let shared = DeadlineSweeper()

    private let lock = PosixLock()
    private let wake: PosixCondition
    private var deadlines: [ObjectIdentifier: (deadline: UInt64, run: TaskRun)] = [:]
    private var earliest = UInt64.max

    private init() {
        wake = PosixCondition(lock: lock)
        OSThread(name: "drone-deadlines") { [self] in sweep() }.detach()
    }

    func add(_ run: TaskRun, deadline: UInt64) {
        lock.withLock {
            deadlines[ObjectIdentifier(run)] = (deadline, run)
            if deadline < earliest {
                earliest = deadline
                wake.signal()
            }
        }
    }

    func remove(_ run: TaskRun) {
        lock.withLock { _ = deadlines.removeValue(forKey: ObjectIdentifier(run)) }
    }

    private func sweep() {
        while true {
            let expired: [TaskRun] = lock.withLock {
                let now = Monotonic.now()
                if earliest > now {
                    wake.wait(timeoutNanos: min(Monotonic.elapsed(from: now, to: earliest), 250_000_000))
                }
                let now2 = Monotonic.now()
                var due: [TaskRun] = []
                var next = UInt64.max
                for (key, entry) in deadlines {
                    if entry.deadline <= now2 {
                        due.append(entry.run)
                        deadlines.removeValue(forKey: key)
                    } else {
                        next = min(next, entry.deadline)
                    }
                }
                earliest = next
                return due
            }
            for run in expired { run.expire() }
        }
    }
}
