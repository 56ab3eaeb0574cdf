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
    private var timer: Task<Void, Never>?
    /// The backend's run, in its own task (cancelling it is how the backend is told to stop).
    private let work: Task<BackendOutcome, Never>

    init(_ backend: any Backend, _ assignment: Assignment, graceMillis: Int) {
        work = Task.detached { await backend.run(assignment) }
        let limit = min(max(1, assignment.timeoutMillis), 1 << 40) + min(max(0, graceMillis), 1 << 40)
        let timeout = assignment.timeoutMillis
        let timer = Task.detached { [work] in
            do { try await Task.sleep(for: .milliseconds(limit)) } catch { return }
            work.cancel()
            self.settle(.failure("timed out after \(timeout) ms (stopped by the drone)"))
        }
        lock.withLock { self.timer = timer }
        Task.detached { [work] in
            let o = await work.value
            self.lock.withLock { self.timer }?.cancel()
            self.settle(o)
        }
    }

    private func settle(_ o: BackendOutcome) {
        let resumed = lock.withLock { () -> [CheckedContinuation<BackendOutcome, Never>] in
            guard outcome == nil else { return [] }
            outcome = o
            defer { waiting = [] }
            return waiting
        }
        for c in resumed { c.resume(returning: o) }
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
    func ended() async { _ = await work.value }

    /// Tells the backend to stop (the task was cancelled); `ended` says when it has.
    func cancel() { work.cancel() }
}
