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

    public var description: String {
        switch self {
        case .cannotCreate(let p, let r): return "cannot create data directory \(p): \(r)"
        case .cannotOpen(let p, let r): return "cannot open journal \(p): \(r)"
        case .unreadableSnapshot(let p, let r): return "snapshot \(p) is unreadable: \(r); move it away to start from the journal alone"
        case .writeFailed(let r): return "journal write failed: \(r)"
        }
    }
}

/// What opening the journal found.
public struct JournalRecovery: Sendable {
    public var snapshot: ControlState.Snapshot?
    public var events: [JournalEvent]
    /// Bytes cut from a corrupt or torn tail (0 when clean), and why.
    public var truncatedBytes: Int
    public var truncationReason: String?
}

/// The durable log of control-plane events, under `--data DIR`:
///
/// - `journal.log`: records `[u32 length][u32 crc32][JSON event]`, little-endian, append-only.
/// - `snapshot.json`: the state as of the last compaction (written to a temp file, fsynced, renamed).
///
/// Appends are group-committed: a writer thread takes everything appended so far, writes it in one call and
/// `fdatasync`s once, then releases everyone waiting for those records (`waitDurable`). Compaction requests go
/// through the same queue, so a snapshot always covers exactly the records written before it.
public final class Journal: @unchecked Sendable {
    enum Item {
        case records([JournalEvent])
        case snapshot(ControlState.Snapshot)
    }

    public let directory: String
    private var fd: Int32
    private let lock = PosixLock()
    private let wake: PosixCondition
    private let log = Log("journal")
    // Guarded by `lock`.
    private var queue: [Item] = []
    private var appendedSeq: UInt64 = 0
    private var durableSeq: UInt64 = 0
    private var waiters: [(UInt64, CheckedContinuation<Void, Never>)] = []
    private var closed = false
    private var failure: String?
    /// Bytes in journal.log (for the compaction trigger); writer thread only, read under lock.
    private var journalBytes = 0
    private let encoder: JSONEncoder

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
        var recovery = JournalRecovery(snapshot: nil, events: [], truncatedBytes: 0)
        let snapPath = directory + "/snapshot.json"
        if let data = FileManager.default.contents(atPath: snapPath) {
            do { recovery.snapshot = try JSONDecoder().decode(ControlState.Snapshot.self, from: data) } catch {
                throw .unreadableSnapshot(snapPath, "\(error)")
            }
        }
        let path = directory + "/journal.log"
        let fd = Glibc.open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o640)
        guard fd >= 0 else { throw .cannotOpen(path, String(cString: strerror(errno))) }
        let bytes = readAll(fd)
        let decoder = JSONDecoder()
        var offset = 0
        bytes.withUnsafeBytes { buf in
            while offset < buf.count {
                guard buf.count - offset >= 8 else {
                    recovery.truncationReason = "torn record header at byte \(offset)"
                    return
                }
                let length = Int(buf.loadUnaligned(fromByteOffset: offset, as: UInt32.self).littleEndian)
                let crc = buf.loadUnaligned(fromByteOffset: offset + 4, as: UInt32.self).littleEndian
                guard length <= buf.count - offset - 8 else {
                    recovery.truncationReason = "torn record at byte \(offset) (\(length) bytes announced, \(buf.count - offset - 8) present)"
                    return
                }
                let payload = UnsafeRawBufferPointer(rebasing: buf[(offset + 8)..<(offset + 8 + length)])
                guard CRC32.checksum(payload) == crc else {
                    recovery.truncationReason = "checksum mismatch at byte \(offset)"
                    return
                }
                guard let event = try? decoder.decode(JournalEvent.self, from: Data(payload)) else {
                    recovery.truncationReason = "undecodable record at byte \(offset)"
                    return
                }
                recovery.events.append(event)
                offset += 8 + length
            }
        }
        if offset < bytes.count {
            recovery.truncatedBytes = bytes.count - offset
            _ = ftruncate(fd, off_t(offset))
            _ = fsync(fd)
        }
        _ = lseek(fd, 0, SEEK_END)
        let journal = Journal(directory: directory, fd: fd, bytes: offset)
        OSThread(name: "journal") { journal.runWriter() }.detach()
        return (journal, recovery)
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
            guard !events.isEmpty else { return appendedSeq }
            appendedSeq += 1
            if case .records(var pending)? = queue.last {
                pending.append(contentsOf: events)
                queue[queue.count - 1] = .records(pending)
            } else {
                queue.append(.records(events))
            }
            wake.signal()
            return appendedSeq
        }
    }

    /// Replaces the journal with `snapshot`, which must reflect every event appended so far.
    public func compact(_ snapshot: ControlState.Snapshot) {
        lock.withLock {
            appendedSeq += 1
            queue.append(.snapshot(snapshot))
            wake.signal()
        }
    }

    /// The framed bytes of `events`.
    private func encode(_ events: [JournalEvent]) -> [UInt8] {
        var bytes: [UInt8] = []
        for e in events {
            guard let json = e.fastJSON ?? (try? encoder.encode(e)).map({ Array($0) }) else { continue }
            let crc = json.withUnsafeBytes { CRC32.checksum($0) }
            withUnsafeBytes(of: UInt32(json.count).littleEndian) { bytes.append(contentsOf: $0) }
            withUnsafeBytes(of: crc.littleEndian) { bytes.append(contentsOf: $0) }
            bytes.append(contentsOf: json)
        }
        return bytes
    }

    /// Returns once everything appended up to `seq` is on disk.
    public func waitDurable(_ seq: UInt64) async {
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            let ready: Bool = lock.withLock {
                if durableSeq >= seq || closed { return true }
                waiters.append((seq, c))
                return false
            }
            if ready { c.resume() }
        }
    }

    /// Bytes in journal.log now (the compaction trigger).
    public var size: Int { lock.withLock { journalBytes } }
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
            let (items, seq, stop): ([Item], UInt64, Bool) = lock.withLock {
                while queue.isEmpty && !closed { wake.wait(timeoutNanos: 1_000_000_000) }
                let items = queue
                queue = []
                return (items, appendedSeq, closed && items.isEmpty)
            }
            if stop { break }
            var error: String?
            for item in items {
                switch item {
                case .records(let events):
                    let bytes = encode(events)
                    if !writeAll(fd, bytes) { error = "journal.log: \(String(cString: strerror(errno)))" }
                    else { lock.withLock { journalBytes += bytes.count } }
                case .snapshot(let snapshot):
                    guard let bytes = try? encoder.encode(snapshot) else { error = "snapshot: cannot encode"; continue }
                    if let e = writeSnapshot(Array(bytes)) { error = e }
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
        let tmp = snapshotPath + ".tmp"
        let sfd = Glibc.open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o640)
        guard sfd >= 0 else { return "snapshot: \(String(cString: strerror(errno)))" }
        let ok = writeAll(sfd, bytes) && fsync(sfd) == 0
        Glibc.close(sfd)
        guard ok, rename(tmp, snapshotPath) == 0 else { return "snapshot: \(String(cString: strerror(errno)))" }
        let dfd = Glibc.open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if dfd >= 0 {
            _ = fsync(dfd)
            Glibc.close(dfd)
        }
        _ = ftruncate(fd, 0)
        _ = lseek(fd, 0, SEEK_SET)
        lock.withLock { journalBytes = 0 }
        log.info("compacted", ["snapshot_bytes": bytes.count])
        return nil
    }

    private func writeAll(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBytes { b in
            var off = 0
            while off < b.count {
                let n = write(fd, b.baseAddress! + off, b.count - off)
                if n < 0 {
                    if errno == EINTR { continue }
                    return false
                }
                off += n
            }
            return true
        }
    }
}
