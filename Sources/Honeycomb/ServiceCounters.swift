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
