import FoundationEssentials
import HiveCore
import HiveLog
import JetStream

/// A journal stream replayed into a `ControlState` in sequence order, keeping no message once it is applied.
/// Recovery (the stream from its first message) and a standby's tail (each poll's new messages) are this one
/// replay, so a standby's state is warm and a takeover applies only what arrived since its last poll.
///
/// - Records (`STREAM.records`): each message holds whole frames (the writer splits a commit only at record
///   boundaries), scanned and applied as it arrives. A frame that fails its check is damage, as in the file
///   journal: the replay goes on after it, and the service logs it and moves goal numbers past it.
/// - Snapshots (`STREAM.snapshot`): skipped while nothing was missed, since the records they cover were applied.
/// - A gap: a sequence missed (purged under a standby that fell behind a compaction, or below the stream's first
///   message at a cold start) or a damaged record. The state may lack records from there on. Every purge follows
///   a complete snapshot that covers what it purges (its records, older snapshots, takeover markers), so the gap
///   closes at the first complete snapshot after it that covers it: the state is rebuilt from that snapshot and
///   the records after it are applied. A gap still open at takeover is reported as damage, never served silently.
final class StreamReplay {
    let settings: JetStreamJournalSettings
    let config: ControlConfig
    private(set) var state: ControlState
    /// The next sequence to apply: every message below it was applied (or found missing).
    private(set) var next: UInt64 = 1
    /// Events applied since the state was last rebuilt from a snapshot (or since the start).
    private(set) var events = 0
    /// The state was last rebuilt from a snapshot.
    private(set) var fromSnapshot = false
    /// The newest complete snapshot's `covers` seen in the stream (0: none).
    private(set) var snapshotCovers: UInt64 = 0
    /// Bytes of records after the newest complete snapshot (the writer's compaction trigger starts from it).
    private(set) var recordBytes = 0
    /// Damage in records applied since the last rebuild.
    private(set) var damage: [JournalDamage] = []
    /// The snapshot that would close the gap failed to decode (recovery's error, if nothing closes it later).
    private(set) var snapshotFailure: String?
    /// Sequences missed since the last rebuild (a damaged record counts as missed); nil: the state is whole.
    private(set) var gap: ClosedRange<UInt64>?
    /// The gap holds missed sequences, not only damage already listed in `damage`.
    private var gapMissed = false
    /// Chunks of a snapshot that covers the gap, collected until it is whole.
    private var collecting: (id: String, covers: UInt64, count: Int, parts: [Int: [UInt8]])?
    private let log = Log("journal")

    init(settings: JetStreamJournalSettings, config: ControlConfig) {
        self.settings = settings
        self.config = config
        state = ControlState(config: config)
    }

    /// Every sequence before `seq` is accounted for: those not applied yet were purged (a missed stretch).
    func skip(to seq: UInt64) {
        guard seq > next else { return }
        open(next...(seq &- 1), missed: true)
        next = seq
    }

    /// Applies `m`; the sequences between the last one applied and `m` were purged. Sequences already applied are ignored.
    func apply(_ m: StoredMessage) {
        guard m.seq >= next else { return }
        skip(to: m.seq)
        next = m.seq &+ 1
        if m.subject == settings.recordsSubject {
            applyRecords(m)
        } else if m.subject == settings.snapshotSubject {
            applySnapshotChunk(m)
        }
    }

    private func applyRecords(_ m: StoredMessage) {
        let scan = JournalScan(m.data)
        for e in scan.events { state.apply(e) }  // a replay: what the events once had carried out is done
        events += scan.events.count
        recordBytes += m.data.count
        var found = scan.damage.map { d -> JournalDamage in
            var d = d
            d.reason = "stream sequence \(m.seq): \(d.reason)"
            return d
        }
        if let torn = scan.tornTailAt {
            found.append(JournalDamage(offset: torn, length: m.data.count - torn,
                                       reason: "stream sequence \(m.seq): record cut short", goals: scan.tornTailGoals, tasks: []))
        }
        if !found.isEmpty {
            damage += found
            open(m.seq...m.seq, missed: false)
        }
    }

    private func applySnapshotChunk(_ m: StoredMessage) {
        typealias H = JetStreamJournal.SnapshotHeader
        guard let id = m.headers[H.id], let i = m.headers[H.chunk].flatMap(Int.init),
              let n = m.headers[H.chunks].flatMap(Int.init), n >= 1, n <= 1 << 20, i >= 1, i <= n,
              let covers = m.headers[H.covers].flatMap(UInt64.init) else { return }
        if i == n {
            // A whole snapshot ends here (a compaction cut short never writes its last chunk).
            snapshotCovers = max(snapshotCovers, covers)
            recordBytes = 0
        }
        guard let gap, covers >= gap.upperBound, covers < m.seq else { return }
        if collecting?.id != id { collecting = (id, covers, n, [:]) }
        collecting?.parts[i] = m.data
        guard let whole = collecting, whole.parts.count == whole.count else { return }
        collecting = nil
        let bytes = (1...whole.count).flatMap { whole.parts[$0] ?? [] }
        do {
            let snapshot = try JSONDecoder().decode(ControlState.Snapshot.self, from: Data(bytes))
            state = ControlState(config: config)
            state.restore(snapshot)
            log.info("replayed_from_snapshot", ["stream": settings.stream, "covers": whole.covers, "snapshot_seq": m.seq,
                                                "gap": "\(gap.lowerBound)...\(gap.upperBound)", "goals": snapshot.goals.count])
            (events, fromSnapshot, damage, self.gap, gapMissed, snapshotFailure) = (0, true, [], nil, false, nil)
        } catch {
            snapshotFailure = "\(error)"
            log.error("snapshot_unreadable", ["stream": settings.stream, "snapshot_seq": m.seq, "reason": "\(error)",
                                              "effect": "the gap stays open until a newer snapshot closes it"])
        }
    }

    private func open(_ missed: ClosedRange<UInt64>, missed isMissed: Bool) {
        gap = min(gap?.lowerBound ?? missed.lowerBound, missed.lowerBound)...max(gap?.upperBound ?? 0, missed.upperBound)
        gapMissed = gapMissed || isMissed
        // A snapshot being collected that does not cover the wider gap cannot close it.
        if let c = collecting, let gap, c.covers < gap.upperBound { collecting = nil }
    }

    /// What the replay read, for a control plane to serve: an open gap of missed sequences is damage (goal numbers
    /// move past it), or, where the snapshot that would close it is unreadable, recovery's error.
    func recovery() throws(JournalError) -> JournalRecovery {
        var found = damage
        if let gap, gapMissed {
            if let snapshotFailure {
                throw .unreadableSnapshot("stream \(settings.stream) subject \(settings.snapshotSubject)", snapshotFailure)
            }
            found.append(JournalDamage(offset: Int(clamping: gap.lowerBound), length: 0,
                                       reason: "stream sequences \(gap.lowerBound)...\(gap.upperBound) are gone and no complete snapshot after them covers them "
                                           + "(purged by hand?): records in them are lost", goals: [], tasks: []))
        }
        var r = JournalRecovery(snapshot: nil, events: [], truncatedBytes: 0)
        r.damage = found
        r.replayed = ReplayedState(state: state, events: events, fromSnapshot: fromSnapshot)
        return r
    }
}

/// A state rebuilt from a journal by its reader (a JetStream stream's replay), handed to the control service once:
/// the reader does not touch it after.
public final class ReplayedState: @unchecked Sendable {
    let state: ControlState
    /// Events applied after the snapshot (or from the start).
    public let events: Int
    public let fromSnapshot: Bool

    init(state: ControlState, events: Int, fromSnapshot: Bool) {
        self.state = state
        self.events = events
        self.fromSnapshot = fromSnapshot
    }
}
