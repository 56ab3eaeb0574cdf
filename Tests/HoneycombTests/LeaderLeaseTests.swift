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
        try await readyJetStream(servers.urls)
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

/// What a lost answer does to the lease, and where the active one keeps the streams' raft leaders.
@Suite(.serialized) struct LeaderLeaseAnswerTests {
    let heartbeat = 0.2

    /// A renewal the bucket stored but whose answer never reached the holder (a loaded node, a bucket electing its
    /// leader: the 0.5 s request timeout passed) moves the revision to the holder's own value: its next renewal is
    /// refused, and it must read the key and go on, not step down as if another had taken the lease.
    @Test func aRenewalStoredWithoutItsAnswerDoesNotStepTheHolderDown() async throws {
        let servers = try NATSServerCluster(size: 1, jetStream: true)
        let js = try await LeaderLeaseTests().jetStream(servers)
        let (client, contending) = try await LeaderLeaseTests().contender(servers, "a")
        let a = await contending.value
        let lost = Mutex<String?>(nil)
        a.keepRenewing { why in lost.withLock { $0 = why } }
        // "a"'s own value written over its revision behind its back: what its timed-out renewal did on the server.
        let bucket = LeaderLease.bucket(for: "LL")
        let own = try JSONEncoder().encode(LeaderLease.Value(holder: "a", heartbeatMs: 200))
        let deadline = ContinuousClock.now + .seconds(10)
        var written: UInt64 = 0
        while written == 0 && ContinuousClock.now < deadline {
            let e = try #require(try await js.keyValue(bucket, LeaderLease.key))
            written = (try? await js.updateKeyValue(bucket, LeaderLease.key, Array(own), revision: e.revision)) ?? 0
        }
        #expect(written > 0)
        // "a" renews on past it (five more renewals, each its own) and never calls the lease lost.
        while try #require(try await js.keyValue(bucket, LeaderLease.key)).revision < written + 5 {
            #expect(ContinuousClock.now < deadline, "a renews every heartbeat")
            if ContinuousClock.now >= deadline { break }
            try await Task.sleep(for: .milliseconds(20))  // polling the key for the state, bounded by the deadline
        }
        #expect(try await LeaderLeaseTests().holder(js) == "a")
        #expect(lost.withLock { $0 } == nil)
        await a.release()
        client.close()
        js.client.close()
    }

    /// The active one asks a stream's raft leader on its own node to step down; the leader moves to another node.
    @Test func theRaftLeaderMovesOffTheNodeTheActiveOneUses() async throws {
        let servers = try NATSServerCluster(size: 3, jetStream: true)
        let js = try await readyJetStream(servers.urls)
        _ = try await js.createStream(StreamConfig(name: "RL", subjects: ["RL.>"], storage: "file", replicas: 3))
        var leader: String?
        let deadline = ContinuousClock.now + .seconds(20)
        while leader == nil && ContinuousClock.now < deadline {
            leader = try? await js.streamInfo("RL")?.cluster?.leader
            if leader == nil { try await Task.sleep(for: .milliseconds(100)) }  // polling for the stream's election, bounded
        }
        let node = try #require(leader)
        // A client on the leader's node (nodes are named n0, n1, n2 in order).
        let i = try #require(Int(node.dropFirst()))
        let onLeader = JetStreamAPI(client: try await NATSClient.connect(urls: servers.url(i)), timeout: 2)
        #expect(onLeader.client.connectedServerName == node)
        await RaftLeaderPlacement(js: onLeader, streams: ["RL"], period: 1).keepLeaderAway("RL")
        var moved: String?
        while ContinuousClock.now < deadline {
            moved = try? await js.streamInfo("RL")?.cluster?.leader
            if let m = moved, m != node { break }
            try await Task.sleep(for: .milliseconds(100))  // polling for the new leader, bounded by the deadline
        }
        #expect(moved != nil && moved != node)
        // On a follower's node there is nothing to move.
        let follower = JetStreamAPI(client: try await NATSClient.connect(urls: servers.url((i + 1) % 3)), timeout: 2)
        let before = try await js.streamInfo("RL")?.cluster?.leader
        if before != follower.client.connectedServerName {
            await RaftLeaderPlacement(js: follower, streams: ["RL"], period: 1).keepLeaderAway("RL")
            #expect(try await js.streamInfo("RL")?.cluster?.leader == before)
        }
        for c in [onLeader.client, follower.client, js.client] { c.close() }
    }
}
