import Foundation
import HiveCore
@testable import Honeycomb
@testable import JetStream
import Testing

/// `StreamReplay` fed messages by hand, for the orders a live stream rarely shows on cue: a snapshot too old to
/// close a gap, a snapshot whose chunks straddle reads, an unreadable snapshot, and a gap nothing covers.
@Suite struct StreamReplayTests {
    let settings = JetStreamJournalSettings(stream: "R")

    func records(_ seq: UInt64, _ events: [JournalEvent]) -> StoredMessage {
        var bytes: [UInt8] = []
        for e in events { Journal.frame(e, encoder: JSONEncoder(), into: &bytes) }
        return StoredMessage(subject: settings.recordsSubject, seq: seq, headers: [:], data: bytes)
    }

    /// The chunks of `snapshot` (or of `bytes`) at sequences from `seq`, covering `covers`.
    func chunks(_ id: String, from seq: UInt64, covers: UInt64, count: Int, bytes: [UInt8]) -> [StoredMessage] {
        let size = (bytes.count + count - 1) / count
        return (0..<count).map { i in
            let h = JetStreamJournal.SnapshotHeader.self
            return StoredMessage(subject: settings.snapshotSubject, seq: seq + UInt64(i),
                                 headers: [h.id: id, h.chunk: String(i + 1), h.chunks: String(count), h.covers: String(covers)],
                                 data: Array(bytes[min(bytes.count, i * size)..<min(bytes.count, (i + 1) * size)]))
        }
    }

    func snapshotBytes(goals n: Int) throws -> [UInt8] {
        let s = ControlState()
        for e in someEvents(n) { s.apply(e) }
        return Array(try JSONEncoder().encode(s.snapshot()))
    }

    @Test func aGapClosesOnlyAtAWholeSnapshotThatCoversIt() throws {
        let replay = StreamReplay(settings: settings, config: ControlConfig())
        let first = someEvents(2)
        replay.apply(records(1, [first[0]]))
        replay.apply(records(2, [first[1]]))
        // 3 and 4 were purged; a snapshot covering only 2 cannot stand for them.
        for m in chunks("old", from: 5, covers: 2, count: 1, bytes: try snapshotBytes(goals: 2)) { replay.apply(m) }
        #expect(replay.gap == 3...4 && !replay.fromSnapshot)
        let whole = chunks("new", from: 6, covers: 5, count: 2, bytes: try snapshotBytes(goals: 7))
        replay.apply(whole[0])
        #expect(replay.gap != nil, "half a snapshot closes nothing")
        replay.apply(whole[1])
        #expect(replay.gap == nil && replay.fromSnapshot && replay.state.goals.count == 7)
        replay.apply(records(8, [.goalCancelled(goal: "g7", reason: "later", at: 99)]))
        #expect(replay.events == 1 && replay.state.goals["g7"]?.reason == "later")
        #expect(try replay.recovery().damage.isEmpty)
    }

    @Test func anUnreadableSnapshotThatWouldCloseTheGapStopsTheTakeover() {
        let replay = StreamReplay(settings: settings, config: ControlConfig())
        replay.skip(to: 10)
        for m in chunks("bad", from: 10, covers: 9, count: 1, bytes: Array("{not json".utf8)) { replay.apply(m) }
        #expect(throws: JournalError.self) { try replay.recovery() }
        #expect(replay.snapshotFailure != nil)
    }

    @Test func aSnapshotIsNotDecodedWhenNothingWasMissed() throws {
        let replay = StreamReplay(settings: settings, config: ControlConfig())
        replay.apply(records(1, someEvents(3)))
        // Not JSON: were it decoded, the replay would fail; with every record applied it is not needed.
        for m in chunks("s", from: 2, covers: 1, count: 1, bytes: Array("{not json".utf8)) { replay.apply(m) }
        #expect(replay.gap == nil && replay.snapshotFailure == nil && replay.snapshotCovers == 1 && replay.recordBytes == 0)
        #expect(try replay.recovery().replayed?.state.goals.count == 3)
    }
}
