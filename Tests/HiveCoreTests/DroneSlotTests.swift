import FoundationEssentials
import HiveCore
import Testing

/// A drone's heartbeat is the truth about its slots; drones that say goodbye leave, drones that go quiet are lost.
@Suite struct DroneSlotTests {
    /// The audit's hot loop: honeycombd restarted (leases voided) while a 2-slot drone kept running 2 tasks, then
    /// believed the drone had 2 free slots; each assignment came back "no free slot" and was leased again at once,
    /// thousands of times a second. Now a refusal saturates the drone until its next heartbeat.
    @Test func aNoFreeSlotReleaseStopsLeasingToThatDroneUntilItsNextHeartbeat() throws {
        let h = Harness()
        h.drone("d1", slots: 2)
        try h.submit(.fork(exec(4)))
        var releases = 0
        for _ in 0..<1_000 {
            let batch = h.schedule()
            if batch.isEmpty { break }
            for (a, d) in batch {
                let r = h.state.receive(TaskResult(task: a.task, attempt: a.attempt, token: a.token, drone: d,
                                                   outcome: .released, error: TaskResult.noFreeSlot), now: h.now)
                guard case .success(let fx) = r else { Issue.record("release refused: \(r)"); return }
                h.effects.append(fx)
                releases += 1
            }
        }
        #expect(releases == 2, "one refusal per slot, then no more leases until a heartbeat")
        #expect(h.state.drones["d1"]!.freeSlots == 0)
        #expect(h.state.tasks.values.filter { $0.state == .pending }.count == 4)
        #expect(h.state.tasks.values.allSatisfy { $0.attempts == 0 }, "releases use no attempts")
        // Its heartbeat says what is free: nothing of ours runs there, so both slots are offered again.
        #expect(h.state.heartbeat(Heartbeat(drone: "d1", running: []), now: h.now).known)
        #expect(h.schedule().count == 2)
    }

    @Test func workTheDroneRunsWithoutALeaseHereOccupiesSlotsAndIsCancelled() throws {
        let h = Harness()
        try h.submit(.fork(exec(4)))
        h.drone("d1", slots: 2)
        let before = h.schedule()
        #expect(before.count == 2)
        // honeycombd restarts: a new state from the journal, leases voided, the drone announces itself again.
        let restarted = Harness()
        for e in h.events { restarted.state.apply(e) }
        _ = restarted.state.voidLeases(now: restarted.now)
        restarted.drone("d1", slots: 3)
        let running = before.map(\.assignment.task)
        let (known, fx) = restarted.state.heartbeat(Heartbeat(drone: "d1", running: running + ["g77.3"]), now: restarted.now)
        #expect(known)
        #expect(restarted.state.drones["d1"]!.occupied == 3)
        #expect(restarted.state.drones["d1"]!.freeSlots == 0)
        #expect(restarted.schedule().isEmpty, "a drone whose slots are all busy gets nothing")
        #expect(fx.cancellations.allSatisfy { $0.drone == "d1" } && fx.events.isEmpty)
        #expect(Set(fx.cancellations.map(\.task)) == Set(running + ["g77.3"]), "work whose lease is void is stopped on the drone")
        // Once the drone reports the slots free, the voided tasks run again (on a fresh lease).
        let emptied = restarted.state.heartbeat(Heartbeat(drone: "d1", running: []), now: restarted.now)
        #expect(emptied.known && emptied.effects.isEmpty)
        #expect(restarted.schedule().count == 3)
    }

    @Test func aHeartbeatIsBelievedForAtMostItsDronesSlots() throws {
        let h = Harness()
        h.drone("d1", slots: 2)
        let flood = (0..<100_000).map { "g9.\($0)" }
        let (known, fx) = h.state.heartbeat(Heartbeat(drone: "d1", running: flood), now: h.now)
        #expect(known)
        #expect(h.state.drones["d1"]!.occupied == 2)
        #expect(fx.cancellations.count == 2, "a hostile list is not turned into a flood of cancels")
    }

    @Test func aFinishedTaskInAHeartbeatHoldsItsSlotUntilTheDroneSaysOtherwise() throws {
        let h = Harness()
        h.drone("d1", slots: 3)
        try h.submit(.fork(exec(4)))
        let leased = h.schedule()
        #expect(leased.count == 3)
        h.finish(leased[0].assignment, drone: "d1")
        // The heartbeat still lists the finished task (a run that timed out and is still stopping, or a heartbeat that
        // left before the result): its own leases count once, the finished one holds its slot, nothing is cancelled.
        let hb = h.state.heartbeat(Heartbeat(drone: "d1", running: leased.map(\.assignment.task)), now: h.now)
        #expect(hb.known && hb.effects.cancellations.isEmpty)
        #expect(h.state.drones["d1"]!.occupied == 1)
        #expect(h.state.drones["d1"]!.freeSlots == 0)
        #expect(h.state.heartbeat(Heartbeat(drone: "d1", running: leased.dropFirst().map(\.assignment.task)), now: h.now).known)
        #expect(h.state.drones["d1"]!.freeSlots == 1)
    }

    @Test func aDroneThatSaidGoodbyeLeavesAndOneThatWentQuietIsLost() throws {
        var config = ControlConfig()
        config.lostAfterMillis = 1_000
        let h = Harness(config: config)
        h.drone("polite", slots: 1)
        h.drone("crashed", slots: 1)
        try h.submit(.fork(exec(2)))
        let leased = h.schedule()
        #expect(leased.count == 2)
        h.state.draining("polite")
        #expect(h.state.drones["polite"]!.state == .draining)
        h.now += 1_500
        h.tick()
        #expect(h.state.drones["polite"]!.state == .left)
        #expect(h.state.drones["crashed"]!.state == .lost)
        let polite = leased.first { $0.drone == "polite" }!.assignment.task
        let crashed = leased.first { $0.drone == "crashed" }!.assignment.task
        #expect(h.state.tasks[polite]!.attempts == 0, "work a leaving drone did not return costs no attempt")
        #expect(h.state.tasks[crashed]!.attempts == 1)
        #expect(!h.state.heartbeat(Heartbeat(drone: "polite", running: []), now: h.now).known, "it must announce itself again")
        h.drone("polite", slots: 1)
        #expect(h.state.drones["polite"]!.state == .active)
    }

    /// A late tick of honeycombd's (it was stalled itself) judges no drone: a heartbeat received meanwhile may still
    /// be queued behind it. Once that heartbeat is in, the drone is alive; a drone that sent none is lost next tick.
    @Test func aTickThatLeavesDronesUnjudgedLosesNoneAndTheNextJudges() throws {
        var config = ControlConfig()
        config.lostAfterMillis = 1_000
        let h = Harness(config: config)
        h.drone("alive", slots: 1)
        h.drone("dead", slots: 1)
        h.now += 2_000
        _ = h.state.tick(now: h.now, judgeDrones: false)
        #expect(h.state.drones["alive"]!.state == .active && h.state.drones["dead"]!.state == .active)
        #expect(h.state.heartbeat(Heartbeat(drone: "alive", running: []), now: h.now).known)
        h.now += 50
        _ = h.state.tick(now: h.now)
        #expect(h.state.drones["alive"]!.state == .active)
        #expect(h.state.drones["dead"]!.state == .lost)
    }

    @Test func aRestartedDroneUnderTheSameIdLosesItsEarlierLeasesAndARepeatedHelloKeepsThem() throws {
        let h = Harness()
        func hello(_ instance: String) -> [JournalEvent] {
            let (reply, fx) = h.state.hello(DroneHello(drone: "laptop", name: "laptop", tier: .worker, slots: 2,
                                                           capabilities: ["backend:exec", "exec:/bin/true"], host: nil,
                                                           version: "t", instance: instance), now: h.now)
            #expect(reply.accepted)
            h.effects.append(fx)
            return fx.events
        }
        #expect(hello("first").isEmpty)
        try h.submit(.fork(exec(2)))
        let leased = h.schedule()
        #expect(leased.count == 2)
        // honeycombd asked it to announce itself again: the same process keeps its work.
        #expect(hello("first").isEmpty)
        #expect(h.state.drones["laptop"]!.running.count == 2)
        // kill -9 and a quick restart: the new process holds nothing, so the work goes back at once (an attempt each).
        let expired = hello("second")
        #expect(expired.count == 2)
        #expect(h.state.tasks.values.filter { $0.kind == "exec" }.allSatisfy { $0.state == .pending && $0.attempts == 1 })
        #expect(h.schedule().count == 2)
    }

    /// The audit: a fake drone answered a noop task with a fork of `python3 -c …`, and another drone ran it.
    @Test func aDroneMayNotProposeWorkItCouldNotRunItself() throws {
        let h = Harness()
        h.drone("noop-only", slots: 1, caps: ["backend:noop"])
        h.drone("runner", slots: 1, caps: ["backend:exec", "exec:/usr/bin/python3"])
        try h.submit(TaskSpec(kind: "noop", maxAttempts: 1))
        let a = h.schedule().first { $0.drone == "noop-only" }!
        let injected = TaskSpec(kind: "exec", input: TaskInput(command: "/usr/bin/python3", args: ["-c", "import os"]))
        _ = h.finish(a.assignment, drone: "noop-only", fork: [.fork([injected])])
        let t = h.state.tasks[a.assignment.task]!
        #expect(t.state == .dead)
        #expect(t.reason?.contains("fork refused: it proposes a 'exec' task, which the proposing drone noop-only has no backend for") == true)
        #expect(h.state.tasks.count == 1, "nothing of the proposal was created")
        #expect(h.schedule().isEmpty, "the runner gets nothing to run")
    }

    /// The re-audit: 5,000 hellos with 2,000 capabilities each grew honeycombd by 600 MB and stalled `hive drones`.
    @Test func theRegistryIsBoundedAndForgetsGoneDronesFirst() throws {
        var config = ControlConfig()
        config.maxDrones = 3
        config.lostAfterMillis = 1_000
        let h = Harness(config: config)
        let huge = DroneHello(drone: "big", name: "big", tier: .worker, slots: 1,
                              capabilities: (0..<5_000).map { "cap:\($0)" }, host: nil, version: "t")
        #expect(h.state.hello(huge, now: h.now).0.reason == "5000 capabilities; the limit is 4096")
        for id in ["a", "b", "c"] { h.drone(id) }
        let fourth = h.state.hello(DroneHello(drone: "d", name: "d", tier: .worker, slots: 1, capabilities: [], host: nil, version: "t"), now: h.now).0
        #expect(!fourth.accepted && fourth.reason == "honeycombd's registry holds 3 drones (max_drones 3)")
        // Once one is lost, it makes room.
        h.now += 2_000
        #expect(h.state.heartbeat(Heartbeat(drone: "a", running: []), now: h.now).known)
        #expect(h.state.heartbeat(Heartbeat(drone: "b", running: []), now: h.now).known)
        h.tick()
        #expect(h.state.drones["c"]?.state == .lost)
        #expect(h.state.hello(DroneHello(drone: "d", name: "d", tier: .worker, slots: 1, capabilities: [], host: nil, version: "t"), now: h.now).0.accepted)
        #expect(h.state.drones["c"] == nil && h.state.drones.count == 3)
    }

    @Test func aGoodbyeForAnUnknownOrGoneDroneChangesNothing() {
        let h = Harness()
        #expect(!h.state.draining("ghost"))
        h.drone("d1")
        #expect(h.state.draining("d1"))
        #expect(!h.state.draining("d1"))
    }

    @Test func theClockNeverStartsBeforeTheLatestRecordedTime() throws {
        let h = Harness()
        h.now = 5_000
        h.drone("d1")
        try h.submit(.fork(exec(1)))
        h.now = 9_000
        _ = h.drain()
        #expect(h.state.latestTime == 9_000)
    }
}
