/// The drones that meet one set of requirements, best first, for one scheduling pass: a max-heap on (free slots,
/// fewer running, lower id), the order `pickDrone` uses when nothing else tells drones apart (a task's first try,
/// nothing to avoid, no sibling prompt to share). Built once per requirement per pass (O(drones)); each pick is
/// then O(log drones) instead of a walk over every drone, which made dispatch O(tasks × drones).
///
/// Entries go stale as leases fill slots; within a pass a drone's rank only falls (slots fill, nothing frees
/// them), so a stale top is re-ranked from the drone's record and pushed back, and the first top that is current
/// is the best drone.
struct DroneRanking {
    private struct Entry {
        let free: Int, running: Int, id: DroneID
        func outranks(_ o: Entry) -> Bool {
            free != o.free ? free > o.free : running != o.running ? running < o.running : id < o.id
        }
    }
    private var heap: [Entry] = []

    init(_ drones: [DroneID: DroneRecord], meeting needs: DroneRequirements) {
        for d in drones.values where d.freeSlots > 0 && needs.met(by: d) {
            heap.append(Entry(free: d.freeSlots, running: d.running.count, id: d.id))
        }
        var i = heap.count / 2
        while i > 0 { i -= 1; siftDown(i) }
    }

    /// The best drone now (its record as it is), or nil when none of them has a free slot.
    mutating func best(in drones: [DroneID: DroneRecord]) -> DroneID? {
        while let top = heap.first {
            let free = drones[top.id]?.freeSlots ?? 0
            let running = drones[top.id]?.running.count ?? 0
            if free == top.free && running == top.running { return top.id }
            removeTop()
            if free > 0 { push(Entry(free: free, running: running, id: top.id)) }
        }
        return nil
    }

    private mutating func push(_ e: Entry) {
        heap.append(e)
        var i = heap.count - 1
        while i > 0 {
            let parent = (i - 1) / 2
            guard heap[i].outranks(heap[parent]) else { break }
            heap.swapAt(i, parent)
            i = parent
        }
    }

    private mutating func removeTop() {
        heap.swapAt(0, heap.count - 1)
        heap.removeLast()
        if !heap.isEmpty { siftDown(0) }
    }

    private mutating func siftDown(_ start: Int) {
        var i = start
        while true {
            let l = 2 * i + 1, r = l + 1
            var best = i
            if l < heap.count && heap[l].outranks(heap[best]) { best = l }
            if r < heap.count && heap[r].outranks(heap[best]) { best = r }
            if best == i { return }
            heap.swapAt(i, best)
            i = best
        }
    }
}
