#if canImport(Glibc)
import Glibc
#endif
import FoundationEssentials
import HiveLog
import HiveSystem
import JetStream

/// Which honeycombd is active among those sharing a `--journal jetstream://STREAM`: key `leader` in the KV bucket
/// `<STREAM>_lease`, holding `{holder, heartbeat_ms}`.
///
/// - Acquire: compare-and-set create (revision 0), or, when the holder stopped renewing, compare-and-set on the
///   stale revision. A standby calls a revision stale when it has not changed for `lease` seconds of the standby's
///   own monotonic clock since it first saw it (clocks across machines are never compared). The bucket has no
///   `max_age`: a key aged out by the server during a quorum outage would make the holder's next renewal fail
///   and throw away the records it still has queued for the stream.
/// - Renew: every `heartbeat`, compare-and-set on the revision this holder wrote last. A renewal refused because the
///   revision moved means another took the lease: step down. A renewal without an answer is retried (see
///   `keepRenewing`); writes are fenced by the journal's takeover marker, not by clocks.
/// - `lease` is 2 heartbeats: one lost renewal is tolerated, and a standby serves within 3 heartbeats of the active
///   one's death (the lapse, its poll every heartbeat/4, and the replay).
final class LeaderLease: @unchecked Sendable {
    struct Value: Codable {
        var holder: String
        var heartbeatMs: Int
        /// The holder named in `bytes` (a value anyone who may publish on the bucket can write), whole: compared with
        /// this process's own name; nil when it is not a lease value.
        static func holder(in bytes: [UInt8]) -> String? {
            (try? JSONDecoder().decode(Value.self, from: Data(bytes)))?.holder
        }
        /// A holder as a log line shows it: at most 128 bytes (the value is anyone's to write).
        static func logged(_ holder: String) -> String {
            String(decoding: holder.utf8.prefix(128), as: UTF8.self)
        }
        enum CodingKeys: String, CodingKey {
            case holder
            case heartbeatMs = "heartbeat_ms"
        }
    }

    static let key = "leader"
    static func bucket(for stream: String) -> String { stream + "_lease" }

    let js: JetStreamAPI
    let bucket: String
    let holder: String
    let heartbeat: Double
    var lease: Double { heartbeat * 2 }
    private let log = Log("lease")
    // The renewal task's only (set once by `acquire` before it starts; `release` reads `revision` after stopping it).
    private var revision: UInt64 = 0
    private var renewedAt = ContinuousClock.now
    private let released = PosixLock()
    private var isReleased = false

    /// The bucket's replicas: the journal stream's, so that the lease survives what the journal survives.
    let replicas: Int

    private init(js: JetStreamAPI, bucket: String, replicas: Int, holder: String, heartbeat: Double) {
        self.replicas = replicas
        self.js = js
        self.bucket = bucket
        self.holder = holder
        self.heartbeat = heartbeat
    }

    /// Waits until this process holds the lease (a standby meanwhile: it logs `standby` once per holder seen).
    /// The journal's stream names the bucket; the lease's own requests time out within half a heartbeat.
    static func acquire(_ base: JetStreamAPI, stream: String, replicas: Int, holder: String, heartbeat: Double) async -> LeaderLease {
        var js = base
        js.timeout = max(0.05, heartbeat / 2)
        let lease = LeaderLease(js: js, bucket: bucket(for: stream), replicas: replicas, holder: holder, heartbeat: heartbeat)
        await lease.ensureBucket()
        await lease.waitForLease()
        return lease
    }

    private var value: [UInt8] {
        let v = Value(holder: holder, heartbeatMs: Int(heartbeat * 1000))
        return (try? JSONEncoder().encode(v)).map { Array($0) } ?? Array(holder.utf8)
    }

    private func pause(_ seconds: Double) async {
        try? await Task.sleep(for: .milliseconds(Int64(max(seconds, 0.01) * 1000)))  // the lease's poll/renew period, not a synchronization
    }

    private func ensureBucket() async {
        var warned = false
        while true {
            do throws(JetStreamError) {
                if try await js.streamInfo(JetStreamAPI.keyValueStream(bucket)) != nil { return }
                _ = try await js.createKeyValueBucket(bucket, replicas: replicas)
                log.info("bucket_created", ["bucket": bucket, "replicas": replicas])
                return
            } catch {
                if error.errCode == JetStreamErrorCode.streamNameInUse { return }  // another honeycombd made it first
                if !warned { log.warn("bucket_unavailable", ["bucket": bucket, "reason": error.description, "effect": "retrying"]) }
                warned = true
                await pause(heartbeat)
            }
        }
    }

    /// Polls every quarter heartbeat until the lease is this holder's (the standby's tail runs beside it, in a task of
    /// its own: a backlog applied here would delay noticing the lapse).
    private func waitForLease() async {
        var seen: (revision: UInt64, since: ContinuousClock.Instant)?
        var announced: String?
        while true {
            let sent = ContinuousClock.now
            do throws(JetStreamError) {
                let entry = try await js.keyValue(bucket, Self.key)
                if let e = entry, Self.holder(of: e) == holder {
                    // This process's own compare-and-set, stored though its answer did not come in time.
                    revision = e.revision
                    renewedAt = sent
                    log.info("lease_acquired", ["holder": holder, "revision": e.revision, "previous": "-", "answer": "late",
                                                "lease_ms": Int(lease * 1000), "heartbeat_ms": Int(heartbeat * 1000)])
                    return
                }
                let stale = entry.map { e in seen?.revision == e.revision && ContinuousClock.now - seen!.since >= .milliseconds(Int64(lease * 1000)) } ?? true
                if stale {
                    let rev = try await js.updateKeyValue(bucket, Self.key, value, revision: entry?.revision ?? 0)
                    revision = rev
                    renewedAt = sent
                    let previous = entry.flatMap { Value.holder(in: $0.value) }.map(Value.logged)
                    log.info("lease_acquired", ["holder": holder, "revision": rev, "previous": previous ?? "-",
                                                "lease_ms": Int(lease * 1000), "heartbeat_ms": Int(heartbeat * 1000)])
                    return
                }
                if let e = entry, seen?.revision != e.revision {
                    seen = (e.revision, ContinuousClock.now)
                    let other = Value.holder(in: e.value).map(Value.logged) ?? "?"
                    if announced != other {
                        log.info("standby", ["holder": other, "bucket": bucket, "effect": "not serving; taking over when the lease lapses"])
                        announced = other
                    }
                }
            } catch {
                // A lost compare-and-set: another standby took it first; anything else is the bus or the bucket away,
                // and then the holder may be unable to renew too: its lease is counted afresh once the bucket answers.
                if error.errCode != JetStreamErrorCode.wrongLastSequence {
                    log.warn("lease_unavailable", ["bucket": bucket, "reason": error.description])
                    seen = nil
                }
            }
            await pause(heartbeat / 4)
        }
    }

    /// Renews every heartbeat until a renewal is refused (another holder moved the revision); then calls `lost`
    /// once with why, and stops. A renewal that gets no answer (the bucket without quorum, the bus away) is retried:
    /// nobody can take the lease without the bucket either, and if somebody did (this process alone was cut off, or
    /// stopped), the stream refuses this one's next write (the takeover marker) and its next renewal.
    func keepRenewing(_ lost: @escaping @Sendable (String) -> Void) {
        Task.detached { [self] in
            let lapse = Duration.milliseconds(Int64(lease * 1000))
            var warned = false
            while true {
                if released.withLock({ isReleased }) { return }
                let sent = ContinuousClock.now
                do throws(JetStreamError) {
                    revision = try await js.updateKeyValue(bucket, Self.key, value, revision: revision)
                    if warned { log.info("lease_renewed", ["bucket": bucket, "revision": revision]) }
                    renewedAt = sent
                    warned = false
                } catch {
                    if released.withLock({ isReleased }) { return }
                    if error.errCode == JetStreamErrorCode.wrongLastSequence {
                        switch await keyHolder() {
                        case .this(let mine):
                            // A renewal whose answer did not come in time (a loaded node, a bucket electing its
                            // leader) was stored all the same: the revision moved, but to this holder's own value.
                            log.info("lease_renewed", ["bucket": bucket, "revision": mine, "answer": "late"])
                            revision = mine
                            renewedAt = sent
                            warned = false
                            await pause(heartbeat)
                            continue
                        case .unknown:
                            // Cannot tell: retried like an unanswered renewal (the stream fences writes meanwhile).
                            await pause(heartbeat / 4)
                            continue
                        case .another:
                            break
                        }
                        return lost("another honeycombd holds the leader lease now (key \(Self.key) in bucket \(bucket) moved past revision \(revision), "
                                    + "renewed last \(Self.millis(ContinuousClock.now - renewedAt)) ms ago)")
                    }
                    if !warned {
                        log.warn("lease_renew_failed", ["bucket": bucket, "reason": error.description,
                                                        "lapsed": ContinuousClock.now - renewedAt >= lapse,
                                                        "effect": "retrying; serving on (a standby cannot take the lease without the bucket either, and the stream fences writes)"])
                    }
                    warned = true
                    await pause(heartbeat / 4)
                    continue
                }
                await pause(heartbeat)
            }
        }
    }

    /// Who the key names after a refused renewal.
    private enum KeyHolder {
        /// This holder, at this revision.
        case this(UInt64)
        /// Another holder, or nobody (purged).
        case another
        /// The bucket did not answer.
        case unknown
    }

    private func keyHolder() async -> KeyHolder {
        do throws(JetStreamError) {
            guard let e = try await js.keyValue(bucket, Self.key), Self.holder(of: e) == holder else { return .another }
            return .this(e.revision)
        } catch {
            return .unknown
        }
    }

    static func holder(of entry: KeyValueEntry) -> String? { Value.holder(in: entry.value) }

    static func millis(_ d: Duration) -> Int64 {
        d.components.seconds &* 1000 &+ d.components.attoseconds / 1_000_000_000_000_000
    }

    /// Gives the lease up on a clean shutdown, so a standby takes over at once instead of after the lapse: stops
    /// renewing and removes this holder's value (a purge below the next revision leaves a newer holder's alone).
    func release() async {
        released.withLock { isReleased = true }
        do throws(JetStreamError) {
            try await js.purge(JetStreamAPI.keyValueStream(bucket), subject: JetStreamAPI.keyValueSubject(bucket, Self.key), below: revision &+ 1)
            log.info("lease_released", ["holder": holder, "revision": revision])
        } catch {
            log.warn("lease_release_failed", ["reason": error.description, "effect": "a standby takes over when the lease lapses"])
        }
    }

    /// A name for this process in the lease: host, pid and a random tag (a restarted process is a new holder).
    static func holderName() -> String {
        "\(HostName.current):\(getpid()):\(String(UInt32.random(in: 0...UInt32.max), radix: 36))"
    }
}
