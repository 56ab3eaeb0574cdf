import FoundationEssentials
import HiveCore
import Testing

/// `schedule` counts free slots only up to the queue's length and ranks drones once per pass (`DroneRanking`)
/// rather than walking them all per task: what it leases, and where, must be what the walk chose.
@Suite struct ScheduleBoundTests {
    func noops(_ n: Int) -> TaskSpec { .fork(Array(repeating: TaskSpec(kind: "noop", maxAttempts: 1), count: n)) }

    @Test func fewTasksOnManyDronesAllLeasedOneEach() throws {
        let h = Harness()
        for i in 0..<1_000 { h.drone(String(format: "d%04d", i), slots: 4) }
        try h.submit(noops(10))
        let batch = h.schedule()
        #expect(batch.count == 10)
        #expect(Set(batch.map(\.drone)).count == 10, "spread: each to a drone with the most free slots")
        #expect(h.schedule().isEmpty, "nothing left queued")
    }

    @Test func moreTasksThanSlotsLeaseEverySlotAndTheRestWait() throws {
        let h = Harness()
        for i in 0..<50 { h.drone("d\(i)", slots: 3) }
        try h.submit(noops(400))
        #expect(h.schedule().count == 150)
        #expect(h.state.freeSlots(upTo: .max) == 0)
        let first = try #require(h.effects.assignments.first)
        h.finish(first.assignment, drone: first.drone)
        #expect(h.schedule().count == 1, "a freed slot takes the next queued task")
    }

    @Test func slotsOnlyOnTheLastDroneAreFound() throws {
        let h = Harness()
        for i in 0..<200 { h.drone(String(format: "d%03d", i), slots: 1) }
        try h.submit(noops(199))
        #expect(h.schedule().count == 199)
        try h.submit(noops(5))
        let batch = h.schedule()
        #expect(batch.count == 1, "one slot was left, wherever the walk finds it")
        #expect(h.state.freeSlots(upTo: 10) == 0)
    }

    /// The walk's order, modelled here: most free slots, then fewest running, then the lowest id, slot by slot.
    @Test func rankedPicksFollowTheWalksOrderSlotBySlot() throws {
        let h = Harness()
        var free: [String: Int] = [:], running: [String: Int] = [:]
        for i in 0..<20 {
            let id = String(format: "d%02d", i)
            h.drone(id, slots: 1 + (i * 7) % 5)
            free[id] = 1 + (i * 7) % 5
            running[id] = 0
        }
        try h.submit(noops(45))
        var expected: [String] = []
        for _ in 0..<45 {
            let open = free.filter { $0.value > 0 }.keys
            guard let pick = open.min(by: { a, b in
                free[a]! != free[b]! ? free[a]! > free[b]! : running[a]! != running[b]! ? running[a]! < running[b]! : a < b
            }) else { break }
            expected.append(pick)
            free[pick]! -= 1
            running[pick]! += 1
        }
        #expect(h.schedule().map(\.drone) == expected)
    }

    @Test func aRetriedTaskStillPrefersADroneThatHasNotRunIt() throws {
        let h = Harness()
        h.drone("a", slots: 4)
        h.drone("b", slots: 1)
        try h.submit(TaskSpec(kind: "noop", maxAttempts: 3))
        let first = try #require(h.schedule().first)
        #expect(first.drone == "a")
        h.finish(first.assignment, drone: "a", ok: false)
        let second = try #require(h.schedule().first)
        #expect(second.drone == "b", "the retry goes where it has not run, though a has more free slots")
    }
}
