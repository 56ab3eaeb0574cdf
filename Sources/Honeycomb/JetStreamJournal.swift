import FoundationEssentials
import HiveCore
import HiveLog
import HiveSystem
import JetStream
import NATSClient
import NATSWire

/// The journal kept in a JetStream stream (`--journal jetstream://STREAM`), for a control plane whose state must
/// outlive its machine: the stream is replicated by the NATS cluster (replicas 3 on three nodes).
///
/// - Records: the file journal's `[u32 length][u32 crc32][JSON event]` frames, one group commit per message on
///   `STREAM.records` (split at record boundaries where a commit is over the message limit), published and
///   acknowledged with the stream sequence before `waitDurable` returns true.
/// - Fencing: every publish carries `Nats-Expected-Last-Sequence` (the stream's end as this writer knows it), so a
///   second writer on the stream fails instead of interleaving; a retried publish carries the same `Nats-Msg-Id`,
///   so a publish whose ack was lost is stored once.
/// - Snapshots: `compact` publishes the snapshot on `STREAM.snapshot` in chunks under the message limit, headed with
///   the record sequence it covers (`Hive-Snapshot-Covers`), then purges the records up to it, older snapshots and
///   older takeover markers. Recovery (`StreamReplay`) is the newest snapshot it needs plus every record after the
///   sequence it covers; a standby runs the same replay as it tails the stream, so its state is warm.
/// - No quorum: publishes are retried (backoff to 1 s) until the stream takes them; meanwhile `waitDurable` gives
///   up after `ackTimeout` and the caller answers "unavailable". Nothing acknowledged is lost and nothing queued is
///   dropped. A refusal that will not pass (fenced out, a record over the limit) stops the writer for good.
final class JetStreamJournal: JournalStore, @unchecked Sendable {
    /// Headers on snapshot chunks.
    enum SnapshotHeader {
        static let id = "Hive-Snapshot"
        static let chunk = "Hive-Snapshot-Chunk"
        static let chunks = "Hive-Snapshot-Chunks"
        static let covers = "Hive-Snapshot-Covers"
    }

    let settings: JetStreamJournalSettings
    let js: JetStreamAPI
    /// Largest message payload written (the bus's max_payload or the stream's max_msg_size, less room for headers).
    let maxMessageBytes: Int
    private let log = Log("journal")
    private let lock = PosixLock()
    private let encoder: JSONEncoder
    /// Names this writer's `Nats-Msg-Id`s (unique per process start; logged at `jetstream_opened`).
    let writerID: String
    private let wake: AsyncStream<Void>.Continuation
    // Guarded by `lock`.
    private var queue = JournalQueue()
    private var durableSeq: UInt64 = 0
    private var waiters: [(seq: UInt64, deadline: ContinuousClock.Instant, c: CheckedContinuation<Bool, Never>)] = []
    private var closed = false
    private var failure: String?
    private var unavailableSince: ContinuousClock.Instant?
    private var recordBytes = 0
    private var snapshotBytes = 0
    // The writer task's only.
    private var lastStreamSeq: UInt64
    private var published: UInt64 = 0

    let syncLatency = Histogram()
    /// Called once when another writer fenced this one out (an active/standby takeover): the caller steps down.
    private let onFenced: @Sendable (String) -> Void

    init(settings: JetStreamJournalSettings, js: JetStreamAPI, lastStreamSeq: UInt64, recordBytes: Int, maxMessageBytes: Int,
         onFenced: @escaping @Sendable (String) -> Void = { _ in }) {
        self.onFenced = onFenced
        self.settings = settings
        self.js = js
        self.lastStreamSeq = lastStreamSeq
        self.recordBytes = recordBytes
        self.maxMessageBytes = maxMessageBytes
        encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        writerID = String(UInt64.random(in: 0...UInt64.max), radix: 36)
        let (stream, continuation) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
        wake = continuation
        Task.detached { [self] in await runWriter(stream) }
        Task.detached { [self] in await expireWaiters() }
    }

    // MARK: JournalStore

    @discardableResult
    func append(_ events: [JournalEvent]) -> UInt64 {
        let seq = lock.withLock { queue.append(events) }
        wake.yield()
        return seq
    }

    func compact(_ snapshot: ControlState.Snapshot) {
        lock.withLock { queue.compact(snapshot) }
        wake.yield()
    }

    var compactionQueued: Bool { lock.withLock { queue.compacting } }
    var size: Int { lock.withLock { recordBytes } }
    var lastSnapshotBytes: Int { lock.withLock { snapshotBytes } }
    var writeFailure: String? { lock.withLock { failure } }

    /// True once the stream acknowledged everything up to `seq`; false after `ackTimeout` without it (or once the
    /// writer stopped for good).
    @discardableResult
    func waitDurable(_ seq: UInt64) async -> Bool {
        let deadline = ContinuousClock.now + .milliseconds(Int64(settings.ackTimeout * 1000))
        return await withCheckedContinuation { (c: CheckedContinuation<Bool, Never>) in
            let ready: Bool? = lock.withLock {
                if durableSeq >= seq { return true }
                if closed || failure != nil { return false }
                waiters.append((seq, deadline, c))
                return nil
            }
            if let ready { c.resume(returning: ready) }
        }
    }

    /// The stream is the one store, and it does not lose acknowledged records: a state replayed from it reaches
    /// every goal number ever acknowledged, so no reservation is written ahead.
    func reserveGoalNumber(_ number: Int64, block: Int64) -> String? { nil }
    func markGoalNumbersIssued(below number: Int64) -> String? { nil }

    func close() {
        let rest: [CheckedContinuation<Bool, Never>] = lock.withLock {
            closed = true
            let r = waiters.map(\.c)
            waiters = []
            return r
        }
        wake.finish()
        for c in rest { c.resume(returning: false) }
    }

    // MARK: Writer

    private func runWriter(_ signals: AsyncStream<Void>) async {
        for await _ in signals {
            while true {
                let (items, seq) = lock.withLock { queue.takeAll() }
                if items.isEmpty { break }
                let start = ContinuousClock.now
                for item in items {
                    let stop: WriteStop?
                    switch item {
                    case .records(let events): stop = await writeRecords(events)
                    case .snapshot(let snapshot): stop = await writeSnapshot(snapshot)
                    }
                    if let stop {
                        // Fenced: the caller steps down before any waiter hears of it.
                        if stop.fenced { onFenced(stop.reason) }
                        stopForGood(stop.reason)
                        return
                    }
                }
                let took = ContinuousClock.now - start
                syncLatency.observe(Double(took.components.seconds) + Double(took.components.attoseconds) / 1e18)
                let ready: [CheckedContinuation<Bool, Never>] = lock.withLock {
                    durableSeq = seq
                    let done = waiters.filter { $0.seq <= seq }.map(\.c)
                    waiters.removeAll { $0.seq <= seq }
                    return done
                }
                for c in ready { c.resume(returning: true) }
            }
        }
    }

    /// Fails every waiter (now and later) after a refusal that will not pass.
    private func stopForGood(_ reason: String) {
        log.error("write_failed", ["stream": settings.stream, "reason": reason, "effect": "journal writes stop; replies that need durability answer unavailable"])
        let rest: [CheckedContinuation<Bool, Never>] = lock.withLock {
            if failure == nil { failure = reason }
            let r = waiters.map(\.c)
            waiters = []
            return r
        }
        for c in rest { c.resume(returning: false) }
    }

    /// Answers waiters whose deadline passed with false (checked a few times a second).
    private func expireWaiters() async {
        while !(lock.withLock { closed }) {
            try? await Task.sleep(for: .milliseconds(100))  // a timer for deadlines, not a synchronization
            let now = ContinuousClock.now
            let late: [CheckedContinuation<Bool, Never>] = lock.withLock {
                let l = waiters.filter { $0.deadline <= now }.map(\.c)
                waiters.removeAll { $0.deadline <= now }
                return l
            }
            for c in late { c.resume(returning: false) }
        }
    }

    /// Publishes the events' frames in as few messages as the limit allows; nil, or why writing must stop.
    private func writeRecords(_ events: [JournalEvent]) async -> WriteStop? {
        var chunk: [UInt8] = []
        for e in events {
            var frame: [UInt8] = []
            Journal.frame(e, encoder: encoder, into: &frame)
            if frame.count > maxMessageBytes {
                return WriteStop("a journal record of \(frame.count) bytes is over the stream's message limit of \(maxMessageBytes) bytes "
                    + "(raise max_payload on the NATS servers, or the stream's max_msg_size)")
            }
            if chunk.count + frame.count > maxMessageBytes {
                if case .failure(let stop) = await publish(settings.recordsSubject, chunk) { return stop }
                chunk = []
            }
            chunk.append(contentsOf: frame)
        }
        if !chunk.isEmpty, case .failure(let stop) = await publish(settings.recordsSubject, chunk) { return stop }
        return nil
    }

    /// Publishes the snapshot in chunks, then purges what it replaces; nil, or why writing must stop.
    private func writeSnapshot(_ snapshot: ControlState.Snapshot) async -> WriteStop? {
        defer { lock.withLock { queue.compacting = false } }
        guard let bytes = try? encoder.encode(snapshot) else {
            log.error("snapshot_failed", ["reason": "cannot encode"])
            return nil
        }
        let covers = lastStreamSeq
        let id = "\(writerID)-\(published)"
        let size = max(1, maxMessageBytes)
        let count = max(1, (bytes.count + size - 1) / size)
        var first: UInt64?
        for i in 0..<count {
            let part = Array(bytes[(i * size)..<min(bytes.count, (i + 1) * size)])
            let headers = [(SnapshotHeader.id, id), (SnapshotHeader.chunk, String(i + 1)), (SnapshotHeader.chunks, String(count)),
                           (SnapshotHeader.covers, String(covers))]
            switch await publish(settings.snapshotSubject, part, headers: headers) {
            case .success(let seq): first = first ?? seq
            case .failure(let stop): return stop
            }
        }
        // The snapshot is whole in the stream: what it covers can go, takeover markers included. A failed purge costs
        // only space (the next compaction purges everything below its own snapshot). Fencing holds: a purge below
        // the snapshot never moves the stream's last sequence, which is what `Nats-Expected-Last-Sequence` checks,
        // and every marker below `first` is one this writer saw (a later one would have refused the chunks).
        do {
            try await js.purge(settings.stream, subject: settings.recordsSubject, below: covers &+ 1)
            if let first {
                try await js.purge(settings.stream, subject: settings.snapshotSubject, below: first)
                try await js.purge(settings.stream, subject: settings.leaderSubject, below: first)
            }
        } catch {
            log.warn("purge_failed", ["stream": settings.stream, "reason": error.description])
        }
        lock.withLock {
            recordBytes = 0
            snapshotBytes = bytes.count
        }
        log.info("compacted", ["stream": settings.stream, "snapshot_bytes": bytes.count, "chunks": count, "covers": covers])
        return nil
    }

    /// One message, published until the stream takes it: its sequence, or a reason to stop for good.
    private func publish(_ subject: String, _ payload: [UInt8], headers extra: [(String, String)] = []) async -> Result<UInt64, WriteStop> {
        published += 1
        let msgID = "\(writerID)-\(published)"
        var backoff = 0.05
        var attempts = 0
        while true {
            attempts += 1
            var headers = NATSHeaders(pairs: extra)
            headers[JetStreamHeader.msgID] = msgID
            headers[JetStreamHeader.expectedLastSequence] = String(lastStreamSeq)
            do {
                let ack = try await js.publish(subject, payload, headers: headers)
                lastStreamSeq = ack.seq
                if subject == settings.recordsSubject { lock.withLock { recordBytes += payload.count } }
                available()
                return .success(ack.seq)
            } catch {
                if error.errCode == JetStreamErrorCode.wrongLastSequence {
                    // A retry of a publish that was stored but whose ack was lost finds its own message at the end.
                    if attempts > 1, let m = try? await js.message(settings.stream, seq: lastStreamSeq &+ 1),
                       m.headers[JetStreamHeader.msgID] == msgID {
                        lastStreamSeq &+= 1
                        available()
                        return .success(lastStreamSeq)
                    }
                    return .failure(WriteStop("another writer appended to stream \(settings.stream) (its end is no longer sequence \(lastStreamSeq)): "
                                    + "this honeycombd is fenced out", fenced: true))
                }
                if !error.isTransient { return .failure(WriteStop(error.description)) }
                if lock.withLock({ closed }) { return .failure(WriteStop("closed while the stream was unavailable: \(error.description)")) }
                unavailable(error.description)
                try? await Task.sleep(for: .milliseconds(Int64(backoff * 1000)))  // retry backoff while the stream is away
                backoff = min(backoff * 2, 1)
            }
        }
    }

    private func unavailable(_ reason: String) {
        let first: Bool = lock.withLock {
            guard unavailableSince == nil else { return false }
            unavailableSince = .now
            return true
        }
        if first { log.error("journal_unavailable", ["stream": settings.stream, "reason": reason, "effect": "writes are retried; submits answer unavailable"]) }
    }

    private func available() {
        let since: ContinuousClock.Instant? = lock.withLock {
            defer { unavailableSince = nil }
            return unavailableSince
        }
        if let since {
            let d = ContinuousClock.now - since
            log.info("journal_available", ["stream": settings.stream, "after_seconds": d.components.seconds])
        }
    }
}

/// A refusal that stops the JetStream journal's writer for good, and why.
struct WriteStop: Error {
    let reason: String
    /// Another writer appended (a standby took over): the process must step down, not just stop writing.
    let fenced: Bool
    init(_ reason: String, fenced: Bool = false) {
        self.reason = reason
        self.fenced = fenced
    }
}
