/// Registry: the drones as honeycombd knows them (not journaled: drones announce themselves again after a
/// restart). Hello, heartbeat, revocation and draining; what a change in the registry does to leased work is
/// returned as effects (`taskExpired` events, cancellations).
extension ControlState {
    /// A drone announces itself (first, or again after honeycombd restarted or marked it lost). Returns the reply,
    /// and what it did: when the hello comes from a new process under a known id (the drone restarted), the work
    /// its earlier process held is gone and goes back to pending.
    public func hello(_ h: DroneHello, now: Int64) -> (HelloReply, ControlEffects) {
        func refused(_ why: String) -> (HelloReply, ControlEffects) {
            (HelloReply(accepted: false, reason: why, heartbeatMillis: config.heartbeatMillis), ControlEffects())
        }
        guard h.slots > 0 && h.slots <= 4096 else { return refused("slots must be between 1 and 4096") }
        // What a drone says of itself is kept while it is registered: bounded like everything from the network.
        if let why = DroneHello.problem(h) { return refused(why) }
        if drones[h.drone] == nil && drones.count >= config.maxDrones {
            pruneGoneDrones(keeping: 0)
            if drones.count >= config.maxDrones {
                return refused("honeycombd's registry holds \(drones.count) drones (max_drones \(config.maxDrones))")
            }
        }
        var d = DroneRecord(id: h.drone, name: h.name, tier: h.tier, slots: h.slots, capabilities: Set(h.capabilities),
                            host: h.host, lastSeen: now)
        d.model = h.models?.first?.name ?? h.capabilities.first { $0.hasPrefix("model:") }.map { String($0.dropFirst(6)) }
        d.promptFormat = h.models?.first?.promptFormat ?? .chat
        d.instance = h.instance
        d.toolPins = h.tools.map { Dictionary($0.map { ($0.name, $0.pin) }) { first, _ in first } }
        d.toolBytes = h.tools.map { Dictionary($0.compactMap { t in t.bytes.map { (t.name, $0) } }) { first, _ in first } }
        // Lists only for a drone that asked (an older drone reads one assignment per message), never past our limit.
        let asked = h.batch.map { min(max($0, 1), config.maxBatch) } ?? 1
        d.batch = asked >= 2 ? asked : nil
        var events: [JournalEvent] = []
        if let old = drones[h.drone] {
            d.completed = old.completed
            d.failed = old.failed
            let held = old.running.filter { tasks[$0]?.lease?.drone == h.drone }
            if old.instance != nil && old.instance != h.instance {
                for task in held.sorted() {
                    guard let t = tasks[task] else { continue }
                    events.append(.taskExpired(.init(task: task, attempt: t.attempts, reason: "drone \(old.name) restarted",
                                               countsAttempt: true, at: now)))
                }
            } else {
                // The same process announcing itself again keeps the tasks it still holds leases for.
                d.running = held
            }
        }
        drones[h.drone] = d
        watchLiveness(h.drone, lastSeen: now)
        var fx = ControlEffects()
        for e in events { apply(e, into: &fx) }
        return (HelloReply(accepted: true, heartbeatMillis: config.heartbeatMillis, batch: d.batch == nil ? nil : config.maxBatch), fx)
    }

    /// Records a heartbeat. `known` is false when the drone is unknown or was marked lost (it must announce itself
    /// again); `effects` holds the tasks to cancel on it.
    ///
    /// The heartbeat's running set is the truth about the drone's slots: work it runs that is not leased to it
    /// here occupies slots all the same (`occupied`), and is cancelled on the drone, since its result would be
    /// refused (its lease is void). A drone that refused an assignment for lack of a slot (`saturated`) gets
    /// leases again from here on.
    public func heartbeat(_ hb: Heartbeat, now: Int64) -> (known: Bool, effects: ControlEffects) {
        var fx = ControlEffects()
        guard var d = drones[hb.drone], d.state.isPresent else { return (false, fx) }
        d.lastSeen = now
        var occupied = 0
        // A drone runs at most its slots; a longer list is not believed (nor turned into a flood of cancels).
        for task in hb.running.prefix(d.slots) {
            guard let t = tasks[task] else {
                occupied += 1
                fx.cancellations.append(.init(drone: hb.drone, task: task))
                continue
            }
            if t.lease?.drone == hb.drone {
                if t.state == .leased { tasks[task]?.state = .running }
            } else {
                // Not leased to it here: the slot is busy all the same (a timed-out run still stopping, a lease voided
                // by a restart, or a heartbeat that left just before its result; the next heartbeat corrects that).
                occupied += 1
                // Work whose lease is void is stopped: the drone would work for nothing.
                if !t.state.isFinal { fx.cancellations.append(.init(drone: hb.drone, task: task)) }
            }
        }
        d.occupied = occupied
        d.saturated = false
        drones[hb.drone] = d
        watchLiveness(hb.drone, lastSeen: now)
        return (true, fx)
    }

    /// The drone's credential was revoked: it is gone at once, and the work it held goes back to pending (without
    /// using an attempt: the task did nothing wrong) so that nothing waits for a result that would be refused.
    public func revoke(drone: DroneID, now: Int64) -> ControlEffects {
        var fx = ControlEffects()
        guard var d = drones[drone] else { return fx }
        d.state = .lost
        drones[drone] = d
        let events = d.running.sorted().compactMap { task -> JournalEvent? in
            guard let t = tasks[task], t.lease?.drone == drone else { return nil }
            return .taskExpired(.init(task: task, attempt: t.attempts, reason: "drone \(d.name)'s credential was revoked",
                                countsAttempt: false, at: now))
        }
        for e in events { apply(e, into: &fx) }
        return fx
    }

    /// The drone is shutting down: no new leases; its running tasks finish or come back released.
    /// Returns whether a known, active drone began draining (a goodbye for anything else changes nothing).
    @discardableResult
    public func draining(_ drone: DroneID) -> Bool {
        guard drones[drone]?.state == .active else { return false }
        drones[drone]?.state = .draining
        return true
    }

    func touch(_ drone: DroneID, now: Int64) {
        guard drones[drone]?.state.isPresent == true else { return }
        drones[drone]?.lastSeen = now
        watchLiveness(drone, lastSeen: now)
    }

    /// Forgets drones that left or were lost longest ago, keeping the latest `keeping` of them (shown in
    /// `hive drones`). Their completed and failed counts go with them; a drone that comes back starts afresh.
    func pruneGoneDrones(keeping: Int) {
        let gone = drones.values.filter { !$0.state.isPresent }
        guard gone.count > keeping else { return }
        for d in gone.sorted(by: { $0.lastSeen < $1.lastSeen }).prefix(gone.count - keeping) { drones[d.id] = nil }
    }
}
