#if canImport(Glibc)
import Glibc
#endif
import FoundationEssentials
import HiveCore
import HiveLog
import HiveSystem

/// How much a content store holds at most: total bytes and item count, plus the largest single item.
public struct ContentQuota: Sendable, Equatable {
    public var maxBytes: Int
    public var maxCount: Int
    public var maxItemBytes: Int
    public init(maxBytes: Int, maxCount: Int, maxItemBytes: Int) {
        self.maxBytes = maxBytes
        self.maxCount = maxCount
        self.maxItemBytes = maxItemBytes
    }
}

/// What a content store is called in its refusals and on disk: `module`s under `modules/HASH.wasm`, `blob`s under
/// `blobs/HASH`, and the settings (with their flags) that bound each.
struct ContentWords: Sendable, Equatable {
    var noun: String
    var directory: String
    var suffix: String
    /// The per-item limit's flag, or "" when it has none.
    var itemFlag: String
    var bytesKey: String
    var bytesFlag: String
    var countKey: String
    var countFlag: String
    /// What the user can do when the store is full.
    var fullHint: String
    /// Where the stored items are listed.
    var listHint: String
}

/// One home for content-addressed bytes that arrive over the bus (WebAssembly modules, task inputs and outputs):
/// named by SHA-256, kept on disk under the data directory (written durably: temp file, fsync, rename, fsync of the
/// directory) and indexed at start-up, bounded by a `ContentQuota`, uploaded whole or in parts.
///
/// Items larger than one bus message arrive in parts (`addPart`), in order; a partial upload is held in memory
/// until its last part, then hashed and stored like a whole one. Partial uploads are bounded (four items' worth of
/// bytes, `uploadsInFlight` of them) and dropped after `uploadIdle`, so an abandoned upload costs nothing for long;
/// one that would not fit the quota is refused at its first part. `validate` refuses bytes that are no valid item.
/// With `keepInMemory` false (blobs) stored bytes are read back from disk a part at a time.
/// Owned by the `ControlService` actor, which serializes every use.
final class ContentStore {
    let words: ContentWords
    let quota: ContentQuota
    private let directory: String?
    private let keepInMemory: Bool
    /// Checks, validates and writes completed items (`Writer.write`): the part that takes time in proportion to the
    /// bytes, which the owner may run off its executor.
    let writer: Writer
    private var loaded: [String: [UInt8]] = [:]
    /// Every stored item's size, by hash: what the quota counts.
    private(set) var sizes: [String: Int] = [:]
    /// When each item was stored (items found on disk at start-up: the start), for `evict`'s grace.
    private var storedAt: [String: ContinuousClock.Instant] = [:]
    private(set) var totalBytes = 0
    private var uploads: [String: Upload] = [:]
    /// Items whose last part came and that the `Writer` is storing (not yet committed), with the requests waiting
    /// for that to end: a part of a second upload of the same item, answered meanwhile, would find neither an
    /// upload in progress nor a stored item (`ControlService.afterWrite`).
    private var writing: [String: [CheckedContinuation<Void, Never>]] = [:]
    private struct Upload {
        var bytes: [UInt8]
        var size: Int
        var touched: ContinuousClock.Instant
    }
    /// How long a partial upload waits for its next part.
    static let uploadIdle: Duration = .seconds(120)
    /// Uploads in parts held at once; past it the one idle longest is dropped for a newcomer.
    static let uploadsInFlight = 16

    init(dataDirectory: String?, words: ContentWords, quota: ContentQuota, keepInMemory: Bool = true,
         validate: (@Sendable ([UInt8]) -> String?)? = nil) {
        self.words = words
        self.quota = quota
        self.keepInMemory = keepInMemory
        directory = dataDirectory.map { $0 + "/" + words.directory }
        writer = Writer(directory: directory, words: words, validate: validate)
        guard let directory else { return }
        let files = FileManager.default
        try? files.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let now = ContinuousClock.now
        for name in (try? files.contentsOfDirectory(atPath: directory)) ?? [] {
            let path = directory + "/" + name
            if name.hasSuffix(".tmp") {  // a write cut short by a crash (`DurableTemp`: HASH.PID.N.tmp)
                try? files.removeItem(atPath: path)
                continue
            }
            var info = stat()
            guard name.hasSuffix(words.suffix) else { continue }
            let hash = String(name.dropLast(words.suffix.count))
            guard Self.isHash(hash), stat(path, &info) == 0 else { continue }
            let size = Int(info.st_size)
            sizes[hash] = size
            storedAt[hash] = now
            totalBytes += size
        }
        if sizes.count > quota.maxCount || totalBytes > quota.maxBytes {
            Log(words.directory).warn("over_quota", ["count": sizes.count, "bytes": totalBytes, "max_count": quota.maxCount,
                                                     "max_bytes": quota.maxBytes, "effect": "new \(words.noun)s are refused until some are removed"])
        }
    }

    static func isHash(_ s: String) -> Bool {
        s.utf8.count == 64 && s.utf8.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) }
    }

    private func refusal(_ reason: ContentStoreError.Reason) -> ContentStoreError { ContentStoreError(reason, words) }

    /// Why storing one more item of `size` bytes would break the quota, if it would.
    func quotaRefusal(adding size: Int) -> ContentStoreError? {
        if sizes.count >= quota.maxCount { return refusal(.overCount(stored: sizes.count, limit: quota.maxCount)) }
        if totalBytes + size > quota.maxBytes { return refusal(.overBytes(stored: totalBytes, adding: size, limit: quota.maxBytes)) }
        return nil
    }

    /// Whether the store holds `hash`.
    func contains(_ hash: String) -> Bool { sizes[hash] != nil }

    /// One part of an item sent in parts: `bytes` at `offset` of a `size`-byte item whose SHA-256 is `hash`.
    /// Returns the progress (`received`), or the stored item after the last part, or why the part is refused
    /// (out of order, too large, over the quota, a different size than the upload's first part, or parts that
    /// hash otherwise).
    func addPart(hash: String, offset: Int, size: Int, bytes: [UInt8]) -> Result<ContentItem, ContentStoreError> {
        switch receive(hash: hash, offset: offset, size: size, bytes: bytes) {
        case .failure(let e): return .failure(e)
        case .success(.progress(let item)): return .success(item)
        case .success(.complete(let whole)):
            if let refusal = writer.write(whole) { return .failure(refusal) }
            return commit(whole)
        }
    }

    /// What one part did: the upload's progress (or the stored item), or the whole upload, received and no longer
    /// held here, to be hashed and stored (`write` then `commit`, or `add`).
    enum Received {
        case progress(ContentItem)
        case complete(Whole)
    }

    /// An upload's bytes once its last part came, with the hash it claimed.
    struct Whole: Sendable {
        let hash: String
        let bytes: [UInt8]
    }

    /// `addPart`'s bookkeeping without the hashing and writing of a completed upload (the caller may do those
    /// elsewhere: they take time in proportion to the bytes, and the store's owner has other work).
    func receive(hash: String, offset: Int, size: Int, bytes: [UInt8]) -> Result<Received, ContentStoreError> {
        let now = ContinuousClock.now
        uploads = uploads.filter { now - $0.value.touched < Self.uploadIdle }
        guard Self.isHash(hash) else { return .failure(refusal(.notAHash(hash))) }
        if let stored = sizes[hash] { return .success(.progress(ContentItem(hash: hash, size: stored))) }  // stored already: stop sending
        guard size > 0 else { return .failure(refusal(.empty(size: size))) }
        guard size <= quota.maxItemBytes else { return .failure(refusal(.tooLarge(size: size, limit: quota.maxItemBytes))) }
        var upload: Upload
        if offset == 0 {
            if let refusal = quotaRefusal(adding: size) { return .failure(refusal) }
            // Declared sizes cost nothing to claim: what is held is what was received. Past the number of uploads
            // in flight, the one idle longest makes room (a client that claims slots and stalls cannot lock others out).
            uploads[hash] = nil
            while uploads.count >= Self.uploadsInFlight, let stalest = uploads.min(by: { $0.value.touched < $1.value.touched }) {
                uploads[stalest.key] = nil
            }
            upload = Upload(bytes: [], size: size, touched: now)
        } else {
            // Taken out while it grows (appending to a copy the dictionary still shares would copy every byte so
            // far, each part); put back unless the part ends it.
            guard let u = uploads.removeValue(forKey: hash) else { return .failure(refusal(.noUpload(hash: hash, offset: offset))) }
            upload = u
        }
        func keep(_ e: ContentStoreError) -> Result<Received, ContentStoreError> {
            if offset != 0 { uploads[hash] = upload }
            return .failure(e)
        }
        guard upload.size == size else { return keep(refusal(.sizeMismatch(size: size, upload: upload.size))) }
        guard offset == upload.bytes.count else { return keep(refusal(.outOfOrder(offset: offset, expected: upload.bytes.count))) }
        // Refused, and the bytes received so far kept: a bad part costs the upload nothing already accepted.
        guard bytes.count <= size - offset else { return keep(refusal(.pastDeclaredSize(end: offset &+ bytes.count, size: size))) }
        // Bytes held for all uploads stay under four items' worth: the idlest others make room, else this part waits.
        var held = uploads.values.reduce(0) { $0 + $1.bytes.count } + upload.bytes.count
        while held + bytes.count > 4 * quota.maxItemBytes,
              let stalest = uploads.min(by: { $0.value.touched < $1.value.touched }) {
            held -= stalest.value.bytes.count
            uploads[stalest.key] = nil
        }
        guard held + bytes.count <= 4 * quota.maxItemBytes else { return keep(refusal(.tooManyUploads(retryAfter: Self.uploadIdle))) }
        if upload.bytes.isEmpty { upload.bytes.reserveCapacity(size) }
        upload.bytes += bytes
        upload.touched = now
        guard upload.bytes.count == size else {
            uploads[hash] = upload
            return .success(.progress(ContentItem(hash: hash, size: size, received: upload.bytes.count)))
        }
        return .success(.complete(Whole(hash: hash, bytes: upload.bytes)))
    }

    /// The work that makes a completed item stored, save the bookkeeping: its hash checked, its bytes validated
    /// and written durably. Touches no state of the store, so it may run on any thread; then `commit` (on the
    /// owner) makes the item stored. Every item, whole or in parts, blob or module, goes through here.
    struct Writer: Sendable {
        let directory: String?
        let words: ContentWords
        let validate: (@Sendable ([UInt8]) -> String?)?

        /// Why `whole` cannot be stored, or nil once it is written.
        func write(_ whole: Whole) -> ContentStoreError? {
            let actual = SHA256.hex(whole.bytes)
            guard actual == whole.hash else { return ContentStoreError(.hashMismatch(expected: whole.hash, actual: actual), words) }
            if let validate, let why = validate(whole.bytes) { return ContentStoreError(.invalid(why), words) }
            guard let directory else { return nil }
            if let why = writeFileDurably(directory + "/" + whole.hash + words.suffix, whole.bytes, directory: directory) {
                return ContentStoreError(.cannotStore(directory: directory, reason: why), words)
            }
            return nil
        }
    }

    /// Marks `hash` as being written (between its last part and `endWrite`).
    func beginWrite(_ hash: String) {
        if writing[hash] == nil { writing[hash] = [] }
    }

    /// Ends the write of `hash` (committed or refused) and resumes every request that waited for it.
    func endWrite(_ hash: String) {
        for waiting in writing.removeValue(forKey: hash) ?? [] { waiting.resume() }
    }

    /// Whether `hash` is being written now.
    func isWriting(_ hash: String) -> Bool { writing[hash] != nil }

    /// Resumes `waiting` when the write of `hash` ends (at once when none is in progress).
    func waitForWrite(_ hash: String, _ waiting: CheckedContinuation<Void, Never>) {
        guard writing[hash] != nil else { return waiting.resume() }
        writing[hash]!.append(waiting)
    }

    /// Records an item `write` stored: counted against the quota again (others may have been stored meanwhile; past
    /// it the file is removed and the item refused).
    func commit(_ whole: Whole) -> Result<ContentItem, ContentStoreError> {
        if sizes[whole.hash] != nil { return .success(ContentItem(hash: whole.hash, size: whole.bytes.count)) }
        if let refusal = quotaRefusal(adding: whole.bytes.count) {
            if let directory { try? FileManager.default.removeItem(atPath: directory + "/" + whole.hash + words.suffix) }
            return .failure(refusal)
        }
        if keepInMemory || directory == nil { loaded[whole.hash] = whole.bytes }
        sizes[whole.hash] = whole.bytes.count
        storedAt[whole.hash] = .now
        totalBytes += whole.bytes.count
        return .success(ContentItem(hash: whole.hash, size: whole.bytes.count))
    }

    /// What storing a whole item takes: nothing (it is stored already: the item), or the `Writer`'s work on `Whole`
    /// and a `commit`.
    enum Admission {
        case stored(ContentItem)
        case write(Whole)
    }

    /// Whether `bytes`, whose SHA-256 is `hash` (the caller hashed them, possibly off the owner's executor), may be
    /// stored: refused when too large or over the quota.
    func admit(_ bytes: [UInt8], hash: String) -> Result<Admission, ContentStoreError> {
        guard bytes.count <= quota.maxItemBytes else { return .failure(refusal(.tooLarge(size: bytes.count, limit: quota.maxItemBytes))) }
        if sizes[hash] != nil { return .success(.stored(ContentItem(hash: hash, size: bytes.count))) }
        if let refusal = quotaRefusal(adding: bytes.count) { return .failure(refusal) }
        return .success(.write(Whole(hash: hash, bytes: bytes)))
    }

    /// Validates and stores `bytes` (durably, with a data directory) on the caller's thread; returns the item, or
    /// why it is refused. (`ControlService` does the same with the hashing and writing off its executor.)
    func add(_ bytes: [UInt8]) -> Result<ContentItem, ContentStoreError> {
        switch admit(bytes, hash: SHA256.hex(bytes)) {
        case .failure(let e): return .failure(e)
        case .success(.stored(let item)): return .success(item)
        case .success(.write(let whole)):
            if let refusal = writer.write(whole) { return .failure(refusal) }
            return commit(whole)
        }
    }

    /// A stored item's bytes, whole (checked against the hash when read from disk).
    func get(_ hash: String) -> [UInt8]? {
        guard sizes[hash] != nil else { return nil }
        if let m = loaded[hash] { return m }
        guard let directory, let data = FileManager.default.contents(atPath: directory + "/" + hash + words.suffix) else { return nil }
        let bytes = Array(data)
        guard SHA256.hex(bytes) == hash else { return nil }  // damaged bytes are no item
        if keepInMemory { loaded[hash] = bytes }
        return bytes
    }

    /// Up to `count` bytes of a stored item from `offset` (clamped to the item), and its whole size. Read from disk
    /// when the store does not keep items in memory; the reader checks the hash of the whole.
    func read(_ hash: String, offset: Int, count: Int) -> (bytes: [UInt8], size: Int)? {
        guard let size = sizes[hash] else { return nil }
        let from = Swift.min(Swift.max(offset, 0), size)
        let n = Swift.min(size - from, Swift.max(count, 0))
        if let m = loaded[hash] ?? (keepInMemory ? get(hash) : nil) { return (Array(m[from..<(from + n)]), m.count) }
        guard let directory else { return nil }
        let fd = Glibc.open(directory + "/" + hash + words.suffix, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { Glibc.close(fd) }
        var out = [UInt8](repeating: 0, count: n)
        var done = 0
        while done < n {
            let r = out.withUnsafeMutableBytes { pread(fd, $0.baseAddress! + done, n - done, off_t(from + done)) }
            if r < 0 && errno == EINTR { continue }
            guard r > 0 else { return nil }  // shorter than indexed: damaged
            done += r
        }
        return (out, size)
    }

    /// Removes a stored item, from memory and disk.
    func remove(_ hash: String) -> Result<ContentItem, ContentStoreError> {
        guard Self.isHash(hash) else { return .failure(refusal(.notAHash(hash))) }
        guard let size = sizes[hash] else { return .failure(refusal(.unknown(hash))) }
        if let directory {
            let path = directory + "/" + hash + words.suffix
            do { try FileManager.default.removeItem(atPath: path) } catch {
                if FileManager.default.fileExists(atPath: path) {
                    return .failure(refusal(.cannotStore(directory: directory, reason: "cannot remove \(path): \(error)")))
                }
            }
        }
        sizes[hash] = nil
        loaded[hash] = nil
        storedAt[hash] = nil
        totalBytes -= size
        return .success(ContentItem(hash: hash, size: size))
    }

    /// Makes room for one more item of `size` bytes by removing items nothing needs: not `referenced`, and stored
    /// longer than `grace` ago (an input uploaded for a goal not yet submitted is kept for a while), oldest first.
    /// Returns the hashes removed.
    @discardableResult
    func evict(toFit size: Int, grace: Duration, referenced: Set<String>) -> [String] {
        guard quotaRefusal(adding: size) != nil else { return [] }
        let now = ContinuousClock.now
        let candidates = storedAt.filter { !referenced.contains($0.key) && now - $0.value >= grace }.sorted { $0.value < $1.value }
        var removed: [String] = []
        for (hash, _) in candidates {
            guard quotaRefusal(adding: size) != nil else { break }
            if case .success = remove(hash) { removed.append(hash) }
        }
        return removed
    }

    /// Every stored item, by hash.
    func list() -> [(hash: String, size: Int)] { sizes.sorted { $0.key < $1.key }.map { ($0.key, $0.value) } }
}

/// A stored item (or the progress of one being uploaded: `received`).
struct ContentItem: Equatable, Sendable {
    var hash: String
    var size: Int
    var received: Int?
}

/// Why a content store refused a request, worded for the store it came from (modules or blobs) so the user can
/// act on it (limits are named with their flag).
struct ContentStoreError: Error, Equatable, Sendable, CustomStringConvertible {
    enum Reason: Equatable, Sendable {
        case notAHash(String)
        /// A declared size of zero or less: no item is empty (an empty input travels inline).
        case empty(size: Int)
        case tooLarge(size: Int, limit: Int)
        case tooManyUploads(retryAfter: Duration)
        case noUpload(hash: String, offset: Int)
        case sizeMismatch(size: Int, upload: Int)
        case outOfOrder(offset: Int, expected: Int)
        case pastDeclaredSize(end: Int, size: Int)
        /// The parts hash to `actual`, not the `expected` the upload named.
        case hashMismatch(expected: String, actual: String)
        case invalid(String)
        case cannotStore(directory: String, reason: String)
        /// Storing `adding` more bytes would pass the store's byte bound.
        case overBytes(stored: Int, adding: Int, limit: Int)
        /// The store already holds its count bound.
        case overCount(stored: Int, limit: Int)
        case unknown(String)
        /// A goal that is still running names the item.
        case inUse(hash: String, goal: String, how: String)
    }

    let reason: Reason
    let words: ContentWords

    init(_ reason: Reason, _ words: ContentWords) {
        self.reason = reason
        self.words = words
    }

    /// What kind of refusal it is (the HTTP edge makes it a status; the bus carries only the message).
    var kind: APIError.Kind {
        switch reason {
        case .unknown: return .notFound
        case .inUse: return .conflict
        case .overBytes, .overCount: return .storageFull
        default: return .badRequest
        }
    }

    var description: String {
        let w = words, n = words.noun
        switch reason {
        case .notAHash(let h): return "\(n): '\(h.prefix(80))' is not a lowercase hex SHA-256"
        case .empty(let size): return "\(n) part: size \(size): a \(n) has at least one byte (empty content travels inline)"
        case .tooLarge(let size, let limit):
            return "\(n) refused: \(size) bytes; honeycombd accepts \(n)s up to \(limit) bytes" + (w.itemFlag.isEmpty ? "" : " (\(w.itemFlag))")
        case .tooManyUploads(let after): return "\(n) refused: too many uploads in progress; try again in \(after)"
        case .noUpload(let hash, let offset): return "\(n) part at offset \(offset): no upload of \(hash) in progress (start at offset 0)"
        case .sizeMismatch(let size, let upload): return "\(n) part: size \(size) differs from the upload's \(upload) (start at offset 0)"
        case .outOfOrder(let offset, let expected): return "\(n) part at offset \(offset): expected offset \(expected)"
        case .pastDeclaredSize(let end, let size): return "\(n) part: \(end) bytes is past the declared size \(size)"
        case .hashMismatch(let expected, let actual):
            return "\(n) refused: the parts' SHA-256 is not \(expected) (they hash to \(actual)); nothing was stored"
        case .invalid(let why): return "\(n) refused: \(why)"
        case .cannotStore(let dir, let why): return "cannot store the \(n) under \(dir): \(why)"
        case .overBytes(let stored, let adding, let limit):
            return "\(n) refused: storing its \(adding) bytes would make \(stored + adding) bytes of \(n)s, over \(w.bytesKey) \(limit) "
                + "(\(w.bytesFlag)); \(w.fullHint)"
        case .overCount(let stored, let limit):
            return "\(n) refused: the store holds \(stored) \(n)s, \(w.countKey) is \(limit) (\(w.countFlag)); \(w.fullHint)"
        case .unknown(let hash): return "unknown \(n) '\(hash.prefix(80))' (\(w.listHint))"
        case .inUse(let hash, let goal, let how):
            return "\(n) \(hash) is named by goal \(goal), which is still running; \(how)"
        }
    }
}
