#if canImport(Glibc)
import Glibc
#endif
import FoundationEssentials
import HiveCore
import HiveLog
import HiveSystem
import NATSWire

/// Why the journal could not be opened or written.
public enum JournalError: Error, CustomStringConvertible {
    case cannotCreate(String, String)
    case cannotOpen(String, String)
    case unreadableSnapshot(String, String)
    case writeFailed(String)
    /// A JetStream journal's stream is missing, misconfigured or unreachable (`--journal jetstream://STREAM`).
    case streamUnusable(String, String)

    public var description: String {
        switch self {
        case .cannotCreate(let p, let r): return "cannot create data directory \(p): \(r)"
        case .cannotOpen(let p, let r): return "cannot open journal \(p): \(r)"
        case .unreadableSnapshot(let p, let r): return "snapshot \(p) is unreadable: \(r); move it away to start from the journal alone"
        case .writeFailed(let r): return "journal write failed: \(r)"
        case .streamUnusable(let s, let r): return "JetStream stream \(s) cannot hold the journal: \(r)"
        }
    }
}

/// What opening the journal found.
public struct JournalRecovery: Sendable {
    public var snapshot: ControlState.Snapshot?
    public var events: [JournalEvent]
    /// Bytes cut from a torn tail (an interrupted, never acknowledged append; 0 when clean), and why.
    public var truncatedBytes: Int
    public var truncationReason: String?
    /// Damaged stretches skipped in the middle of the journal (replay went on after each).
    public var damage: [JournalDamage] = []
    /// Where the journal as found was kept when it had damage (`journal.corrupt-<unix seconds>`).
    public var keptAside: String?
    /// The goal-number reservation on disk (`goal-ids`): no goal number below it was ever free to reuse.
    public var reservedGoalNumbers: Int64 = 0
    /// The first goal number of that reservation: a state that does not reach it has lost goals.
    public var reservationFloor: Int64 = 0

    /// Why `goal-ids` could not be read, when it was there.
    public var reservationProblem: String?
    /// Goal ids readable in a torn tail's bytes.
    public var tornTailGoals: [String] = []
    /// The state already rebuilt by the reader (a JetStream stream's replay): `snapshot` and `events` are empty then.
    public var replayed: ReplayedState?

    /// Records may have been lost: goal numbers must jump past the reservation. A torn tail counts too: a
    /// damaged length field on the last (acknowledged) record looks exactly like an interrupted append.
    public var lostRecords: Bool { !damage.isEmpty || truncatedBytes > 0 }

    /// The highest goal number readable in damaged or cut bytes (0 when none): numbering resumes past it even when
    /// `goal-ids` is gone.
    public var highestGoalNumberSeenInLoss: Int64 {
        (damage.flatMap(\.goals) + tornTailGoals).compactMap { $0.first == "g" ? Int64($0.dropFirst()) : nil }.max() ?? 0
    }
}

/// The durable log of control-plane events, under `--data DIR`:
///
/// - `journal.log`: records `[u32 length][u32 crc32][JSON event]`, little-endian, append-only.
/// - `snapshot.json`: the state as of the last compaction (written to a temp file, fsynced, renamed).
///
/// Appends are group-committed: a writer thread takes everything appended so far, writes it in one call and
/// `fdatasync`s once, then releases everyone waiting for those records (`waitDurable`). Compaction requests go
/// through the same queue, so a snapshot always covers exactly the records written before it.
public final class Journal: JournalStore, @unchecked Sendable {
    public let directory: String
    private var fd: Int32
    private let lock = PosixLock()
    private let wake: PosixCondition
    private let log = Log("journal")
    // Guarded by `lock`.
    private var queue = JournalQueue()
    private var durableSeq: UInt64 = 0
    private var waiters: [(UInt64, CheckedContinuation<Void, Never>)] = []
    private var closed = false
    private var failure: String?
    /// Bytes in journal.log (for the compaction trigger); writer thread only, read under lock.
    private var journalBytes = 0
    /// Bytes of the last snapshot written (or found at start); under lock.
    private var snapshotBytes = 0
    private let encoder: JSONEncoder
    /// Goal numbers below this are reserved on disk (`goal-ids`); the control loop's thread only.
    private var reservedGoalNumbers: Int64 = 0
    private var reservationFloor: Int64 = 0

    var journalPath: String { directory + "/journal.log" }
    var snapshotPath: String { directory + "/snapshot.json" }

    private init(directory: String, fd: Int32, bytes: Int) {
        self.directory = directory
        self.fd = fd
        journalBytes = bytes
        wake = PosixCondition(lock: lock)
        encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
    }

    /// Opens (creating) `directory`, reads the snapshot and every intact record, cuts a torn or corrupt tail,
    /// and starts the writer.
    public static func open(directory: String) throws(JournalError) -> (Journal, JournalRecovery) {
        if mkdir(directory, 0o750) != 0 && errno != EEXIST {
            throw .cannotCreate(directory, String(cString: strerror(errno)))
        }
        // Temps of durable writes a crash cut short (the old file they were to replace is intact).
        DurableTemp.removeStale(in: directory, of: ["snapshot.json", "journal.log", "goal-ids"])
        var recovery = JournalRecovery(snapshot: nil, events: [], truncatedBytes: 0)
        let snapPath = directory + "/snapshot.json"
        if let data = FileManager.default.contents(atPath: snapPath) {
            do { recovery.snapshot = try JSONDecoder().decode(ControlState.Snapshot.self, from: data) } catch {
                throw .unreadableSnapshot(snapPath, "\(error)")
            }
        }
        let path = directory + "/journal.log"
        var fd = Glibc.open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o640)
        guard fd >= 0 else { throw .cannotOpen(path, String(cString: strerror(errno))) }
        let bytes = readAll(fd)
        let scan = JournalScan(bytes)
        recovery.events = scan.events
        recovery.damage = scan.damage
        let (reservation, reservationProblem) = GoalNumberReservation.read(directory: directory)
        recovery.reservedGoalNumbers = reservation.through
        recovery.reservationFloor = reservation.floor
        recovery.reservationProblem = reservationProblem
        recovery.tornTailGoals = scan.tornTailGoals
        var size = scan.intact.last?.upperBound ?? 0
        if !scan.damage.isEmpty {
            // Keep the journal as found, then replace it with its intact records only, so the damage is reported
            // once and appends go on from a clean file.
            Glibc.close(fd)
            let aside = directory + "/journal.corrupt-\(time(nil))"
            guard rename(path, aside) == 0 else { throw .cannotOpen(path, "cannot keep the damaged journal aside: \(String(cString: strerror(errno)))") }
            recovery.keptAside = aside
            var clean: [UInt8] = []
            for r in scan.intact { clean.append(contentsOf: bytes[r]) }
            if let e = writeFileDurably(path, clean, directory: directory) { throw .cannotOpen(path, e) }
            fd = Glibc.open(path, O_RDWR | O_CLOEXEC, 0o640)
            guard fd >= 0 else { throw .cannotOpen(path, String(cString: strerror(errno))) }
            size = clean.count
        } else if let torn = scan.tornTailAt {
            recovery.truncatedBytes = bytes.count - torn
            recovery.truncationReason = "torn record at byte \(torn) (an append interrupted by a crash)"
            _ = ftruncate(fd, off_t(torn))
            _ = fsync(fd)
            size = torn
        }
        _ = lseek(fd, 0, SEEK_END)
        let journal = Journal(directory: directory, fd: fd, bytes: size)
        var st = stat()
        if stat(journal.snapshotPath, &st) == 0 { journal.snapshotBytes = Int(st.st_size) }
        journal.reservedGoalNumbers = reservation.through
        journal.reservationFloor = reservation.floor
        OSThread(name: "journal") { journal.runWriter() }.detach()
        return (journal, recovery)
    }

    /// Goal numbers reserved per durable write of `goal-ids`.
    public static let goalNumberBlock: Int64 = 1_024

    /// The goal numbers handed out may reach `number`: make sure the on-disk reservation covers it, reserving
    /// `block` more at a time (one small durable write per block, not per goal). Call before journaling the goal.
    public func reserveGoalNumber(_ number: Int64, block: Int64 = Journal.goalNumberBlock) -> String? {
        guard number >= reservedGoalNumbers else { return nil }
        let through = number &+ block
        if let e = GoalNumberReservation(floor: number, through: through).write(directory: directory) { return e }
        reservedGoalNumbers = through
        reservationFloor = number
        return nil
    }

    /// Goals below `number` exist (called as a snapshot is taken): a state that later comes up without reaching
    /// it — the snapshot moved away — has lost goals, and numbering resumes past the reservation.
    public func markGoalNumbersIssued(below number: Int64) -> String? {
        guard number > reservationFloor else { return nil }
        let through = max(reservedGoalNumbers, number)
        if let e = GoalNumberReservation(floor: number, through: through).write(directory: directory) { return e }
        reservedGoalNumbers = through
        reservationFloor = number
        return nil
    }

    private static func readAll(_ fd: Int32) -> [UInt8] {
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n <= 0 { break }
            out.append(contentsOf: chunk[0..<n])
        }
        return out
    }

    /// Queues events; returns the sequence number to wait on for their durability. Encoding happens on the
    /// writer thread, off the caller's (the control loop's) path.
    @discardableResult
    public func append(_ events: [JournalEvent]) -> UInt64 {
        lock.withLock {
            let seq = queue.append(events)
            wake.signal()
            return seq
        }
    }

    /// Replaces the journal with `snapshot`, which must reflect every event appended so far.
    public func compact(_ snapshot: ControlState.Snapshot) {
        lock.withLock {
            queue.compact(snapshot)
            wake.signal()
        }
    }

    /// A compaction is queued or being written (the journal's size drops only once it is done: asking again
    /// meanwhile would write the same snapshot over and over).
    public var compactionQueued: Bool { lock.withLock { queue.compacting } }

    /// The framed bytes of `events`.
    private func encode(_ events: [JournalEvent]) -> [UInt8] {
        var bytes: [UInt8] = []
        for e in events { Self.frame(e, encoder: encoder, into: &bytes) }
        return bytes
    }

    /// Appends one record, `[u32 length][u32 crc32][JSON event]`, to `bytes` (the file journal's and the JetStream
    /// journal's record format: `JournalScan` reads both).
    static func frame(_ e: JournalEvent, encoder: JSONEncoder, into bytes: inout [UInt8]) {
        guard let json = e.fastJSON ?? (try? encoder.encode(e)).map({ Array($0) }) else { return }
        let crc = json.withUnsafeBytes { CRC32.checksum($0) }
        withUnsafeBytes(of: UInt32(json.count).littleEndian) { bytes.append(contentsOf: $0) }
        withUnsafeBytes(of: crc.littleEndian) { bytes.append(contentsOf: $0) }
        bytes.append(contentsOf: json)
    }

    /// Returns once everything appended up to `seq` is on disk (true; false only when the journal was closed first).
    /// A write error does not make it false: it is logged and reported by `writeFailure`, as it always was.
    @discardableResult
    public func waitDurable(_ seq: UInt64) async -> Bool {
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            let ready: Bool = lock.withLock {
                if durableSeq >= seq || closed { return true }
                waiters.append((seq, c))
                return false
            }
            if ready { c.resume() }
        }
        return lock.withLock { durableSeq >= seq }
    }

    /// Bytes in journal.log now (the compaction trigger).
    public var size: Int { lock.withLock { journalBytes } }

    /// Bytes of the last snapshot written, or found at start.
    public var lastSnapshotBytes: Int { lock.withLock { snapshotBytes } }
    /// How long each group commit's `fdatasync` took (for `/metrics`).
    let syncLatency = Histogram()

    /// The first write error, if any (the daemon stops accepting work).
    public var writeFailure: String? { lock.withLock { failure } }

    /// Flushes what is queued and stops the writer.
    public func close() {
        lock.withLock {
            closed = true
            wake.broadcast()
        }
    }

    private func runWriter() {
        while true {
            let (items, seq, stop): ([JournalQueue.Item], UInt64, Bool) = lock.withLock {
                while queue.items.isEmpty && !closed { wake.wait(timeoutNanos: 1_000_000_000) }
                let (items, seq) = queue.takeAll()
                return (items, seq, closed && items.isEmpty)
            }
            if stop { break }
            var error: String?
            for item in items {
                switch item {
                case .records(let events):
                    let bytes = encode(events)
                    do {
                        try Syscall.writeAll(fd, bytes, with: .write)
                        lock.withLock { journalBytes += bytes.count }
                    } catch let failure {
                        error = "journal.log: \(failure.reason)"
                    }
                case .snapshot(let snapshot):
                    let written = (try? encoder.encode(snapshot)).map { writeSnapshot(Array($0)) } ?? "snapshot: cannot encode"
                    if let e = written {
                        error = e
                        lock.withLock { queue.compacting = false }  // the next tick may try again
                    }
                }
            }
            let syncStart = ContinuousClock.now
            if fdatasync(fd) != 0 { error = error ?? "fdatasync: \(String(cString: strerror(errno)))" }
            let took = ContinuousClock.now - syncStart
            syncLatency.observe(Double(took.components.seconds) + Double(took.components.attoseconds) / 1e18)
            let ready: [CheckedContinuation<Void, Never>] = lock.withLock {
                if let error, failure == nil { failure = error }
                durableSeq = seq
                let done = waiters.filter { $0.0 <= seq }.map(\.1)
                waiters.removeAll { $0.0 <= seq }
                return done
            }
            if let error { log.error("write_failed", ["reason": error]) }
            for c in ready { c.resume() }
        }
        let rest: [CheckedContinuation<Void, Never>] = lock.withLock {
            let r = waiters.map(\.1)
            waiters = []
            return r
        }
        for c in rest { c.resume() }
        Glibc.close(fd)
    }

    /// Writes the snapshot durably (temp file, fsync, rename, fsync directory), then empties the journal.
    private func writeSnapshot(_ bytes: [UInt8]) -> String? {
        if let e = writeFileDurably(snapshotPath, bytes, directory: directory) { return "snapshot: \(e)" }
        _ = ftruncate(fd, 0)
        _ = lseek(fd, 0, SEEK_SET)
        lock.withLock {
            journalBytes = 0
            snapshotBytes = bytes.count
            queue.compacting = false
        }
        log.info("compacted", ["snapshot_bytes": bytes.count])
        return nil
    }
}

/// `DATA/goal-ids`: goal numbers reserved ahead of use, so that no id is ever handed out twice — even when
/// journal records or the snapshot are lost, the next goal is numbered past everything that may have existed.
struct GoalNumberReservation: Codable {
    /// The next goal number when this block was reserved.
    var floor: Int64
    /// Numbers below this may have been handed out.
    var through: Int64

    /// The reservation on disk, and what was wrong with the file if it was there but unreadable.
    static func read(directory: String) -> (GoalNumberReservation, problem: String?) {
        let path = directory + "/goal-ids"
        guard let data = FileManager.default.contents(atPath: path) else { return (GoalNumberReservation(floor: 0, through: 0), nil) }
        guard let r = try? JSONDecoder().decode(GoalNumberReservation.self, from: data), r.floor >= 0, r.through >= r.floor else {
            return (GoalNumberReservation(floor: 0, through: 0), "\(path) is unreadable")
        }
        return (r, nil)
    }

    func write(directory: String) -> String? {
        guard let data = try? JSONEncoder().encode(self) else { return "goal-ids: cannot encode" }
        return writeFileDurably(directory + "/goal-ids", Array(data), directory: directory)
    }
}
