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

    @Test func aCorruptRecordIsDetectedByItsChecksum() async throws {
        let dir = tempDir()
        let (j, _) = try Journal.open(directory: dir)
        await j.waitDurable(j.append(someEvents(3)))
        j.close()
        let path = dir + "/journal.log"
        var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        bytes[bytes.count - 20] ^= 0xFF  // flip a byte inside the last record's payload
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        let (j2, recovered) = try Journal.open(directory: dir)
        #expect(recovered.events == Array(someEvents(3).prefix(2)))
        #expect(recovered.truncationReason?.hasPrefix("checksum mismatch") == true)
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

    @Test func anUnreadableSnapshotStopsStartupWithTheReason() throws {
        let dir = tempDir()
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try Data("{not json".utf8).write(to: URL(fileURLWithPath: dir + "/snapshot.json"))
        #expect(throws: JournalError.self) { _ = try Journal.open(directory: dir) }
    }
}
