import HiveCore

/// What the control service counts for `/metrics` since the process started (Prometheus handles the reset to
/// zero a restart causes). Kept by the `ControlService` actor.
struct ServiceCounters: Sendable {
    /// Leases after the first attempt of a task.
    var retries = 0
    var leasesExpired = 0
    var forks = 0
    /// Forks that open a second or later round of a plan step (a failed round re-forked with feedback).
    var reforks = 0
    /// Work results by outcome (`succeeded`, `failed`).
    var finished: [String: Int] = [:]
    /// Model tokens by the tier of the drone that spent them.
    var promptTokens: [String: Int] = [:]
    var generatedTokens: [String: Int] = [:]
}

extension ServiceCounters {
    /// Counts what one journaled event says. Token counts come from drones: they saturate instead of trapping.
    mutating func count(_ e: JournalEvent, state: ControlState, dispatchLatency: Histogram) {
        switch e {
        case .taskLeased(let l):
            let (task, attempt, at) = (l.task, l.attempt, l.at)
            if attempt > 1 {
                retries += 1
            } else if let created = state.tasks[task]?.createdAt {
                let waited = at.subtractingReportingOverflow(created)
                dispatchLatency.observe(Double(waited.overflow ? 0 : Swift.max(0, waited.partialValue)) / 1000)
            }
        case .taskFinished(let f):
            let (succeeded, output) = (f.succeeded, f.output)
            finished[succeeded ? "succeeded" : "failed", default: 0] += 1
            if let usage = output.usage {
                let tier = output.tier?.rawValue ?? "unknown"
                promptTokens[tier] = Self.adding(promptTokens[tier] ?? 0, usage.promptTokens)
                generatedTokens[tier] = Self.adding(generatedTokens[tier] ?? 0, usage.generatedTokens)
            }
        case .taskExpired:
            leasesExpired += 1
        case .taskForked(let task, let children, _, _):
            forks += 1
            let made = state.tasks[task]?.children.suffix(children.count) ?? []
            if made.contains(where: { (state.tasks[$0]?.round ?? 0) > 0 }) { reforks += 1 }
        case .goalSubmitted, .goalCancelled, .goalFailed, .taskAwaitingApproval, .taskApproved, .taskDenied:
            break
        }
    }

    private static func adding(_ a: Int, _ b: Int) -> Int {
        let (sum, overflow) = a.addingReportingOverflow(b)
        return overflow ? (b < 0 ? Int.min : Int.max) : sum
    }
}
