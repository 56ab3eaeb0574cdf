import HiveCore

/// How much the blob store holds at most: one blob (`--max-blob-bytes`, 64 MiB), all of them (`--blob-store-bytes`,
/// 1 GiB) and how many (`--max-blobs`, 4,096).
public struct BlobQuota: Sendable, Equatable {
    public var maxBlobBytes = 64 << 20
    public var maxBytes = 1 << 30
    public var maxCount = 4096
    public init() {}
}

/// Task inputs and outputs too large (or too binary) to travel inside a goal or a result: a `ContentStore` under
/// `DATA/blobs/HASH`, named `sha256:HASH`. The last part of an upload is hashed (a mismatch is refused naming both
/// hashes) and written durably before its reply, so a goal submitted after the upload names bytes that survive a
/// crash; the journal holds only the references (`stdin_blob`, `output_blob`).
///
/// Blobs are read back from disk a part at a time (`blob_get`), never all held in memory. Nothing removes a blob by
/// request: when one more would not fit, blobs no retained goal names (`referenced`) and older than `evictionGrace`
/// (an input uploaded for a goal not submitted yet) make room, oldest first.
final class BlobStore {
    static let words = ContentWords(noun: "blob", directory: "blobs", suffix: "", itemFlag: "--max-blob-bytes",
                                    bytesKey: "blob_store_bytes", bytesFlag: "--blob-store-bytes",
                                    countKey: "max_blobs", countFlag: "--max-blobs",
                                    fullHint: "blobs are kept while a retained goal names them: let finished goals be pruned, or raise the limit",
                                    listHint: "upload it with hive submit --input FILE")
    /// How long an unreferenced blob is kept whatever the pressure: time to submit the goal that names it.
    static let evictionGrace: Duration = .seconds(600)
    /// The store itself: `ControlService` finishes completed uploads through it (`Writer` off the actor, `commit`).
    let content: ContentStore
    private var store: ContentStore { content }
    let quota: BlobQuota
    var totalBytes: Int { store.totalBytes }
    var count: Int { store.sizes.count }

    init(dataDirectory: String?, quota: BlobQuota = BlobQuota()) {
        self.quota = quota
        content = ContentStore(dataDirectory: dataDirectory, words: Self.words,
                             quota: ContentQuota(maxBytes: quota.maxBytes, maxCount: quota.maxCount, maxItemBytes: quota.maxBlobBytes),
                             keepInMemory: false)
    }


    /// One part of a blob (`ContentStore.addPart`); `hash` is `sha256:HEX` or `HEX`. At a blob's first part, when it
    /// would not fit, unreferenced blobs past their grace make room (`referenced` is asked only then).
    func addPart(blob: String, offset: Int, size: Int, bytes: [UInt8], grace: Duration = BlobStore.evictionGrace,
                 referenced: () -> Set<String>) -> Result<BlobRef, ContentStoreError> {
        switch receive(blob: blob, offset: offset, size: size, bytes: bytes, grace: grace, referenced: referenced) {
        case .failure(let e): return .failure(e)
        case .success(.progress(let item)): return .success(Self.ref(item))
        case .success(.complete(let whole)):
            if let e = store.writer.write(whole) { return .failure(e) }
            return commit(whole)
        }
    }

    /// `addPart` without hashing and writing a completed blob: the caller does those off its executor
    /// (`ControlService.finish`: a 64 MiB blob takes long enough to stall heartbeats), then `commit`s.
    func receive(blob: String, offset: Int, size: Int, bytes: [UInt8], grace: Duration = BlobStore.evictionGrace,
                 referenced: () -> Set<String>) -> Result<ContentStore.Received, ContentStoreError> {
        guard let hash = BlobRef.hash(of: blob) else { return .failure(ContentStoreError(.notAHash(blob), Self.words)) }
        if offset == 0, !store.contains(hash), size > 0, size <= quota.maxBlobBytes, store.quotaRefusal(adding: size) != nil {
            store.evict(toFit: size, grace: grace, referenced: referenced())
        }
        return store.receive(hash: hash, offset: offset, size: size, bytes: bytes)
    }

    /// Records a blob `write` stored.
    func commit(_ whole: ContentStore.Whole) -> Result<BlobRef, ContentStoreError> { store.commit(whole).map(Self.ref) }

    static func ref(_ item: ContentItem) -> BlobRef {
        BlobRef(blob: BlobRef.name(hash: item.hash), size: item.size, received: item.received)
    }

    /// Whether the store holds the blob named `blob` (`sha256:HEX`).
    func contains(_ blob: String) -> Bool { BlobRef.hash(of: blob).map(store.contains) ?? false }

    /// The blob's size, if held.
    func size(of blob: String) -> Int? { BlobRef.hash(of: blob).flatMap { store.sizes[$0] } }

    /// Up to `count` bytes of the blob from `offset`, and its whole size.
    func read(_ blob: String, offset: Int, count: Int) -> (bytes: [UInt8], size: Int)? {
        BlobRef.hash(of: blob).flatMap { store.read($0, offset: offset, count: count) }
    }
}
