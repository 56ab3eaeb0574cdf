import HiveCollections

/// Deadlines: what the tick must look at, in the order it falls due (`DeadlineHeap`). A drone is looked at when it
/// may have been silent too long, a lease when it may have run out; each is checked against its record then, so a
/// deadline that moved since (a heartbeat, a lease that ended) costs one look, and the tick costs what is due, not
/// the size of the hive.
extension ControlState {
    /// Arms the silence check of a present drone last heard from at `lastSeen` (one heap entry per drone: a later
    /// heartbeat only moves `lastSeen`, and the due entry re-arms itself from it).
    func watchLiveness(_ drone: DroneID, lastSeen: Int64) {
        let due = lastSeen &+ Int64(config.lostAfterMillis)
        if let armed = livenessDue[drone], armed <= due { return }
        livenessDue[drone] = due
        livenessHeap.push(due, drone)
    }

    /// Present drones silent for longer than `lostAfterMillis` at `now` (each once: it is no longer watched).
    func silentDrones(now: Int64) -> [DroneID] {
        var silent: [DroneID] = []
        let lostAfter = Int64(config.lostAfterMillis)
        while let e = livenessHeap.popDue(before: now) {
            guard livenessDue[e.key] == e.deadline else { continue }  // superseded by an earlier deadline
            guard let d = drones[e.key], d.state.isPresent else {
                livenessDue[e.key] = nil
                continue
            }
            if now &- d.lastSeen > lostAfter {
                livenessDue[e.key] = nil
                silent.append(e.key)
            } else {
                // Heard from since: due again `lostAfter` after that (not before `now`, so this loop ends).
                let due = d.lastSeen &+ lostAfter
                livenessDue[e.key] = due
                livenessHeap.push(due, e.key)
            }
        }
        return silent
    }

    /// Records a lease's deadline. The heap keeps entries of ended leases until they fall due; when it holds
    /// twice what it held after the last sweep, the ended ones are swept out (amortized O(1) a lease).
    func watchLease(_ task: TaskID, deadline: Int64) {
        leaseHeap.push(deadline, task)
        guard leaseHeap.count >= leaseHeapSweepAt else { return }
        leaseHeap.removeAll { tasks[$0.key]?.lease?.deadline != $0.deadline }
        leaseHeapSweepAt = max(Self.leaseHeapMinimumSweep, 2 * leaseHeap.count)
    }

    /// Below this many entries the lease heap is never swept.
    static let leaseHeapMinimumSweep = 4_096

    /// Tasks (sorted) whose lease on a present drone ran out before `now`. A lease on a drone that is not present
    /// is left to the drone's own expiry (`silentDrones`, revocation) and looked at again next tick.
    func expiredLeases(now: Int64) -> [TaskID] {
        var expired: Set<TaskID> = []
        var again: [DeadlineHeap<Int64, TaskID>.Entry] = []
        while let e = leaseHeap.popDue(before: now) {
            guard let lease = tasks[e.key]?.lease, lease.deadline == e.deadline else { continue }  // ended or re-leased
            guard let d = drones[lease.drone], d.state.isPresent, d.running.contains(e.key) else {
                again.append(e)
                continue
            }
            expired.insert(e.key)
        }
        for e in again { leaseHeap.push(e.deadline, e.key) }
        return expired.sorted()
    }
}
