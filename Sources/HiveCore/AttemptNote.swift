/// One attempt of a task that ended without success (failed, expired, its drone lost or restarted): which attempt,
/// on which drone, why and when. `hive result` shows them so a retried task says why it was retried.
///
/// Kept on the task (`TaskRecord.failedAttempts`) by `apply` from `taskFinished` and `taskExpired`, whose events
/// already carry the reason, so a journal replay rebuilds them and no event changes.
public struct AttemptNote: Codable, Sendable, Equatable, CustomStringConvertible {
    public var attempt: Int
    /// The drone that ran it (its id; the registry is not journaled, so a replay knows no names).
    public var drone: DroneID?
    public var reason: String
    public var at: Int64

    /// Notes kept per task: the latest ones (a task may be retried up to its `max_attempts`, which a plan may set high).
    public static let keptPerTask = 8
    /// Characters of a reason kept (an error may carry a drone's whole stderr).
    public static let reasonChars = 300

    public init(attempt: Int, drone: DroneID?, reason: String, at: Int64) {
        self.attempt = attempt
        self.drone = drone
        self.reason = reason.count > Self.reasonChars ? String(reason.prefix(Self.reasonChars)) + "…" : reason
        self.at = at
    }

    /// `attempt 1 on d1: lease expired after 5000 ms`.
    public var description: String { "attempt \(attempt) on \(drone ?? "-"): \(reason)" }
}

extension ControlState {
    /// Records why `t`'s current attempt ended without success; call before its lease is released (the lease names
    /// the drone). Keeps the latest `AttemptNote.keptPerTask`.
    func noteFailedAttempt(_ t: inout TaskRecord, drone: DroneID?, reason: String, at: Int64) {
        let note = AttemptNote(attempt: t.attempts, drone: drone ?? t.lease?.drone, reason: reason, at: at)
        var notes = t.failedAttempts ?? []
        notes.append(note)
        if notes.count > AttemptNote.keptPerTask { notes.removeFirst(notes.count - AttemptNote.keptPerTask) }
        t.failedAttempts = notes
    }
}
