import HiveLog
import JetStream
import NATSClient

/// Keeps the raft leaders of the journal's stream and of the lease bucket off the NATS node the active honeycombd
/// is connected to.
///
/// Why: a stream whose raft leader dies has no leader until its followers' election timeout runs out (nats-server
/// 2.9.10 on loopback: 5.7–6.9 s from SIGKILL to the next acknowledged publish; later versions wait 4–9 s), longer
/// than the leader lease's lapse. The failure a standby exists for is the loss of the active one's machine, and
/// that machine usually runs the node it uses: were the leaders there, the standby could take the lease only after
/// the bucket's election and replay only after the stream's. With the leaders on other nodes, that loss costs each
/// stream a follower (quorum stays), and the standby serves after the lease lapse alone. A stepdown hands a leader
/// to another replica in about a second (no writes meanwhile; the journal retries them).
///
/// The active one checks every `period` (the leaders move when nodes restart, and this process may have reconnected
/// to another node); the first check is a period after takeover, not at once: a stepdown right then would stall the
/// first writes of a failover that just happened, to guard against a second one. A single server, or a stream of
/// one replica, has nothing to move.
final class RaftLeaderPlacement: Sendable {
    let js: JetStreamAPI
    let streams: [String]
    let period: Double
    private let log = Log("journal")

    init(js: JetStreamAPI, streams: [String], period: Double) {
        self.js = js
        self.streams = streams
        self.period = period
    }

    /// Checks every `period` until the task is cancelled.
    func start() -> Task<Void, Never> {
        Task.detached { [self] in
            while !Task.isCancelled {
                try? await Task.sleep(for: .milliseconds(Int64(max(period, 0.1) * 1000)))  // the check's period, not a synchronization
                for stream in streams where !Task.isCancelled { await keepLeaderAway(stream) }
            }
        }
    }

    /// Asks `stream`'s leader to step down when it is the node this process uses. Failures are left to the next
    /// check: a stream without a leader or quorum is the journal's to wait out, not this one's.
    func keepLeaderAway(_ stream: String) async {
        guard let node = js.client.connectedServerName else { return }
        do throws(JetStreamError) {
            guard let info = try await js.streamInfo(stream), info.config.numReplicas > 1,
                  let cluster = info.cluster, let leader = cluster.leader, leader == node else { return }
            // Only with every other replica up and caught up: a stepdown may hand the leadership to any of them, and
            // one that is down (the node that just died in a failover) takes the stream's writes away until an
            // election timeout, or longer (seen: over a minute on nats-server 2.9.10).
            let peers = cluster.replicas ?? []
            guard peers.count == info.config.numReplicas - 1, peers.allSatisfy({ $0.current == true && $0.offline != true }) else {
                log.debug("raft_leader_kept", ["stream": stream, "node": node, "reason": "a replica is down or behind"])
                return
            }
            try await js.stepDownLeader(stream)
            log.info("raft_leader_moved", ["stream": stream, "from": node,
                                           "reason": "the raft leader was on the node this honeycombd uses: losing both at once would add an election to the failover"])
        } catch {
            log.debug("raft_leader_check_failed", ["stream": stream, "reason": error.description])
        }
    }
}
