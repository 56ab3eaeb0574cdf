import HiveCore
import HiveSystem

/// Where the control plane keeps its journal: the file journal under `--data DIR` (`Journal`, the embedded
/// default) or a JetStream stream (`JetStreamJournal`, `--journal jetstream://STREAM`).
///
/// The contract the control loop relies on: `append` only queues (it returns at once with a sequence number to
/// wait on); a reply that says something happened is sent only after `waitDurable` of its sequence returned true;
/// `compact` takes a snapshot that reflects everything appended before it, and the store orders it after those
/// records, so recovery is "the latest snapshot, then every record after it".
protocol JournalStore: AnyObject, Sendable {
    /// Queues events; returns the sequence number to wait on for their durability.
    @discardableResult func append(_ events: [JournalEvent]) -> UInt64
    /// Waits until everything appended up to `seq` is durable: true then. False when the store cannot make it durable
    /// now (a JetStream stream without quorum past the publish deadline): the caller answers "unavailable"; the
    /// records stay queued and are written when the store comes back.
    @discardableResult func waitDurable(_ seq: UInt64) async -> Bool
    /// Replaces the journal with `snapshot`, which must reflect every event appended so far.
    func compact(_ snapshot: ControlState.Snapshot)
    /// A compaction is queued or being written (asking again meanwhile would write the same snapshot twice).
    var compactionQueued: Bool { get }
    /// Bytes written since the last compaction (the compaction trigger, and `/metrics`).
    var size: Int { get }
    /// Bytes of the last snapshot (the compaction trigger's second bound; 0 before the first).
    var lastSnapshotBytes: Int { get }
    /// How long each group commit took to become durable (an fdatasync, or a JetStream publish ack).
    var syncLatency: Histogram { get }
    /// The first write error that stops the store for good, if any.
    var writeFailure: String? { get }
    /// The goal numbers handed out may reach `number`: reserve them durably ahead of use (nil, or why not).
    func reserveGoalNumber(_ number: Int64, block: Int64) -> String?
    /// Goals below `number` exist (called as a snapshot is taken).
    func markGoalNumbersIssued(below number: Int64) -> String?
    /// Flushes what is queued and stops the writer.
    func close()
}

extension JournalStore {
    /// Whether to compact now: none queued, and the records since the last snapshot past `threshold` bytes and
    /// past that snapshot's size. The second bound keeps compaction linear: with one goal of 1,000,000 tasks every
    /// snapshot holds them all, and compacting every 64 MiB of records rewrote it every few hundred thousand tasks
    /// run (quadratic in the goal's size, each snapshot sorting every record on the actor).
    func shouldCompact(threshold: Int) -> Bool {
        !compactionQueued && size > Swift.max(threshold, lastSnapshotBytes)
    }
}
