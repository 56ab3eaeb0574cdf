import FoundationEssentials
import HiveCore
import HiveLog
import JetStream
import NATSClient
import NATSWire

extension JetStreamJournal {
    /// Finds (or with `create`, makes) the stream, checks that it can hold a journal, replays it into a state
    /// (`StreamReplay`: the newest snapshot it needs and every record after it), and starts the writer. A missing or misconfigured stream, or one that
    /// does not answer within `startupTimeout`, stops startup with the reason.
    ///
    /// `leadership`: active/standby. Once the stream is known usable, it waits until this process holds the leader
    /// lease (returning the holder's name), tailing the stream meanwhile in a task of its own (every quarter
    /// heartbeat: a standby applies what it read to its state and drops the messages, so a takeover reads and
    /// applies only what the last poll had not seen; beside the lease's polls, not in them, so that applying a
    /// backlog never delays noticing the lapse). Before anything else is written it
    /// publishes a takeover marker on `STREAM.leader` expecting the end it read, so the stream's end moves past what
    /// any earlier leader knows: that one's next write fails (fenced) even when this one has nothing to write yet.
    /// `onFenced` is called when this writer is fenced out in turn.
    static func open(client: NATSClient, settings: JetStreamJournalSettings,
                     leadership: (@Sendable (JetStreamAPI) async -> String)? = nil,
                     onFenced: @escaping @Sendable (String) -> Void = { _ in },
                     config: ControlConfig = ControlConfig(), startupTimeout: Double = 30) async throws(JournalError) -> (JetStreamJournal, JournalRecovery) {
        let js = JetStreamAPI(client: client, timeout: settings.ackTimeout)
        let name = settings.stream
        var info = try await ready(js, settings, startupTimeout: startupTimeout)
        if let problem = problem(with: info.config, settings) { throw .streamUnusable(name, problem) }
        let replay = StreamReplay(settings: settings, config: config)
        let tail = StreamTail(js: js, replay: replay, maxRead: settings.maxReadSequences)
        var leader: String?
        var warm = 0
        if let leadership {
            let following = Task { await tail.follow(every: settings.leaderHeartbeat / 4) }
            leader = await leadership(js)
            // The follower finishes the catch-up under way (the takeover would read the same) and stops.
            following.cancel()
            await following.value
            warm = tail.messagesRead
            // The stream grew while this one stood by: read to its end now.
            info = try await ready(js, settings, startupTimeout: startupTimeout)
        }
        if let why = unreadableSpan(info.state, settings) { throw .streamUnusable(name, why) }
        do { try await tail.read(first: info.state.firstSeq, last: info.state.lastSeq) } catch {
            throw .streamUnusable(name, "cannot read the stream: \(error)")
        }
        let recovery = try replay.recovery()
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
                                       recordBytes: replay.recordBytes, maxMessageBytes: maxMessageBytes, onFenced: onFenced)
        Log("journal").info("jetstream_opened", ["stream": name, "replicas": info.config.numReplicas,
                                                 "leader": info.cluster?.leader ?? "-", "messages": info.state.messages,
                                                 "first_seq": info.state.firstSeq, "last_seq": lastSeq, "writer": journal.writerID,
                                                 "snapshot_covers": replay.snapshotCovers, "from_snapshot": replay.fromSnapshot,
                                                 "events": replay.events, "applied_while_standing_by": warm,
                                                 "read_at_takeover": tail.messagesRead - warm])
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

    /// How many sequences `state` spans, first through last (0 for an empty stream).
    static func span(_ state: StreamState) -> UInt64 {
        let first = max(state.firstSeq, 1)
        return state.lastSeq >= first ? state.lastSeq - first + 1 : 0
    }

    /// Why a stream whose state is `state` will not be read, or nil: it spans more than `max_read` sequences (a
    /// stream that never compacted, or an answer on `$JS.API` that is not the server's).
    static func unreadableSpan(_ state: StreamState, _ settings: JetStreamJournalSettings) -> String? {
        let n = span(state)
        guard n > settings.maxReadSequences else { return nil }
        return "it spans \(n) sequences (first_seq \(state.firstSeq), last_seq \(state.lastSeq), messages \(state.messages)); "
            + "recovery reads at most \(settings.maxReadSequences) (raise it with jetstream://\(settings.stream)?max_read=N if the stream really holds that many)"
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
}
