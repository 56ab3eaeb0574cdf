import HiveCore

/// What a journal's writer has yet to write, in order; `Journal` and `JetStreamJournal` each hold one behind their
/// lock. Records appended while no snapshot stands between them merge into one item, so the writer takes them as
/// one group commit; compactions go through the same queue, so a snapshot covers exactly the records queued before
/// it. `appendedSeq` numbers each append and compaction: what `waitDurable` waits for.
struct JournalQueue {
    enum Item {
        case records([JournalEvent])
        case snapshot(ControlState.Snapshot)
    }

    private(set) var items: [Item] = []
    private(set) var appendedSeq: UInt64 = 0
    /// A compaction is queued or being written; the writer clears it once the snapshot is written (or failed).
    var compacting = false

    /// Queues `events`; the sequence number to wait on (the last one when there is nothing to queue).
    mutating func append(_ events: [JournalEvent]) -> UInt64 {
        guard !events.isEmpty else { return appendedSeq }
        appendedSeq += 1
        if case .records(var pending)? = items.last {
            // Drop the queue's reference first: appending to a shared array would copy every pending record, on
            // every append (quadratic in the records one group commit gathers).
            items[items.count - 1] = .records([])
            pending.append(contentsOf: events)
            items[items.count - 1] = .records(pending)
        } else {
            items.append(.records(events))
        }
        return appendedSeq
    }

    /// Queues `snapshot`, which must reflect every event appended so far.
    mutating func compact(_ snapshot: ControlState.Snapshot) {
        appendedSeq += 1
        compacting = true
        items.append(.snapshot(snapshot))
    }

    /// Everything queued, emptying the queue, and the sequence number it reaches.
    mutating func takeAll() -> (items: [Item], seq: UInt64) {
        defer { items = [] }
        return (items, appendedSeq)
    }
}
