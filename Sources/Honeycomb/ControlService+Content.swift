import HiveCore
import HiveSystem

/// The one path by which uploads become stored, modules and blobs alike: the work in proportion to the bytes
/// (hashing, a module's validation, the durable write with its fsyncs) runs off the actor and off Swift's
/// cooperative pool (`ThreadPool.blocking`: a detached task would still hold one of the pool's threads, two on two
/// cores, which the actor runs on too), so a 64 MiB upload does not stall heartbeats, results and dispatch; the bookkeeping (`ContentStore.admit`, `receive`, `commit`) runs on it. The
/// reply waits for the write: a stored item is one that survives a crash.
extension ControlService {
    /// Writes a completed item (`ContentStore.Writer`) off the actor, then commits it.
    func finish(_ whole: ContentStore.Whole, in store: ContentStore) async -> Result<ContentItem, ContentStoreError> {
        let writer = store.writer
        store.beginWrite(whole.hash)
        defer { store.endWrite(whole.hash) }
        if let refusal = await ThreadPool.blocking.value({ writer.write(whole) }) { return .failure(refusal) }
        return store.commit(whole)
    }

    /// Waits while the item `hash` is being written (another upload's last part is answered beside the API loop,
    /// `serve`): a part of a second upload of the same item then finds it stored, or, if that write was refused,
    /// starts afresh, as when requests were answered one at a time. Nil (not a hash): no wait.
    func afterWrite(of hash: String?, in store: ContentStore) async {
        guard let hash else { return }
        while store.isWriting(hash) {
            await withCheckedContinuation { store.waitForWrite(hash, $0) }
        }
    }

    /// Stores a whole item (`module_add` in one message): hashed off the actor, admitted on it, then `finish`ed.
    func add(_ bytes: [UInt8], to store: ContentStore) async -> Result<ContentItem, ContentStoreError> {
        guard bytes.count <= store.quota.maxItemBytes else {
            return .failure(ContentStoreError(.tooLarge(size: bytes.count, limit: store.quota.maxItemBytes), store.words))
        }
        let hash = await ThreadPool.blocking.value { SHA256.hex(bytes) }
        switch store.admit(bytes, hash: hash) {
        case .failure(let e): return .failure(e)
        case .success(.stored(let item)): return .success(item)
        case .success(.write(let whole)): return await finish(whole, in: store)
        }
    }

    /// What one part of an upload did (`ContentStore.receive`): its progress, or, after the last part, the item
    /// `finish`ed.
    func accept(_ received: Result<ContentStore.Received, ContentStoreError>, in store: ContentStore) async -> Result<ContentItem, ContentStoreError> {
        switch received {
        case .failure(let e): return .failure(e)
        case .success(.progress(let item)): return .success(item)
        case .success(.complete(let whole)): return await finish(whole, in: store)
        }
    }
}
