import HiveCore
import Testing

/// The tick finds silent drones and run-out leases through deadlines in order (`ControlState+Deadlines`): the same
/// decisions, at the same ticks, as a walk over every drone and lease would make.
@Suite struct TickDeadlineTests {
    static func harness(lostAfter: Int = 1_500) -> Harness {
        var config = ControlConfig()
        config.lostAfterMillis = lostAfter
        config.leaseGraceMillis = 0
        return Harness(config: config)
    }

    @Test func aDroneIsLostAtTheFirstTickPastItsSilenceAndNotBefore() {
        let h = Self.harness()
        h.drone("d1")
        h.drone("d2")
        h.now = 2_000
        #expect(h.state.heartbeat(Heartbeat(drone: "d1", running: []), now: h.now).known)
        h.now = 2_500  // d2 silent for exactly 1,500 ms: not yet
        h.tick()
        #expect(h.state.drones["d2"]!.state == .active)
        h.now = 2_501
        h.tick()
        #expect(h.state.drones["d2"]!.state == .lost)
        #expect(h.state.drones["d1"]!.state == .active, "heard from at 2,000: due at 3,500")
        h.now = 3_500
        h.tick()
        #expect(h.state.drones["d1"]!.state == .active)
        h.now = 3_501
        h.tick()
        #expect(h.state.drones["d1"]!.state == .lost)
        // Back with a hello, watched again.
        h.drone("d1")
        h.now = 5_001
        h.tick()
        #expect(h.state.drones["d1"]!.state == .active)
        h.now = 5_002
        h.tick()
        #expect(h.state.drones["d1"]!.state == .lost)
    }

    @Test func aLeaseThatEndedIsNotExpiredByItsOldDeadline() throws {
        let h = Self.harness(lostAfter: Int.max / 2)
        h.drone("d1", slots: 1)
        try h.submit(.fork([TaskSpec(kind: "exec", timeoutMillis: 100), TaskSpec(kind: "exec", timeoutMillis: 10_000)]))
        let first = try #require(h.schedule().first)
        #expect(first.assignment.timeoutMillis == 100)
        _ = h.finish(first.assignment, drone: first.drone)
        let second = try #require(h.schedule().first)
        h.now += 5_000  // past the first lease's deadline, inside the second's
        #expect(h.tick().events.isEmpty)
        #expect(h.state.tasks[second.assignment.task]!.state == .leased)
        h.now += 5_001
        let fx = h.tick()
        #expect(fx.events.count == 1)
        #expect(h.state.tasks[second.assignment.task]!.state == .pending)
    }

    @Test func leasesDueTogetherExpireInTaskOrder() throws {
        let h = Self.harness(lostAfter: Int.max / 2)
        for i in 0..<5 { h.drone("d\(i)", slots: 4) }
        try h.submit(.fork((0..<20).map { _ in TaskSpec(kind: "exec", timeoutMillis: 1_000) }))
        #expect(h.schedule().count == 20)
        h.now += 1_001
        let expired = h.tick().events.compactMap { e -> TaskID? in
            if case .taskExpired(let x) = e { return x.task } else { return nil }
        }
        #expect(expired.count == 20)
        #expect(expired == expired.sorted())
    }

    /// Thousands of leases come and go (the heap is swept of ended ones on the way); the live one still expires.
    @Test func sweepingEndedLeasesKeepsTheLiveOnes() throws {
        let h = Self.harness(lostAfter: Int.max / 2)
        h.drone("d1", slots: 8)
        try h.submit(.fork((0..<10_000).map { _ in TaskSpec(kind: "exec", timeoutMillis: 60_000) }))
        #expect(h.drain() == 10_000)
        try h.submit(.fork([TaskSpec(kind: "exec", timeoutMillis: 500)]))
        let live = try #require(h.schedule().first)
        h.now += 501
        h.tick()
        #expect(h.state.tasks[live.assignment.task]!.state == .pending)
    }
}
