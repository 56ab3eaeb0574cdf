import Foundation
import HiveCore
@testable import Honeycomb
import JetStream
import NATSClient
import NATSTestSupport
import Testing

/// The JetStream journal against real nats-server processes with JetStream (`-js`, a store per node).
@Suite(.serialized) struct JetStreamJournalTests {
    @Test func recordsAndChunkedSnapshotsSurviveAReopen() async throws {
        let servers = try NATSServerCluster(size: 1, jetStream: true)
        let js = try await readyJetStream(servers.urls)
        // A small message limit, so that commits and the snapshot are split across messages.
        _ = try await js.createStream(StreamConfig(name: "HJ", subjects: ["HJ.>"], maxMsgSize: 8_192))
        let settings = JetStreamJournalSettings(stream: "HJ", ackTimeout: 3)
        let (j, empty) = try await JetStreamJournal.open(client: js.client, settings: settings)
        #expect(empty.replayed?.state.goals.isEmpty == true && empty.replayed?.events == 0)
        #expect(j.maxMessageBytes == 8_192 - 1_024)
        let state = ControlState()
        let events = someEvents(300)
        for e in events { state.apply(e) }
        #expect(await j.waitDurable(j.append(events)))
        let before = try #require(try await js.streamInfo("HJ"))
        #expect(before.state.messages > 1, "300 goals do not fit one 7 KiB message")
        j.compact(state.snapshot())
        let later = JournalEvent.goalCancelled(goal: "g3", reason: "test", at: 999)
        state.apply(later)
        #expect(await j.waitDurable(j.append([later])))
        #expect(!j.compactionQueued && j.size > 0 && j.size < 1_000)
        j.close()

        let (j2, recovered) = try await JetStreamJournal.open(client: js.client, settings: settings)
        let rebuilt = try #require(recovered.replayed)
        #expect(rebuilt.fromSnapshot && rebuilt.events == 1, "the snapshot, then the one record after it")
        #expect(rebuilt.state.goals["g3"]?.state == .cancelled && rebuilt.state.goals.count == 300)
        // The records the snapshot covers were purged: what is left is the snapshot's chunks and the later record.
        let after = try #require(try await js.streamInfo("HJ"))
        #expect(after.state.firstSeq > before.state.lastSeq, "every record before the snapshot is purged")
        j2.close()
        js.client.close()
    }

    @Test func aMissingOrMisconfiguredStreamStopsStartupWithTheReason() async throws {
        let servers = try NATSServerCluster(size: 1, jetStream: true)
        let js = try await readyJetStream(servers.urls)
        func refusal(_ settings: JetStreamJournalSettings) async -> String {
            do {
                _ = try await JetStreamJournal.open(client: js.client, settings: settings, startupTimeout: 3)
                return "opened"
            } catch {
                return error.description
            }
        }
        let missing = await refusal(JetStreamJournalSettings(stream: "NONE"))
        #expect(missing.contains("no such stream") && missing.contains("--journal-create"), "\(missing)")
        var aged = StreamConfig(name: "AGED", subjects: ["AGED.>"])
        aged.maxAge = 60_000_000_000
        aged.duplicateWindow = aged.maxAge
        _ = try await js.createStream(aged)
        let agedWhy = await refusal(JetStreamJournalSettings(stream: "AGED"))
        #expect(agedWhy.contains("max_age"), "\(agedWhy)")
        _ = try await js.createStream(StreamConfig(name: "ELSE", subjects: ["elsewhere.>"]))
        let subjects = await refusal(JetStreamJournalSettings(stream: "ELSE"))
        #expect(subjects.contains("do not include 'ELSE.>'"), "\(subjects)")
        _ = try await js.createStream(StreamConfig(name: "ONE", subjects: ["ONE.>"]))
        let replicas = await refusal(JetStreamJournalSettings(stream: "ONE", replicas: 3))
        #expect(replicas.contains("1 replicas, and replicas=3"), "\(replicas)")
        // --journal-create makes it, and a second start finds it.
        let (made, _) = try await JetStreamJournal.open(client: js.client, settings: JetStreamJournalSettings(stream: "MADE", create: true))
        made.close()
        #expect(try await js.streamInfo("MADE")?.config.subjects == ["MADE.>"])
        js.client.close()
    }

    @Test func aSecondWriterFencesTheFirstOut() async throws {
        let servers = try NATSServerCluster(size: 1, jetStream: true)
        let js = try await readyJetStream(servers.urls)
        let settings = JetStreamJournalSettings(stream: "FENCE", create: true, ackTimeout: 2)
        let (old, _) = try await JetStreamJournal.open(client: js.client, settings: settings)
        #expect(await old.waitDurable(old.append(someEvents(1))))
        let (new, recovered) = try await JetStreamJournal.open(client: js.client, settings: settings)
        #expect(recovered.replayed?.events == 1)
        #expect(await new.waitDurable(new.append([.goalCancelled(goal: "g1", reason: "new leader", at: 5)])))
        // The old writer's view of the stream's end is stale: its write is refused and it stops writing.
        #expect(await old.waitDurable(old.append([.goalCancelled(goal: "g1", reason: "stale", at: 6)])) == false)
        #expect(old.writeFailure?.contains("fenced out") == true, "\(old.writeFailure ?? "-")")
        let (_, final) = try await JetStreamJournal.open(client: js.client, settings: settings)
        #expect(final.replayed?.events == 2)
        #expect(final.replayed?.state.goals["g1"]?.reason == "new leader", "nothing from the fenced writer")
        old.close()
        new.close()
        js.client.close()
    }

    /// Replicas 3 on three nodes: with two nodes down the stream has no quorum, so a write is not acknowledged
    /// (waitDurable answers false in time) and nothing is lost; once the nodes are back the queued records land.
    @Test func losingQuorumPausesWritesAndLosesNothing() async throws {
        let servers = try NATSServerCluster(size: 3, jetStream: true)
        let js = try await readyJetStream(servers.urls)
        let settings = JetStreamJournalSettings(stream: "Q", replicas: 3, create: true, ackTimeout: 2)
        let (j, _) = try await JetStreamJournal.open(client: js.client, settings: settings)
        #expect(await j.waitDurable(j.append(someEvents(3))))
        servers.kill(1)
        servers.kill(2)
        let queued = j.append([.goalCancelled(goal: "g2", reason: "during the outage", at: 7)])
        #expect(await j.waitDurable(queued) == false, "no quorum: not acknowledged")
        #expect(j.writeFailure == nil, "an outage is not a failure for good")
        try servers.start(1)
        try servers.start(2)
        // Once quorum is back the retried publish lands; bounded wait for the cluster to elect a leader.
        let deadline = Date().addingTimeInterval(30)
        var landed = false
        while !landed && Date() < deadline { landed = await j.waitDurable(queued) }
        #expect(landed)
        j.close()
        let (j2, recovered) = try await JetStreamJournal.open(client: js.client, settings: settings)
        #expect(recovered.replayed?.events == 4)
        #expect(recovered.replayed?.state.goals["g2"]?.reason == "during the outage")
        j2.close()
        js.client.close()
    }
}
