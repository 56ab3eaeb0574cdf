import Foundation
import HiveCore
@testable import Honeycomb
import JetStream
import NATSClient
import NATSTestSupport
import Testing

/// A standby's warm state (`StreamTail` + `StreamReplay`) against a real nats-server -js: it applies records as
/// they arrive, skips snapshots it does not need, rebuilds from the newest snapshot when a compaction purged what
/// it had not read, waits for a snapshot's last chunk, and reports damage and purged records instead of serving
/// past them silently.
extension JetStreamJournalTests {
    func goals(_ range: ClosedRange<Int>) -> [JournalEvent] {
        range.map { .goalSubmitted(goal: "g\($0)", spec: GoalSpec(root: .fork([TaskSpec(kind: "noop")])), at: Int64($0)) }
    }

    /// Goals and tasks with their states: two states serve the same when these are equal.
    func summary(_ s: ControlState) -> [String] {
        s.goals.values.map { "\($0.id) \($0.state) \($0.reason ?? "-") \($0.taskCount)" }.sorted()
            + s.tasks.values.map { "\($0.id) \($0.state)" }.sorted()
    }

    /// Sequences of the messages on `subject`.
    func sequences(_ js: JetStreamAPI, _ stream: String, _ subject: String) async throws -> [UInt64] {
        let info = try #require(try await js.streamInfo(stream))
        guard info.state.lastSeq >= max(info.state.firstSeq, 1) else { return [] }
        return try await StreamTail.messages(js, stream, max(info.state.firstSeq, 1)...info.state.lastSeq).filter { $0.subject == subject }.map(\.seq)
    }

    @Test func aStandbyAppliesAsItTailsAndRebuildsFromTheSnapshotAfterAPurgeUnderIt() async throws {
        let servers = try NATSServerCluster(size: 1, jetStream: true)
        let js = try await readyJetStream(servers.urls)
        _ = try await js.createStream(StreamConfig(name: "W", subjects: ["W.>"], maxMsgSize: 8_192))
        let settings = JetStreamJournalSettings(stream: "W", ackTimeout: 3)
        let (j, _) = try await JetStreamJournal.open(client: js.client, settings: settings)
        let active = ControlState()
        func write(_ events: [JournalEvent]) async {
            for e in events { active.apply(e) }
            #expect(await j.waitDurable(j.append(events)))
        }
        let replay = StreamReplay(settings: settings, config: ControlConfig())
        let tail = StreamTail(js: js, replay: replay)

        // Records applied as they arrive; a snapshot the standby does not need is skipped.
        await write(goals(1...300))
        await tail.catchUp()
        #expect(replay.events == 300 && summary(replay.state) == summary(active))
        j.compact(active.snapshot())
        await write([.goalCancelled(goal: "g3", reason: "after the first snapshot", at: 1_000)])
        await tail.catchUp()
        #expect(!replay.fromSnapshot && replay.events == 301 && replay.gap == nil, "nothing was missed: the snapshot is not decoded")
        #expect(replay.snapshotCovers > 0 && summary(replay.state) == summary(active))

        // A compaction purges what the standby had not read yet: it rebuilds from the snapshot.
        await write(goals(301...500))
        j.compact(active.snapshot())
        await write([.goalCancelled(goal: "g400", reason: "after the second snapshot", at: 2_000)])
        let snapshots = try await sequences(js, "W", settings.snapshotSubject)
        #expect(snapshots.count > 1, "the snapshot is chunked: \(snapshots)")
        // Read up to the snapshot's first chunk only: the gap stays open until its last chunk arrives.
        let info = try #require(try await js.streamInfo("W"))
        try await tail.read(first: info.state.firstSeq, last: snapshots[0])
        #expect(replay.gap != nil && !replay.fromSnapshot, "a partial snapshot does not close the gap")
        await tail.catchUp()
        #expect(replay.gap == nil && replay.fromSnapshot && replay.events == 1)
        #expect(summary(replay.state) == summary(active))
        let recovery = try replay.recovery()
        #expect(recovery.damage.isEmpty && recovery.replayed?.state.goals.count == 500)
        j.close()
        js.client.close()
    }

    @Test func compactionPurgesTakeoverMarkersAndTheFencingHolds() async throws {
        let servers = try NATSServerCluster(size: 1, jetStream: true)
        let js = try await readyJetStream(servers.urls)
        let settings = JetStreamJournalSettings(stream: "M", create: true, ackTimeout: 2)
        let (first, _) = try await JetStreamJournal.open(client: js.client, settings: settings, leadership: { _ in "first" })
        #expect(await first.waitDurable(first.append(goals(1...3))))
        first.close()
        let (second, _) = try await JetStreamJournal.open(client: js.client, settings: settings, leadership: { _ in "second" })
        #expect(try await sequences(js, "M", settings.leaderSubject).count == 2)
        let active = ControlState()
        for e in goals(1...5) { active.apply(e) }
        #expect(await second.waitDurable(second.append(goals(4...5))))
        second.compact(active.snapshot())
        #expect(await second.waitDurable(second.append([.goalCancelled(goal: "g1", reason: "after", at: 9)])))
        let snapshot = try await sequences(js, "M", settings.snapshotSubject)
        let markers = try await sequences(js, "M", settings.leaderSubject)
        #expect(markers.isEmpty, "markers below the snapshot \(snapshot) are purged: \(markers)")
        // A third leader still fences the second out: the stream's last sequence did not move back.
        let (third, recovered) = try await JetStreamJournal.open(client: js.client, settings: settings, leadership: { _ in "third" })
        #expect(recovered.replayed?.fromSnapshot == true && recovered.replayed?.state.goals["g1"]?.reason == "after")
        #expect(await second.waitDurable(second.append([.goalCancelled(goal: "g2", reason: "stale", at: 10)])) == false)
        #expect(second.writeFailure?.contains("fenced out") == true, "\(second.writeFailure ?? "-")")
        #expect(await third.waitDurable(third.append([.goalCancelled(goal: "g2", reason: "third", at: 11)])))
        second.close()
        third.close()
        js.client.close()
    }

    @Test func damageAndRecordsPurgedWithoutASnapshotAreReportedNotSkippedSilently() async throws {
        let servers = try NATSServerCluster(size: 1, jetStream: true)
        let js = try await readyJetStream(servers.urls)
        let settings = JetStreamJournalSettings(stream: "D", create: true, ackTimeout: 2)
        let (j, _) = try await JetStreamJournal.open(client: js.client, settings: settings)
        #expect(await j.waitDurable(j.append(goals(1...2))))
        j.close()
        // A record that fails its checksum: damage, and the replay goes on after it (as the file journal's recovery).
        var bad: [UInt8] = []
        Journal.frame(goals(3...3)[0], encoder: JSONEncoder(), into: &bad)
        bad[bad.count - 2] ^= 0xFF
        _ = try await js.publish(settings.recordsSubject, bad)
        var good: [UInt8] = []
        Journal.frame(goals(4...4)[0], encoder: JSONEncoder(), into: &good)
        _ = try await js.publish(settings.recordsSubject, good)
        let replay = StreamReplay(settings: settings, config: ControlConfig())
        let tail = StreamTail(js: js, replay: replay)
        await tail.catchUp()
        let damaged = try replay.recovery()
        #expect(!damaged.damage.isEmpty && damaged.damage.allSatisfy { $0.reason.contains("stream sequence 2") }, "\(damaged.damage)")
        #expect(damaged.lostRecords && Set(replay.state.goals.keys) == ["g1", "g2", "g4"])
        // Records purged by hand, with no snapshot to cover them: a cold start reports them lost.
        _ = try await js.purge("D", subject: settings.recordsSubject, below: 2)
        let (cold, lost) = try await JetStreamJournal.open(client: js.client, settings: settings)
        #expect(lost.damage.contains { $0.reason.contains("are gone and no complete snapshot") }, "\(lost.damage)")
        #expect(lost.replayed.map { Set($0.state.goals.keys) } == ["g4"], "g1 and g2 were in the purged message")
        cold.close()
        js.client.close()
    }
}
