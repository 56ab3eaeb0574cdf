import HiveSystem
import NATSWire
import Synchronization

/// A thread-safe subject index: one `SubjectTrie` behind a lock, read through per-thread match caches.
///
/// Publishing threads look a subject up in their own `MatchCache` without taking any lock; a miss locks the
/// trie once. Every insert or remove bumps a generation counter, and a cache that sees a newer generation
/// empties itself (nats-server keeps the same kind of generation for its per-connection caches). Subscription
/// churn is rare next to publishing, so clearing whole caches is cheaper than tracking what each change touched.
///
/// `@unchecked Sendable`: the trie is only touched inside `lock`.
public final class SubjectIndex<E: AnyObject & Sendable>: @unchecked Sendable {
    private let lock = PosixLock()
    private let trie = SubjectTrie<E>()
    private let generation = Atomic<UInt64>(1)

    public init() {}

    /// Number of subscriptions stored.
    public var count: Int { lock.withLock { trie.count } }

    @discardableResult
    public func insert(_ subject: Bytes, queue: Bytes? = nil, _ element: E) -> Bool {
        lock.withLock {
            let ok = trie.insert(subject, queue: queue, element)
            if ok { generation.add(1, ordering: .releasing) }
            return ok
        }
    }

    @discardableResult
    public func remove(_ subject: Bytes, queue: Bytes? = nil, _ element: E) -> Bool {
        lock.withLock {
            let ok = trie.remove(subject, queue: queue, element)
            if ok { generation.add(1, ordering: .releasing) }
            return ok
        }
    }

    /// Matches without a cache (tests, and callers that match once).
    public func match(_ literal: Bytes) -> SubjectMatch<E> {
        lock.withLock { trie.match(literal) }
    }

    /// The cached match for `literal`, or nil on a miss. Empties `cache` first if the index changed since it
    /// was filled. `cache` belongs to the calling thread.
    @inlinable
    public func cachedMatch(_ literal: Bytes, cache: inout MatchCache<E>) -> SubjectMatch<E>? {
        let g = currentGeneration
        if cache.generation != g {
            cache.table.removeAll()
            cache.generation = g
            return nil
        }
        return cache.table.value(for: literal)
    }

    /// Matches through `cache`, filling it on a miss.
    @inlinable
    public func match(_ literal: Bytes, cache: inout MatchCache<E>) -> SubjectMatch<E> {
        if let hit = cachedMatch(literal, cache: &cache) { return hit }
        let result = match(literal)
        if cache.table.count >= cache.limit { cache.table.removeAll() }
        cache.table.set(result, for: literal)
        return result
    }

    @usableFromInline var currentGeneration: UInt64 { generation.load(ordering: .acquiring) }
}

/// A bounded per-thread cache of subject matches. Never share one between threads.
public struct MatchCache<E: AnyObject & Sendable> {
    @usableFromInline var generation: UInt64 = 0
    @usableFromInline var table: ByteKeyTable<SubjectMatch<E>>
    /// Entries kept before the cache is emptied (unique subjects such as reply inboxes would fill it forever).
    public let limit: Int

    public init(limit: Int = 4096) {
        self.limit = limit
        table = ByteKeyTable(capacity: 64)
    }

    /// Entries currently cached.
    public var count: Int { table.count }
}
