#if canImport(Glibc)
import Glibc
#endif
import Foundation
import HiveCore
@testable import Honeycomb
import Testing

func tempDir() -> String {
    let d = FileManager.default.temporaryDirectory.appendingPathComponent("hive-journal-\(UUID().uuidString)").path
    return d
}

/// The payload length in the header of the record at `offset` (`[u32 length][u32 crc32][JSON]`).
func recordLength(_ bytes: [UInt8], at offset: Int) -> Int {
    Int(UInt32(bytes[offset]) | UInt32(bytes[offset + 1]) << 8 | UInt32(bytes[offset + 2]) << 16 | UInt32(bytes[offset + 3]) << 24)
}

func someEvents(_ n: Int) -> [JournalEvent] {
    (0..<n).map { i in
        .goalSubmitted(goal: "g\(i + 1)", spec: GoalSpec(root: .fork([TaskSpec(kind: "noop")])), at: Int64(i))
    }
}

@Suite struct JournalTests {
    @Test func eventsSurviveAReopen() async throws {
        let dir = tempDir()
        let (j, empty) = try Journal.open(directory: dir)
        #expect(empty.events.isEmpty && empty.snapshot == nil)
        let events = someEvents(50)
        var seq: UInt64 = 0
        for chunk in stride(from: 0, to: 50, by: 10) { seq = j.append(Array(events[chunk..<chunk + 10])) }
        await j.waitDurable(seq)
        j.close()
        let (j2, recovered) = try Journal.open(directory: dir)
        #expect(recovered.events == events)
        #expect(recovered.truncatedBytes == 0)
        j2.close()
    }

    @Test func aTornTailIsCutAndReported() async throws {
        let dir = tempDir()
        let (j, _) = try Journal.open(directory: dir)
        await j.waitDurable(j.append(someEvents(5)))
        j.close()
        // Simulate a crash mid-write: keep all but the last 7 bytes of the file.
        let path = dir + "/journal.log"
        let size = try FileManager.default.attributesOfItem(atPath: path)[.size] as! Int
        #expect(truncate(path, off_t(size - 7)) == 0)
        let (j2, recovered) = try Journal.open(directory: dir)
        #expect(recovered.events == Array(someEvents(5).prefix(4)))
        #expect(recovered.truncatedBytes > 0)
        #expect(recovered.truncationReason?.hasPrefix("torn record at byte") == true)
        // Appending after recovery continues a clean file.
        await j2.waitDurable(j2.append(Array(someEvents(6).suffix(1))))
        j2.close()
        let (j3, again) = try Journal.open(directory: dir)
        #expect(again.events.count == 5 && again.truncatedBytes == 0)
        j3.close()
    }

    @Test func aCorruptLastRecordIsSkippedReportedAndKeptAside() async throws {
        let dir = tempDir()
        let (j, _) = try Journal.open(directory: dir)
        await j.waitDurable(j.append(someEvents(3)))
        j.close()
        let path = dir + "/journal.log"
        var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        let original = bytes
        bytes[bytes.count - 20] ^= 0xFF  // flip a byte inside the last record's payload
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        let (j2, recovered) = try Journal.open(directory: dir)
        #expect(recovered.events == Array(someEvents(3).prefix(2)))
        #expect(recovered.damage.count == 1 && recovered.damage[0].reason == "checksum mismatch")
        #expect(recovered.damage[0].goals == ["g3"])
        let aside = try #require(recovered.keptAside)
        #expect(try [UInt8](Data(contentsOf: URL(fileURLWithPath: aside))) != original, "the damaged file as found")
        #expect(try [UInt8](Data(contentsOf: URL(fileURLWithPath: aside))) == bytes)
        j2.close()
    }

    /// The audit: one flipped byte in record 2 of 6 cut the file there and five acknowledged goals were gone.
    @Test func oneCorruptRecordInTheMiddleCostsThatRecordAlone() async throws {
        let dir = tempDir()
        let (j, _) = try Journal.open(directory: dir)
        let events = someEvents(6)
        await j.waitDurable(j.append(events))
        j.close()
        let path = dir + "/journal.log"
        var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        let second = 8 + recordLength(bytes, at: 0)
        let secondLength = recordLength(bytes, at: second)
        bytes[second + 8 + secondLength - 5] ^= 0x01  // near its end: the goal id stays readable
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        let (j2, recovered) = try Journal.open(directory: dir)
        #expect(recovered.events == [events[0]] + events[2...])
        #expect(recovered.damage.map(\.offset) == [second])
        #expect(recovered.damage[0].goals == ["g2"])
        #expect(recovered.truncatedBytes == 0)
        await j2.waitDurable(j2.append([JournalEvent.goalCancelled(goal: "g4", reason: "after", at: 9)]))
        j2.close()
        // The journal was rewritten clean: the damage is reported once, and appends went on after it.
        let (j3, again) = try Journal.open(directory: dir)
        #expect(again.damage.isEmpty && again.keptAside == nil)
        #expect(again.events.count == 6)
        j3.close()
    }

    @Test func aCorruptLengthIsSkippedByFindingTheNextIntactRecord() async throws {
        let dir = tempDir()
        let (j, _) = try Journal.open(directory: dir)
        let events = someEvents(5)
        await j.waitDurable(j.append(events))
        j.close()
        let path = dir + "/journal.log"
        var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        bytes[3] = 0x7F  // record 1 claims ~2 GB
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        let (j2, recovered) = try Journal.open(directory: dir)
        #expect(recovered.events == Array(events.dropFirst()))
        #expect(recovered.damage.count == 1 && recovered.damage[0].offset == 0)
        j2.close()
    }

    /// A thousand events, damaged at random offsets: every record whose bytes were not touched is replayed, in
    /// order, and the damage report covers exactly the touched ones.
    @Test(arguments: [1, 2, 3, 4, 5, 6, 7, 8])
    func randomDamageLosesOnlyTheRecordsItTouches(seed: UInt64) async throws {
        let dir = tempDir()
        let (j, _) = try Journal.open(directory: dir)
        var events: [JournalEvent] = []
        for i in 0..<1_000 {
            events.append(i % 3 == 0 ? someEvents(i / 3 + 1).last!
                          : .goalCancelled(goal: "g\(i)", reason: String(repeating: "r", count: i % 50), at: Int64(i)))
        }
        await j.waitDurable(j.append(events))
        j.close()
        let path = dir + "/journal.log"
        var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        // Where each record lies.
        var ranges: [Range<Int>] = []
        var off = 0
        while off < bytes.count {
            let n = recordLength(bytes, at: off)
            ranges.append(off..<(off + 8 + n))
            off += 8 + n
        }
        var rng = SplitMix64(seed: seed)
        var touched = Set<Int>()
        // Stay off the last record: damage there is indistinguishable from a torn append.
        for _ in 0..<(1 + Int(rng.next() % 12)) {
            let at = Int(rng.next() % UInt64(ranges[ranges.count - 2].upperBound))
            bytes[at] ^= UInt8(1 + rng.next() % 255)
            touched.insert(ranges.firstIndex { $0.contains(at) }!)
        }
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        let (j2, recovered) = try Journal.open(directory: dir)
        let survivors = events.indices.filter { !touched.contains($0) }.map { events[$0] }
        #expect(recovered.events == survivors)
        let reported = Set(recovered.damage.flatMap { d in ranges.indices.filter { ranges[$0].overlaps(d.offset..<(d.offset + d.length)) } })
        #expect(reported == touched)
        #expect(recovered.truncatedBytes == 0 && recovered.keptAside != nil)
        j2.close()
    }

    @Test func goalNumberReservationsSurviveAReopen() async throws {
        let dir = tempDir()
        let (j, fresh) = try Journal.open(directory: dir)
        #expect(fresh.reservedGoalNumbers == 0)
        #expect(j.reserveGoalNumber(1) == nil)
        #expect(j.reserveGoalNumber(500) == nil, "within the reserved block: nothing written")
        j.close()
        let (j2, recovered) = try Journal.open(directory: dir)
        #expect(recovered.reservedGoalNumbers == 1 + 1_024)
        #expect(recovered.reservationFloor == 1)
        j2.close()
    }

    @Test func compactionReplacesTheJournalWithASnapshotAndKeepsLaterEvents() async throws {
        let dir = tempDir()
        let (j, _) = try Journal.open(directory: dir)
        let state = ControlState()
        let events = someEvents(20)
        for e in events { state.apply(e) }
        j.append(events)
        j.compact(state.snapshot())
        let later = JournalEvent.goalCancelled(goal: "g3", reason: "test", at: 99)
        state.apply(later)
        await j.waitDurable(j.append([later]))
        j.close()
        let (j2, recovered) = try Journal.open(directory: dir)
        #expect(recovered.snapshot?.goals.count == 20)
        #expect(recovered.events == [later])
        let rebuilt = ControlState()
        rebuilt.restore(recovered.snapshot!)
        for e in recovered.events { rebuilt.apply(e) }
        #expect(rebuilt.goals["g3"]?.state == .cancelled)
        #expect(rebuilt.goals.count == 20)
        j2.close()
    }

    /// Compaction waits for the journal to outgrow the last snapshot too (else one huge goal is rewritten over and
    /// over), and that bound survives a restart.
    @Test func compactionWaitsForTheJournalToOutgrowTheSnapshot() async throws {
        let dir = tempDir()
        let (j, _) = try Journal.open(directory: dir)
        let state = ControlState()
        let events = someEvents(200)
        for e in events { state.apply(e) }
        await j.waitDurable(j.append(events))
        #expect(j.shouldCompact(threshold: 1_024))
        j.compact(state.snapshot())
        #expect(!j.shouldCompact(threshold: 1_024), "one is queued")
        await j.waitDurable(j.append([]))
        let snapshotBytes = try #require(FileManager.default.attributesOfItem(atPath: dir + "/snapshot.json")[.size] as? Int)
        #expect(snapshotBytes > 4_096)
        var n = 0
        func cancelSome(_ j: Journal) async {
            let batch = (n..<n + 10).map { JournalEvent.goalCancelled(goal: "g\($0 % 200 + 1)", reason: "test", at: Int64($0)) }
            await j.waitDurable(j.append(batch))
            n += 10
        }
        while j.size <= 2_048 { await cancelSome(j) }
        #expect(!j.shouldCompact(threshold: 1_024), "journal \(j.size) bytes, snapshot \(snapshotBytes)")
        j.close()
        // Reopened: the snapshot on disk still bounds it.
        let (j2, _) = try Journal.open(directory: dir)
        #expect(j2.size > 2_048 && !j2.shouldCompact(threshold: 1_024))
        while j2.size <= snapshotBytes {
            #expect(!j2.shouldCompact(threshold: 1_024))
            await cancelSome(j2)
        }
        #expect(j2.shouldCompact(threshold: 1_024))
        j2.close()
    }

    @Test func anUnreadableSnapshotStopsStartupWithTheReason() throws {
        let dir = tempDir()
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try Data("{not json".utf8).write(to: URL(fileURLWithPath: dir + "/snapshot.json"))
        #expect(throws: JournalError.self) { _ = try Journal.open(directory: dir) }
    }
}
