/// Pending tasks ordered by goal priority (higher first), then age (older first).
///
/// Entries are never removed from the middle: a task that left `pending` (leased, cancelled) or was re-queued
/// (new `seq`) leaves a stale entry that `pop` skips when the caller checks it against the task.
struct PendingQueue: Sendable {
    struct Entry: Sendable {
        let priority: Int
        let seq: Int64
        let task: TaskID
        func before(_ o: Entry) -> Bool { priority != o.priority ? priority > o.priority : seq < o.seq }
    }

    private var heap: [Entry] = []
    var count: Int { heap.count }
    var isEmpty: Bool { heap.isEmpty }

    mutating func push(_ e: Entry) {
        heap.append(e)
        var i = heap.count - 1
        while i > 0 {
            let p = (i - 1) / 2
            guard heap[i].before(heap[p]) else { break }
            heap.swapAt(i, p)
            i = p
        }
    }

    mutating func pop() -> Entry? {
        guard !heap.isEmpty else { return nil }
        heap.swapAt(0, heap.count - 1)
        let top = heap.removeLast()
        var i = 0
        while true {
            let l = 2 * i + 1, r = l + 1
            var m = i
            if l < heap.count && heap[l].before(heap[m]) { m = l }
            if r < heap.count && heap[r].before(heap[m]) { m = r }
            if m == i { break }
            heap.swapAt(i, m)
            i = m
        }
        return top
    }
}
