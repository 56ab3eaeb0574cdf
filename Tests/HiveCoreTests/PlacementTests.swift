import FoundationEssentials
import HiveCore
import Testing

/// Where `schedule` places model calls: candidates of one prompt together (the drone's engine evaluates the
/// prompt once for all of them), critics away from their candidate's author.
@Suite struct PlacementTests {
    /// `n` model calls of one prompt (distinct seeds, as a step's candidates), under one fork.
    func candidates(_ n: Int, prompt: String = "the same prompt") -> TaskSpec {
        .fork((0..<n).map { TaskSpec(kind: "model", input: TaskInput(prompt: prompt, maxTokens: 16, temperature: 0.8, seed: $0 + 1)) })
    }

    func placement(_ batch: [(assignment: Assignment, drone: DroneID)]) -> [DroneID: Int] {
        batch.reduce(into: [:]) { $0[$1.drone, default: 0] += 1 }
    }

    @Test func candidatesOfOnePromptLandOnOneDroneWithTheSlots() throws {
        let h = Harness()
        h.drone("d1", slots: 4, caps: modelCaps)
        h.drone("d2", slots: 4, caps: modelCaps)
        try h.submit(candidates(4))
        let batch = h.schedule()
        #expect(batch.count == 4)
        #expect(placement(batch).count == 1, "all four on one drone: \(placement(batch))")
    }

    @Test func aPlanStepsCandidatesLandTogetherToo() throws {
        let h = Harness()
        h.drone("d1", slots: 4, caps: modelCaps)
        h.drone("d2", slots: 6, caps: modelCaps)
        try h.submit(plan: PlanSpec(goal: "17 * 23", steps: [StepSpec(id: "solve", n: 4, join: .vote)]))
        let batch = h.schedule()
        #expect(batch.count == 4)
        #expect(placement(batch) == ["d2": 4], "the drone with the most free slots takes the first, the rest follow it")
    }

    @Test func candidatesSpreadWhenNoDroneHasTheSlots() throws {
        let h = Harness()
        h.drone("d1", slots: 2, caps: modelCaps)
        h.drone("d2", slots: 2, caps: modelCaps)
        try h.submit(candidates(4))
        #expect(placement(h.schedule()) == ["d1": 2, "d2": 2])
    }

    @Test func differentPromptsStillSpreadByFreeSlots() throws {
        let h = Harness()
        h.drone("d1", slots: 4, caps: modelCaps)
        h.drone("d2", slots: 4, caps: modelCaps)
        try h.submit(.fork((0..<4).map { TaskSpec(kind: "model", input: TaskInput(prompt: "prompt \($0)", maxTokens: 16)) }))
        #expect(placement(h.schedule()) == ["d1": 2, "d2": 2])
        let h2 = Harness()
        h2.drone("d1", slots: 4, caps: modelCaps + ["exec:/bin/true"])
        h2.drone("d2", slots: 4, caps: modelCaps + ["exec:/bin/true"])
        try h2.submit(.fork(exec(4)))  // exec tasks have no prompt to share
        #expect(placement(h2.schedule()) == ["d1": 2, "d2": 2])
    }

    @Test func criticsAvoidTheirAuthorsDroneEvenWhenTheOtherIsFull() throws {
        let h = Harness()
        h.drone("d1", slots: 4, caps: modelCaps)
        h.drone("d2", slots: 2, caps: modelCaps)
        let g = try h.submit(plan: PlanSpec(goal: "name a colour", steps: [StepSpec(id: "pick", n: 4, join: .best, critics: 1)]))
        let first = h.schedule()
        #expect(placement(first) == ["d1": 4], "the candidates together")
        for (a, d) in first { _ = h.finish(a, drone: d, output: ["red", "green", "blue", "grey"][a.input!.seed! - 1]) }
        // Four critics, all avoiding d1; d2 has two slots: two run, two wait for d2 rather than judge on d1.
        let critics = h.schedule()
        #expect(placement(critics) == ["d2": 2])
        #expect(h.state.tasks.values.filter { $0.role == .critique && $0.state == .pending }.count == 2)
        for (a, d) in critics { _ = h.finish(a, drone: d, output: "{\"score\": 8, \"reasons\": \"ok\"}") }
        let rest = h.schedule()
        #expect(placement(rest) == ["d2": 2])
        for (a, d) in rest { _ = h.finish(a, drone: d, output: "{\"score\": 8, \"reasons\": \"ok\"}") }
        #expect(h.goal(g).state == .succeeded)
        #expect(try h.replayMatches())
    }

    @Test func withOneDroneCriticsStillRun() throws {
        let h = Harness()
        h.drone("d1", slots: 4, caps: modelCaps)
        let g = try h.submit(plan: PlanSpec(goal: "name a colour", steps: [StepSpec(id: "pick", n: 2, join: .best, critics: 1)]))
        let calls = h.run { a, _ in a.input?.jsonSchema == CritiqueVerdict.schema ? "{\"score\": 8, \"reasons\": \"ok\"}" : "red" }
        #expect(calls.count == 4 && calls.allSatisfy { $0.drone == "d1" }, "no other drone: the author's judges")
        #expect(h.goal(g).state == .succeeded)
    }

    @Test func aRetryStillPrefersAnotherDroneOverItsSiblings() throws {
        let h = Harness()
        h.drone("d1", slots: 4, caps: modelCaps)
        h.drone("d2", slots: 4, caps: modelCaps)
        try h.submit(candidates(2))
        let batch = h.schedule()
        #expect(placement(batch).count == 1)
        let (failed, on) = batch[0]
        _ = h.finish(failed, drone: on, ok: false)
        let retry = h.schedule()
        #expect(retry.count == 1 && retry[0].drone != on, "a drone that has not run it beats the sibling's drone")
    }
}
