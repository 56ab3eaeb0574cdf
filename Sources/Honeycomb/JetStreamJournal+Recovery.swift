import FoundationEssentials
import HiveCore
import HiveLog
import JetStream
import NATSClient
import NATSWire

extension JetStreamJournal {
    /// Finds (or with `create`, makes) the stream, checks that it can hold a journal, reads the newest complete
    /// snapshot and every record after it, and starts the writer. A missing or misconfigured stream, or one that
    /// does not answer within `startupTimeout`, stops startup with the reason.
    ///
    /// `leadership`: active/standby. Once the stream is known usable, it waits until this process holds the leader
    /// lease (returning the holder's name), tailing the stream meanwhile (`whileWaiting`, each poll: a standby
    /// keeps what it read warm, so a takeover reads only what the last poll had not seen). Before anything else is written it
    /// publishes a takeover marker on `STREAM.leader` expecting the end it read, so the stream's end moves past what
    /// any earlier leader knows: that one's next write fails (fenced) even when this one has nothing to write yet.
    /// `onFenced` is called when this writer is fenced out in turn.
    static func open(client: NATSClient, settings: JetStreamJournalSettings,
                     leadership: (@Sendable (JetStreamAPI, _ whileWaiting: @escaping @Sendable () async -> Void) async -> String)? = nil,
                     onFenced: @escaping @Sendable (String) -> Void = { _ in },
                     startupTimeout: Double = 30) async throws(JournalError) -> (JetStreamJournal, JournalRecovery) {
        let js = JetStreamAPI(client: client, timeout: settings.ackTimeout)
        let name = settings.stream
        var info = try await ready(js, settings, startupTimeout: startupTimeout)
        if let problem = problem(with: info.config, settings) { throw .streamUnusable(name, problem) }
        let tail = StreamTail(js: js, stream: name)
        var leader: String?
        var warm = 0
        if let leadership {
            leader = await leadership(js) { await tail.catchUp() }
            warm = tail.messages.count
            // The stream grew while this one stood by: read to its end now.
            info = try await ready(js, settings, startupTimeout: startupTimeout)
        }
        var recovery = JournalRecovery(snapshot: nil, events: [], truncatedBytes: 0)
        do { try await tail.read(first: info.state.firstSeq, last: info.state.lastSeq) } catch {
            throw .streamUnusable(name, "cannot read the stream: \(error)")
        }
        let messages = tail.messages
        // The newest snapshot whose chunks are all there (a compaction cut short leaves a partial one after it).
        var chunks: [String: [Int: StoredMessage]] = [:]
        var newest: (covers: UInt64, bytes: [UInt8])?
        for m in messages where m.subject == settings.snapshotSubject {
            guard let id = m.headers[SnapshotHeader.id], let i = m.headers[SnapshotHeader.chunk].flatMap(Int.init),
                  let n = m.headers[SnapshotHeader.chunks].flatMap(Int.init), n >= 1, n <= 1 << 20,
                  let covers = m.headers[SnapshotHeader.covers].flatMap(UInt64.init) else { continue }
            chunks[id, default: [:]][i] = m
            if let parts = chunks[id], parts.count == n, (1...n).allSatisfy({ parts[$0] != nil }), covers >= (newest?.covers ?? 0) {
                newest = (covers, (1...n).flatMap { parts[$0]!.data })
            }
        }
        var covers: UInt64 = 0
        if let newest {
            do { recovery.snapshot = try JSONDecoder().decode(ControlState.Snapshot.self, from: Data(newest.bytes)) } catch {
                throw .unreadableSnapshot("stream \(name) subject \(settings.snapshotSubject)", "\(error)")
            }
            covers = newest.covers
        }
        var recordBytes = 0
        for m in messages where m.subject == settings.recordsSubject && m.seq > covers {
            let scan = JournalScan(m.data)
            recovery.events.append(contentsOf: scan.events)
            recordBytes += m.data.count
            for var d in scan.damage {
                d.reason = "stream sequence \(m.seq): \(d.reason)"
                recovery.damage.append(d)
            }
            if let torn = scan.tornTailAt {
                recovery.damage.append(JournalDamage(offset: torn, length: m.data.count - torn,
                                                     reason: "stream sequence \(m.seq): record cut short", goals: scan.tornTailGoals, tasks: []))
            }
        }
        let limit = info.config.maxMsgSize > 0 ? Int(info.config.maxMsgSize) : client.maxPayload
        // Room for the headers each publish carries (message id, expected sequence, snapshot chunk).
        let maxMessageBytes = max(4_096, min(limit, client.maxPayload) - 1_024)
        var lastSeq = info.state.lastSeq
        if let leader {
            var headers = NATSHeaders(JetStreamHeader.expectedLastSequence, String(lastSeq))
            headers[JetStreamHeader.msgID] = "takeover-" + leader
            do { lastSeq = try await js.publish(settings.leaderSubject, Array(leader.utf8), headers: headers).seq } catch {
                throw .streamUnusable(name, error.errCode == JetStreamErrorCode.wrongLastSequence
                                      ? "another honeycombd wrote to it while this one took the leader lease: restart to stand by again"
                                      : "cannot write the takeover marker: \(error)")
            }
        }
        let journal = JetStreamJournal(settings: settings, js: js, lastStreamSeq: lastSeq,
                                       recordBytes: recordBytes, maxMessageBytes: maxMessageBytes, onFenced: onFenced)
        Log("journal").info("jetstream_opened", ["stream": name, "replicas": info.config.numReplicas,
                                                 "leader": info.cluster?.leader ?? "-", "messages": info.state.messages,
                                                 "first_seq": info.state.firstSeq, "last_seq": lastSeq, "writer": journal.writerID,
                                                 "snapshot_covers": covers, "events": recovery.events.count,
                                                 "read_while_standing_by": warm, "read_at_takeover": messages.count - warm])
        return (journal, recovery)
    }

    /// The stream's info once JetStream answers (a cluster elects its leaders a moment after it starts), created
    /// when missing and asked to; bounded by `startupTimeout`.
    private static func ready(_ js: JetStreamAPI, _ settings: JetStreamJournalSettings,
                              startupTimeout: Double) async throws(JournalError) -> StreamInfo {
        let name = settings.stream
        let deadline = ContinuousClock.now + .milliseconds(Int64(startupTimeout * 1000))
        var waited = false
        while true {
            do throws(JetStreamError) {
                if let info = try await js.streamInfo(name) { return info }
                guard settings.create else {
                    throw JetStreamError.api(code: 404, errCode: JetStreamErrorCode.streamNotFound, description: "stream not found")
                }
                let config = StreamConfig(name: name, subjects: [name + ".>"], storage: "file", replicas: settings.replicas ?? 1)
                let info = try await js.createStream(config)
                Log("journal").info("jetstream_stream_created", ["stream": name, "replicas": info.config.numReplicas])
                return info
            } catch {
                if error.errCode == JetStreamErrorCode.streamNotFound {
                    throw .streamUnusable(name, "no such stream: create it (nats stream add \(name) --subjects '\(name).>' --storage file "
                                          + "--replicas \(settings.replicas ?? 1) --retention limits --discard old) or start honeycombd once with --journal-create")
                }
                guard error.isTransient, ContinuousClock.now < deadline else {
                    let hint = error.errCode == JetStreamErrorCode.noSuitablePeers
                        ? "; the cluster has fewer JetStream nodes up than replicas=\(settings.replicas ?? 1)" : ""
                    throw .streamUnusable(name, waited ? "\(error) (waited \(Int(startupTimeout)) s\(hint))" : error.description)
                }
                if !waited { Log("journal").warn("jetstream_waiting", ["stream": name, "reason": error.description]) }
                waited = true
                try? await Task.sleep(for: .milliseconds(250))  // retry pacing while JetStream comes up, bounded by the deadline
            }
        }
    }

    /// Why a stream cannot hold the journal, or nil.
    static func problem(with config: StreamConfig, _ settings: JetStreamJournalSettings) -> String? {
        let name = settings.stream
        let takes = config.subjects.contains(name + ".>")
            || (config.subjects.contains(settings.recordsSubject) && config.subjects.contains(settings.snapshotSubject))
        if !takes { return "its subjects \(config.subjects) do not include '\(name).>' (the journal writes \(settings.recordsSubject) and \(settings.snapshotSubject))" }
        if config.retention != "limits" { return "its retention is '\(config.retention)': a journal needs 'limits' (other policies delete records once read)" }
        if config.maxMsgs > 0 || config.maxBytes > 0 || config.maxAge > 0 {
            return "it has limits that drop records on their own (max_msgs \(config.maxMsgs), max_bytes \(config.maxBytes), max_age \(config.maxAge) ns): a journal needs none"
        }
        if let want = settings.replicas, want != config.numReplicas {
            return "it has \(config.numReplicas) replicas, and replicas=\(want) was asked for (change the stream, or the --journal URL)"
        }
        return nil
    }

    /// Every message from `first` through `last`, in order, read `window` at a time in parallel (purged gaps skipped).
    static func readAll(_ js: JetStreamAPI, _ stream: String, from first: UInt64, through last: UInt64,
                        window: UInt64 = 64) async throws -> [StoredMessage] {
        guard last >= first, last > 0 else { return [] }
        var out: [StoredMessage] = []
        var next = max(first, 1)
        while next <= last {
            let end = min(last, next &+ window &- 1)
            let block = try await withThrowingTaskGroup(of: (UInt64, StoredMessage?).self) { group in
                for seq in next...end { group.addTask { (seq, try await js.message(stream, seq: seq)) } }
                var got: [(UInt64, StoredMessage?)] = []
                for try await r in group { got.append(r) }
                return got.sorted { $0.0 < $1.0 }.compactMap(\.1)
            }
            out.append(contentsOf: block)
            next = end &+ 1
        }
        return out
    }
}

/// What has been read of a journal stream, in sequence order, and where reading goes on: a standby tails the stream
/// with it while it waits for the leader lease, so that a takeover reads only the newest messages.
final class StreamTail: @unchecked Sendable {
    let js: JetStreamAPI
    let stream: String
    // Used by one task at a time: the lease's poll loop, then `open` after it returned.
    private(set) var messages: [StoredMessage] = []
    private var next: UInt64 = 1

    init(js: JetStreamAPI, stream: String) {
        self.js = js
        self.stream = stream
    }

    /// Reads what is new up to `last`, and forgets what the stream purged (below `first`: a compaction's snapshot,
    /// which is read too, covers it).
    func read(first: UInt64, last: UInt64) async throws {
        messages.removeAll { $0.seq < first }
        let from = max(next, first)
        if last >= from { messages += try await JetStreamJournal.readAll(js, stream, from: from, through: last) }
        next = max(next, last &+ 1)
    }

    /// One step of tailing: reads to the stream's current end; a failure waits for the next step.
    func catchUp() async {
        guard let info = try? await js.streamInfo(stream) else { return }
        try? await read(first: info.state.firstSeq, last: info.state.lastSeq)
    }
}
