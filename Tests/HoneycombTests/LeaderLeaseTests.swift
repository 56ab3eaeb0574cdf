import Foundation
import HiveCore
@testable import Honeycomb
import JetStream
import NATSClient
import NATSTestSupport
import Synchronization
import Testing

/// The leader lease against a real nats-server with JetStream: one holder at a time, a lapse hands it over, a
/// release hands it over at once, a refused renewal steps the old holder down, and a takeover fences the old writer.
@Suite(.serialized) struct LeaderLeaseTests {
    let heartbeat = 0.2

    func jetStream(_ servers: NATSServerCluster) async throws -> JetStreamAPI {
        try await JetStreamJournalTests().jetStream(servers.urls)
    }

    /// `acquire` in a task, on a connection of its own (closing it is that contender's crash); the lease once it returns.
    func contender(_ servers: NATSServerCluster, _ name: String) async throws -> (client: NATSClient, lease: Task<LeaderLease, Never>) {
        let client = try await NATSClient.connect(urls: servers.urls)
        let js = JetStreamAPI(client: client, timeout: 2)
        return (client, Task { await LeaderLease.acquire(js, stream: "LL", replicas: 1, holder: name, heartbeat: heartbeat) })
    }

    func holder(_ js: JetStreamAPI) async throws -> String? {
        guard let e = try await js.keyValue(LeaderLease.bucket(for: "LL"), LeaderLease.key) else { return nil }
        return try JSONDecoder().decode(LeaderLease.Value.self, from: Data(e.value)).holder
    }

    @Test func aStandbyWaitsWhileTheHolderRenewsAndTakesOverWhenItStops() async throws {
        let servers = try NATSServerCluster(size: 1, jetStream: true)
        let js = try await jetStream(servers)
        let a = try await contender(servers, "a")
        let aLease = await a.lease.value
        let lost = Mutex<String?>(nil)
        aLease.keepRenewing { why in lost.withLock { $0 = why } }
        let b = try await contender(servers, "b")
        // While "a" renews (the revision moves on, five times: two and a half leases), "b" does not get it.
        let bucket = LeaderLease.bucket(for: "LL")
        let first = try #require(try await js.keyValue(bucket, LeaderLease.key)).revision
        let deadline = ContinuousClock.now + .seconds(10)
        while try #require(try await js.keyValue(bucket, LeaderLease.key)).revision < first + 5 {
            #expect(try await holder(js) == "a")
            #expect(ContinuousClock.now < deadline, "a renews every heartbeat")
            try await Task.sleep(for: .milliseconds(20))  // polling the key for the state, bounded by the deadline
        }
        #expect(try await holder(js) == "a")
        // "a" gives it up: "b" has it within a poll or two.
        let released = ContinuousClock.now
        await aLease.release()
        let bLease = await b.lease.value
        #expect(ContinuousClock.now - released < .seconds(2 * heartbeat))
        #expect(try await holder(js) == "b" && lost.withLock { $0 } == nil)
        // "b" crashes before its first renewal (its connection gone, nothing released): "c" has it after the lapse, not before.
        let c = try await contender(servers, "c")
        let crashed = ContinuousClock.now
        b.client.close()
        let cLease = await c.lease.value
        #expect(ContinuousClock.now - crashed >= .seconds(bLease.lease - heartbeat), "no takeover before the lease lapsed")
        #expect(ContinuousClock.now - crashed < .seconds(3 * heartbeat + 1))
        #expect(try await holder(js) == "c")
        await cLease.release()
        for client in [a.client, c.client, js.client] { client.close() }
    }

    @Test func aHolderWhoseRenewalIsRefusedStepsDown() async throws {
        let servers = try NATSServerCluster(size: 1, jetStream: true)
        let js = try await jetStream(servers)
        let (client, contending) = try await contender(servers, "a")
        let a = await contending.value
        let (reasons, reason) = AsyncStream<String>.makeStream()
        a.keepRenewing { why in reason.yield(why) }
        // Another writes the key behind a's back (what a standby does once a's lease lapsed, seen from a stalled a).
        // (A compare-and-set on the revision read; a's own renewal may move it in between: then read it again.)
        let deadline = ContinuousClock.now + .seconds(10)
        while true {
            let e = try #require(try await js.keyValue(LeaderLease.bucket(for: "LL"), LeaderLease.key))
            let refused = await overwrite(js, revision: e.revision)
            if refused == nil { break }
            #expect(refused == JetStreamErrorCode.wrongLastSequence && ContinuousClock.now < deadline)
            if ContinuousClock.now >= deadline { return }
        }
        var it = reasons.makeAsyncIterator()
        let why = try #require(await it.next())
        #expect(why.contains("another honeycombd holds the leader lease"))
        client.close()
        js.client.close()
    }

    /// Writes holder "z" over `revision`: nil, or the JetStream error code that refused it.
    func overwrite(_ js: JetStreamAPI, revision: UInt64) async -> Int? {
        do throws(JetStreamError) {
            _ = try await js.updateKeyValue(LeaderLease.bucket(for: "LL"), LeaderLease.key, Array(#"{"holder":"z","heartbeat_ms":200}"#.utf8), revision: revision)
            return nil
        } catch {
            return error.errCode ?? -1
        }
    }

    @Test func aTakeoverFencesTheOldWriterBeforeTheNewOneWritesAnything() async throws {
        let servers = try NATSServerCluster(size: 1, jetStream: true)
        let js = try await jetStream(servers)
        let settings = JetStreamJournalSettings(stream: "FT", create: true, ackTimeout: 2)
        let fenced = Mutex<String?>(nil)
        let (old, _) = try await JetStreamJournal.open(client: js.client, settings: settings, leadership: { _ in "old" },
                                                       onFenced: { why in fenced.withLock { $0 = why } })
        let goal = JournalEvent.goalCancelled(goal: "g1", reason: "before", at: 1)
        #expect(await old.waitDurable(old.append([goal])))
        // The new leader reads and marks the stream, and writes nothing else.
        let (new, recovered) = try await JetStreamJournal.open(client: js.client, settings: settings, leadership: { _ in "new" })
        #expect(recovered.replayed?.events == 1, "the one record: \(goal)")
        let end = try #require(try await js.streamInfo("FT")).state.lastSeq
        #expect(!(await old.waitDurable(old.append([JournalEvent.goalCancelled(goal: "g2", reason: "after", at: 2)]))))
        #expect(fenced.withLock { $0 }?.contains("fenced out") == true)
        #expect(try #require(try await js.streamInfo("FT")).state.lastSeq == end, "nothing from the old writer after the takeover")
        old.close()
        new.close()
        js.client.close()
    }
}
