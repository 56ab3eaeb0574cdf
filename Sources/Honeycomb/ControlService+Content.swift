import HiveCore

/// The one path by which uploads become stored, modules and blobs alike: the work in proportion to the bytes
/// (hashing, a module's validation, the durable write) runs off the actor, so a 64 MiB upload does not stall
/// heartbeats, results and dispatch; the bookkeeping (`ContentStore.admit`, `receive`, `commit`) runs on it. The
/// reply waits for the write: a stored item is one that survives a crash.
extension ControlService {
    /// Writes a completed item (`ContentStore.Writer`) off the actor, then commits it.
    func finish(_ whole: ContentStore.Whole, in store: ContentStore) async -> Result<ContentItem, ContentStoreError> {
        let writer = store.writer
        if let refusal = await Task.detached(operation: { writer.write(whole) }).value { return .failure(refusal) }
        return store.commit(whole)
    }

    /// Stores a whole item (`module_add` in one message): hashed off the actor, admitted on it, then `finish`ed.
    func add(_ bytes: [UInt8], to store: ContentStore) async -> Result<ContentItem, ContentStoreError> {
        guard bytes.count <= store.quota.maxItemBytes else {
            return .failure(ContentStoreError(.tooLarge(size: bytes.count, limit: store.quota.maxItemBytes), store.words))
        }
        let hash = await Task.detached(operation: { SHA256.hex(bytes) }).value
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
