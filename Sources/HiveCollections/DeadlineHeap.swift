/// Deadlines in the order they fall due (a binary min-heap), so that a periodic tick looks only at what is due
/// rather than walking everything it watches: honeycombd's control tick (silent drones, expired leases) and the
/// broker's connection timers (pings), which walked every drone and every connection at 10,000 drones.
///
/// Entries are never removed early: a deadline that moved (a lease that ended, a drone heard from since, a closed
/// connection) stays until it falls due, and whoever pops it checks it against the record. So the owner pushes
/// when a deadline is set, not each time it might have moved, and sweeps stale entries out (`removeAll(where:)`)
/// if they could pile up.
///
/// `@inlinable` throughout: the callers live in other modules and must get a specialized copy.
public struct DeadlineHeap<Deadline: Comparable, Key> {
    public struct Entry {
        public var deadline: Deadline
        public var key: Key
        @inlinable public init(deadline: Deadline, key: Key) {
            self.deadline = deadline
            self.key = key
        }
    }

    @usableFromInline var entries: [Entry] = []

    @inlinable public init() {}

    @inlinable public var count: Int { entries.count }

    @inlinable public mutating func push(_ deadline: Deadline, _ key: Key) {
        entries.append(Entry(deadline: deadline, key: key))
        var i = entries.count - 1
        while i > 0 {
            let parent = (i - 1) / 2
            guard entries[i].deadline < entries[parent].deadline else { break }
            entries.swapAt(i, parent)
            i = parent
        }
    }

    /// Removes and returns the earliest entry whose deadline is before `limit`; nil when none is.
    @inlinable public mutating func popDue(before limit: Deadline) -> Entry? {
        guard let first = entries.first, first.deadline < limit else { return nil }
        let last = entries.removeLast()
        guard !entries.isEmpty else { return first }
        entries[0] = last
        siftDown(0)
        return first
    }

    @inlinable public mutating func removeAll() { entries.removeAll() }

    /// Drops the entries `shouldRemove` picks and restores the heap order (O(count)).
    @inlinable public mutating func removeAll(where shouldRemove: (Entry) -> Bool) {
        entries.removeAll(where: shouldRemove)
        var i = entries.count / 2
        while i > 0 {
            i -= 1
            siftDown(i)
        }
    }

    @inlinable mutating func siftDown(_ start: Int) {
        var i = start
        while true {
            let l = 2 * i + 1, r = l + 1
            var least = i
            if l < entries.count && entries[l].deadline < entries[least].deadline { least = l }
            if r < entries.count && entries[r].deadline < entries[least].deadline { least = r }
            guard least != i else { return }
            entries.swapAt(i, least)
            i = least
        }
    }
}
