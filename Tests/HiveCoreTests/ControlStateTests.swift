import FoundationEssentials
import HiveCore
import Testing

/// A control state with helpers: an injected clock, drones, and what every command did (`effects`; its events
/// for replay checks).
final class Harness {
    let state: ControlState
    var now: Int64 = 1_000
    /// Every command's effects, in order.
    var effects = ControlEffects()
    var tokens = 0

    /// Every event the commands applied, in order (what the journal would hold).
    var events: [JournalEvent] {
        get { effects.events }
        set { effects.events = newValue }
    }

    init(config: ControlConfig = ControlConfig()) { state = ControlState(config: config) }

    func drone(_ id: String, tier: Tier = .worker, slots: Int = 2, caps: [String] = ["backend:exec", "backend:noop", "exec:/bin/true"]) {
        let (reply, fx) = state.hello(DroneHello(drone: id, name: id, tier: tier, slots: slots, capabilities: caps, host: nil, version: "t"), now: now)
        effects.append(fx)
        precondition(reply.accepted)
    }

    @discardableResult
    func submit(_ root: TaskSpec, priority: Int = 0, budget: Budget = Budget()) throws -> GoalID {
        let (id, fx) = try state.submit(GoalSpec(priority: priority, budget: budget, root: root), now: now)
        effects.append(fx)
        return id
    }

    /// Leases what can run; returns the assignments (tasks parked for approval are in `events`).
    @discardableResult
    func schedule() -> [(assignment: Assignment, drone: DroneID)] {
        let fx = state.schedule(now: now) {
            tokens += 1
            return "tok\(tokens)"
        }
        effects.append(fx)
        return fx.assignments
    }

    @discardableResult
    func finish(_ a: Assignment, drone: DroneID, ok: Bool = true, output: String? = nil,
                fork: [TaskSpec]? = nil, join: JoinPolicy? = nil) -> Result<ControlEffects, ResultRejection> {
        let r = state.receive(TaskResult(task: a.task, attempt: a.attempt, token: a.token, drone: drone,
                                         outcome: ok ? .succeeded : .failed, exitCode: ok ? 0 : 1, output: output,
                                         fork: fork, join: join), now: now)
        if case .success(let fx) = r { effects.append(fx) }
        return r
    }

    @discardableResult
    func tick() -> ControlEffects {
        let fx = state.tick(now: now)
        effects.append(fx)
        return fx
    }

    /// Runs everything to completion with every drone succeeding; returns how many tasks ran.
    func drain(limit: Int = 100_000) -> Int {
        var ran = 0
        while ran < limit {
            let batch = schedule()
            if batch.isEmpty { return ran }
            for (a, d) in batch {
                _ = finish(a, drone: d, output: "\(a.index)")
                ran += 1
            }
        }
        return ran
    }

    func goal(_ id: GoalID) -> GoalRecord { state.goals[id]! }
}

func exec(_ n: Int, maxAttempts: Int? = nil) -> [TaskSpec] {
    (0..<n).map { _ in TaskSpec(kind: "exec", input: TaskInput(command: "/bin/true"), maxAttempts: maxAttempts) }
}

@Suite struct ControlStateTests {
    @Test func forkOfExecTasksRunsWithinDroneSlotsAndJoins() throws {
        let h = Harness()
        h.drone("d1", slots: 2)
        h.drone("d2", slots: 3)
        let g = try h.submit(.fork(exec(10)))
        let first = h.schedule()
        #expect(first.count == 5)  // 2 + 3 slots: backpressure, not overload
        #expect(Set(first.map(\.drone)) == ["d1", "d2"])
        #expect(h.schedule().isEmpty)
        for (a, d) in first { _ = h.finish(a, drone: d) }
        #expect(h.drain() == 5)
        #expect(h.goal(g).state == .succeeded)
        #expect(h.effects.finishedGoals == [g], "the goal's end is reported once")
        #expect(h.state.drones["d1"]!.completed + h.state.drones["d2"]!.completed == 10)
    }

    @Test func nestedForksJoinBottomUp() throws {
        let h = Harness()
        h.drone("d1", slots: 8)
        let g = try h.submit(.fork([.fork(exec(3)), .fork([.fork(exec(2)), TaskSpec(kind: "noop")])]))
        #expect(h.goal(g).taskCount == 10)
        #expect(h.drain() == 6)
        #expect(h.goal(g).state == .succeeded)
        #expect(h.state.tasks.values.filter { $0.goal == g }.allSatisfy { $0.state == .succeeded })
    }

    @Test func failedTaskIsRetriedElsewhereThenDies() throws {
        let h = Harness()
        h.drone("d1", slots: 1)
        h.drone("d2", slots: 1)
        let g = try h.submit(.fork(exec(1, maxAttempts: 2)))
        let a1 = h.schedule()[0]
        _ = h.finish(a1.assignment, drone: a1.drone, ok: false)
        let a2 = h.schedule()[0]
        #expect(a2.drone != a1.drone, "a retry prefers a drone that has not run the task")
        #expect(a2.assignment.attempt == 2)
        _ = h.finish(a2.assignment, drone: a2.drone, ok: false)
        #expect(h.schedule().isEmpty)
        let t = h.state.tasks[a1.assignment.task]!
        #expect(t.state == .dead)
        #expect(t.reason == "failed after 2 attempt(s): exit code 1")
        #expect(h.goal(g).state == .failed)
        #expect(h.goal(g).reason?.contains("join all cannot be met: 1 of 1 children failed") == true)
        let ledger = GoalLedger(goal: h.goal(g), tasks: h.state.tasks(of: g), now: h.now)
        #expect(ledger.retries == 1 && ledger.candidatesProposed == 0, "an all-join has no speculative candidates")
    }

    @Test func anyJoinCancelsTheRestOnFirstSuccess() throws {
        let h = Harness()
        h.drone("d1", slots: 4)
        let g = try h.submit(.fork(exec(3), join: .any))
        let leased = h.schedule()
        #expect(leased.count == 3)
        let fx = try h.finish(leased[1].assignment, drone: "d1").get()
        #expect(h.goal(g).state == .succeeded)
        #expect(Set(fx.cancellations.map(\.task)) == [leased[0].assignment.task, leased[2].assignment.task])
        #expect(fx.finishedGoals == [g])
        #expect(h.state.drones["d1"]!.running.isEmpty)
        // A late result for a cancelled task is refused.
        #expect(h.finish(leased[0].assignment, drone: "d1") == .failure(.notLeased(.cancelled)))
    }

    /// Issue 17: each command returns what it did and nothing else; nothing stays behind in the state for a later
    /// command (or a forgetful caller) to pick up.
    @Test func eachCommandReturnsExactlyItsOwnEffects() throws {
        let h = Harness()
        h.drone("d1", slots: 3)
        let g = try h.submit(.fork(exec(2), join: .any))
        let leased = h.schedule()
        #expect(leased.count == 2)
        // A heartbeat naming work unknown here asks for its cancellation, and only that.
        let (known, hb) = h.state.heartbeat(Heartbeat(drone: "d1", running: leased.map(\.assignment.task) + ["g9.9"]), now: h.now)
        #expect(known && hb.cancellations == [.init(drone: "d1", task: "g9.9")] && hb.events.isEmpty && hb.finishedGoals.isEmpty)
        // The next command does not see it again.
        #expect(h.tick().isEmpty)
        // The first success decides the join: its command cancels the sibling and ends the goal...
        let won = try h.finish(leased[0].assignment, drone: "d1").get()
        #expect(won.cancellations == [.init(drone: "d1", task: leased[1].assignment.task)] && won.finishedGoals == [g])
        #expect(won.events.count == 1 && won.assignments.isEmpty)
        // ...and what follows starts clean.
        #expect(h.state.schedule(now: h.now) { "t" }.isEmpty)
        #expect(h.tick().isEmpty)
        // A replayed event's effects are returned too (a replay drops them), never kept.
        let replica = ControlState()
        for e in h.events.dropLast() { replica.apply(e) }
        #expect(replica.apply(h.events.last!).finishedGoals == [g])
        #expect(replica.tick(now: h.now).isEmpty)
    }

    @Test func quorumSucceedsAtKAndFailsWhenUnreachable() throws {
        let h = Harness()
        h.drone("d1", slots: 8)
        let ok = try h.submit(.fork(exec(3), join: .quorum(2)))
        let a = h.schedule()
        _ = h.finish(a[0].assignment, drone: "d1")
        #expect(h.goal(ok).state == .running)
        _ = h.finish(a[1].assignment, drone: "d1")
        #expect(h.goal(ok).state == .succeeded)

        let bad = try h.submit(.fork(exec(3, maxAttempts: 1), join: .quorum(2)))
        let b = h.schedule()
        _ = h.finish(b[0].assignment, drone: "d1", ok: false)
        #expect(h.goal(bad).state == .running)
        _ = h.finish(b[1].assignment, drone: "d1", ok: false)
        #expect(h.goal(bad).state == .failed)
    }

    @Test func staleOrForeignResultsAreRejected() throws {
        let h = Harness()
        h.drone("d1", slots: 1)
        h.drone("d2", slots: 1)
        try h.submit(.fork(exec(1, maxAttempts: 3)))
        let a = h.schedule()[0]
        var wrongToken = a.assignment
        wrongToken.token = "forged"
        #expect(h.finish(wrongToken, drone: a.drone) == .failure(.staleToken))
        let other = a.drone == "d1" ? "d2" : "d1"
        #expect(h.finish(a.assignment, drone: other) == .failure(.wrongDrone(holder: a.drone)))
        var old = a.assignment
        old.attempt = 7
        #expect(h.finish(old, drone: a.drone) == .failure(.staleAttempt(expected: 1, got: 7)))
        var ghost = a.assignment
        ghost.task = "g9.9"
        #expect(h.finish(ghost, drone: a.drone) == .failure(.unknownTask))
        #expect(h.state.tasks[a.assignment.task]!.state == .leased)
    }

    @Test func leaseExpiryAndLostDronesRequeueTasks() throws {
        var config = ControlConfig()
        config.lostAfterMillis = 1_500
        config.leaseGraceMillis = 100
        let h = Harness(config: config)
        h.drone("d1", slots: 1)
        h.drone("d2", slots: 1)
        try h.submit(.fork([TaskSpec(kind: "exec", timeoutMillis: 500), TaskSpec(kind: "exec", timeoutMillis: 60_000)]))
        let leased = h.schedule()
        #expect(leased.count == 2)
        // d1 keeps heartbeating, d2 goes silent.
        let short = leased.first { $0.assignment.timeoutMillis == 500 }!
        let long = leased.first { $0.assignment.timeoutMillis == 60_000 }!
        h.now += 700
        #expect(h.state.heartbeat(Heartbeat(drone: short.drone, running: [short.assignment.task]), now: h.now).known)
        h.tick()
        #expect(h.state.tasks[short.assignment.task]!.state == .pending, "lease past timeout + grace expires")
        h.now += 1_000
        #expect(h.state.heartbeat(Heartbeat(drone: short.drone, running: []), now: h.now).known)
        h.tick()
        #expect(h.state.drones[long.drone]!.state == .lost)
        #expect(h.state.tasks[long.assignment.task]!.state == .pending)
        #expect(!h.state.heartbeat(Heartbeat(drone: long.drone, running: []), now: h.now).known, "a lost drone must re-announce")
    }

    @Test func tiersCapabilitiesAndBackendsGatePlacement() throws {
        let h = Harness()
        h.drone("edge", tier: .edge, slots: 4)
        h.drone("core", tier: .core, slots: 4, caps: ["backend:exec", "gpu"])
        try h.submit(.fork([
            TaskSpec(kind: "exec", tier: TierRequirement(.core)),
            TaskSpec(kind: "exec", tier: TierRequirement(.worker, orHigher: true)),
            TaskSpec(kind: "exec", requires: ["gpu"]),
            TaskSpec(kind: "exec", tier: TierRequirement(.edge)),
            TaskSpec(kind: "wasm"),  // nobody has this backend: stays pending
        ]))
        let placed = Dictionary(uniqueKeysWithValues: h.schedule().map { ($0.assignment.index, $0.drone) })
        #expect(placed == [0: "core", 1: "core", 2: "core", 3: "edge"])
        #expect(h.state.tasks.values.filter { $0.state == .pending }.map(\.kind) == ["wasm"])
    }

    @Test func execTasksGoOnlyWhereTheirCommandIsAllowed() throws {
        let h = Harness()
        h.drone("echoer", slots: 4, caps: ["backend:exec", "exec:/bin/echo"])
        h.drone("sleeper", slots: 4, caps: ["backend:exec", "exec:/bin/sleep"])
        try h.submit(.fork([TaskSpec(kind: "exec", input: TaskInput(command: "/bin/sleep")),
                            TaskSpec(kind: "exec", input: TaskInput(command: "/bin/echo")),
                            TaskSpec(kind: "exec", input: TaskInput(command: "/bin/rm"))]))
        let placed = Dictionary(uniqueKeysWithValues: h.schedule().map { ($0.assignment.index, $0.drone) })
        #expect(placed == [0: "sleeper", 1: "echoer"])
    }

    @Test func higherPriorityGoalsFirstThenOlderTasks() throws {
        let h = Harness()
        let low = try h.submit(.fork(exec(2)), priority: 0)
        let high = try h.submit(.fork(exec(2)), priority: 5)
        h.drone("d1", slots: 3)
        let order = h.schedule().map { h.state.tasks[$0.assignment.task]!.goal }
        #expect(order == [high, high, low])
    }

    @Test func budgetsAreEnforced() throws {
        let h = Harness()
        h.drone("d1", slots: 4)
        #expect(throws: SubmitError.tooManyTasks(11, limit: 10)) { try h.submit(.fork(exec(10)), budget: Budget(maxTasks: 10)) }
        #expect(throws: SubmitError.tooDeep(3, limit: 2)) { try h.submit(.fork([.fork(exec(1))]), budget: Budget(maxDepth: 2)) }
        #expect(throws: SubmitError.invalid("root is a fork without children")) { try h.submit(.fork([])) }
        // A dynamic fork past the budget is refused as a failed attempt (a drone's proposal cannot end the goal);
        // when every attempt proposes it, the goal fails with the reason.
        let g = try h.submit(TaskSpec(kind: "exec", maxAttempts: 2), budget: Budget(maxTasks: 3))
        for attempt in 1...2 {
            let a = h.schedule()[0]
            _ = h.finish(a.assignment, drone: "d1", fork: exec(5))
            #expect(h.state.tasks[a.assignment.task]!.attempts == attempt)
        }
        #expect(h.goal(g).state == .failed)
        #expect(h.goal(g).reason?.contains("fork refused: it would make 6 tasks, over budget.max_tasks 3") == true)
        // Deadlines.
        let slow = try h.submit(.fork(exec(1)), budget: Budget(deadlineMillis: 1_000))
        h.now += 1_001
        h.tick()
        #expect(h.goal(slow).state == .failed)
        #expect(h.goal(slow).reason == "deadline exceeded (budget.deadline_ms)")
    }

    @Test func aResultCanForkChildrenThatJoinIntoIt() throws {
        let h = Harness()
        h.drone("d1", slots: 8)
        let g = try h.submit(TaskSpec(kind: "exec"))
        let a = h.schedule()[0]
        _ = h.finish(a.assignment, drone: "d1", fork: exec(4), join: .quorum(3))
        #expect(h.state.tasks[a.assignment.task]!.state == .waiting)
        #expect(h.drain() == 4)
        #expect(h.goal(g).state == .succeeded)
    }

    @Test func cancelStopsLeasedWork() throws {
        let h = Harness()
        h.drone("d1", slots: 2)
        let g = try h.submit(.fork(exec(5)))
        let leased = h.schedule()
        let fx = h.state.cancel(goal: g, now: h.now)
        #expect(h.goal(g).state == .cancelled)
        #expect(fx?.cancellations.map(\.drone) == ["d1", "d1"])
        #expect(fx?.finishedGoals == [g])
        #expect(h.state.cancel(goal: g, now: h.now) == nil, "an ended goal is not cancelled again")
        #expect(h.schedule().isEmpty)
        #expect(h.finish(leased[0].assignment, drone: "d1") == .failure(.notLeased(.cancelled)))
    }

    @Test func replayingTheEventsRebuildsTheSameState() throws {
        let h = Harness()
        h.drone("d1", slots: 3)
        h.drone("d2", slots: 2)
        try h.submit(.fork([.fork(exec(4)), .fork(exec(3, maxAttempts: 1), join: .any)]))
        try h.submit(.fork(exec(6, maxAttempts: 2)), priority: 2)
        var round = 0
        while true {
            let batch = h.schedule()
            if batch.isEmpty { break }
            for (a, d) in batch {
                round += 1
                _ = h.finish(a, drone: d, ok: round % 4 != 0, output: "r\(round)")
            }
        }
        let replayed = ControlState()
        for e in h.events { replayed.apply(e) }
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        #expect(try encoder.encode(replayed.snapshot()) == encoder.encode(h.state.snapshot()))
        // And through a snapshot.
        let restored = ControlState()
        restored.restore(try JSONDecoder().decode(ControlState.Snapshot.self, from: encoder.encode(h.state.snapshot())))
        #expect(try encoder.encode(restored.snapshot()) == encoder.encode(h.state.snapshot()))
    }

    @Test func restartVoidsLeasesWithoutUsingAttempts() throws {
        let h = Harness()
        h.drone("d1", slots: 2)
        try h.submit(.fork(exec(3, maxAttempts: 1)))
        h.schedule()
        let restarted = ControlState()
        for e in h.events { restarted.apply(e) }
        let voided = restarted.voidLeases(now: h.now)
        #expect(voided.events.count == 2)
        #expect(restarted.tasks.values.filter { $0.state == .pending }.count == 3)
        #expect(restarted.tasks.values.allSatisfy { $0.attempts == 0 })
    }
}

@Suite struct JSONWriterTests {
    /// The hand-written journal records must decode to the same events as the Codable ones.
    @Test func fastJSONDecodesToTheSameEvent() throws {
        let events: [JournalEvent] = [
            .taskLeased(.init(task: "g1.2", attempt: 3, drone: "d-1", token: "ab12", deadline: 99_999, at: 1_234)),
            .taskLeased(.init(task: "g1.3", attempt: 1, drone: "d-2", token: "cd34", deadline: 5, at: 1, tier: .core)),
            .taskFinished(.init(task: "g1.2", attempt: 1, succeeded: true,
                          output: TaskOutput(drone: "d", exitCode: 0, output: "line \"one\"\nline\ttwo \\ \u{1}é", wallMillis: 12), at: 5)),
            .taskFinished(.init(task: "g1.3", attempt: 2, succeeded: false, output: TaskOutput(drone: "d", error: "boom"), at: 6)),
            .taskExpired(.init(task: "g1.4", attempt: 1, reason: "drone x lost", countsAttempt: true, at: 7)),
        ]
        for e in events {
            let bytes = try #require(e.fastJSON)
            #expect(try JSONDecoder().decode(JournalEvent.self, from: Data(bytes)) == e)
        }
        #expect(JournalEvent.goalCancelled(goal: "g1", reason: "x", at: 1).fastJSON == nil)
    }

    /// A submitted goal's record, written by hand (it is as big as the goal's task tree), decodes to the same event:
    /// every field of the spec, its budget and trace, nested forks, and runs of equal children written once.
    @Test func submittedGoalsDecodeToTheSameEvent() throws {
        let noop = TaskSpec(kind: "noop", maxAttempts: 1)
        var odd = noop
        odd.timeoutMillis = 5
        let exec = TaskSpec(name: "run \"it\"", kind: "exec", tier: TierRequirement(.worker, orHigher: true), requires: ["exec:/bin/sh", "gpu"],
                            input: TaskInput(command: "/bin/sh", args: ["-c", "echo \"$X\"\n"], stdin: "in\tput", env: ["B": "2", "A": "1"]),
                            maxAttempts: 2, timeoutMillis: 1_000, approval: .required)
        let model = TaskSpec(kind: "model", input: TaskInput(prompt: "hi é", system: "sys", maxTokens: 12, temperature: 0.7, topK: 40,
                                                             topP: 0.95, seed: 3, stop: ["\n"], json: true))
        let agent = TaskSpec(kind: "agent", input: TaskInput(prompt: "time?", maxTokens: 32,
                                                             agent: AgentSpec(tools: ["exec.date"], maxSteps: 4, pins: ["exec.date": "sha256:00"])))
        var full = GoalSpec(name: "all \"fields\"", priority: -3,
                            budget: Budget(maxTasks: 2_000, maxDepth: 4, maxAttempts: 2, deadlineMillis: 60_000, maxTokens: 9_000,
                                           maxCoreCalls: 3, maxTokensByTier: ["core": 100], maxCost: 0.25, approvalTimeoutMillis: 9),
                            root: .fork([exec, model, agent, .fork([noop, noop], join: .any, name: "inner"),
                                         TaskSpec.fork([noop, noop, noop], join: .quorum(2)), TaskSpec.fork([model, model], join: .vote)],
                                        join: .all, name: "top"))
        var rng = SplitMix64(seed: 7)
        full.trace = TraceContext.random(using: &rng)
        let fanOut = GoalSpec(root: .fork(Array(repeating: noop, count: 500) + [odd] + Array(repeating: noop, count: 499)))
        for spec in [full, fanOut, GoalSpec(root: noop)] {
            let e = JournalEvent.goalSubmitted(goal: "g12", spec: spec, at: 1_234)
            let bytes = try #require(e.fastJSON)
            #expect(try JSONDecoder().decode(JournalEvent.self, from: Data(bytes)) == e)
        }
        // A plan goal is not the hot path: JSONEncoder writes it.
        let plan = GoalSpec(plan: PlanSpec(goal: "g", steps: [StepSpec(id: "s", prompt: "p")]))
        #expect(JournalEvent.goalSubmitted(goal: "g1", spec: plan, at: 1).fastJSON == nil)
    }
}

@Suite struct WireJSONTests {
    @Test func assignmentsAndResultsRoundTrip() throws {
        let assignments = [
            Assignment(task: "g1.1", goal: "g1", attempt: 2, token: "f00", kind: "exec",
                       input: TaskInput(command: "/bin/sh", args: ["-c", "echo \"$X\"\n"], stdin: "in\tput",
                                        env: ["B": "2", "A": "1"], sleepMillis: nil, text: "t"), index: 7, timeoutMillis: 500),
            Assignment(task: "g3.1", goal: "g3", attempt: 1, token: "2", kind: "model",
                       input: TaskInput(prompt: "hi \"there\"", system: "sys", chat: false, maxTokens: 12, temperature: 0.7,
                                        topK: 40, topP: 0.95, seed: 3, stop: ["\n"], json: true,
                                        jsonSchema: #"{"type":"object"}"#), index: 0, timeoutMillis: 9),
            Assignment(task: "g2.1", goal: "g2", attempt: 1, token: "1", kind: "noop", input: nil, index: 0, timeoutMillis: 1),
            Assignment(task: "g4.1", goal: "g4", attempt: 1, token: "9", kind: "wasm",
                       input: TaskInput(stdin: "in", module: String(repeating: "ab", count: 32), fuel: 1_000, memoryMiB: 8),
                       index: 2, timeoutMillis: 100),
            Assignment(task: "g5.1", goal: "g5", attempt: 1, token: "a", kind: "agent",
                       input: TaskInput(prompt: "time?", maxTokens: 32,
                                        agent: AgentSpec(tools: ["exec.date", "time.now"], maxSteps: 4, maxWallMillis: 9_000,
                                                         callTimeoutMillis: 500, pins: ["exec.date": "sha256:00"])),
                       index: 0, timeoutMillis: 10_000),
            Assignment(task: "g5.2", goal: "g5", attempt: 1, token: "b", kind: "agent",
                       input: TaskInput(prompt: "p", agent: AgentSpec(tools: ["exec.date"])), index: 1, timeoutMillis: 1),
        ]
        for a in assignments {
            #expect(try JSONDecoder().decode(Assignment.self, from: Data(a.fastJSON)) == a)
        }
        let r = TaskResult(task: "g1.1", attempt: 1, token: "t", drone: "d", outcome: .failed, exitCode: 2,
                           output: "é\u{0}x", error: "bad \"thing\"", wallMillis: 3)
        #expect(try JSONDecoder().decode(TaskResult.self, from: Data(try #require(r.fastJSON))) == r)
        var forking = r
        forking.fork = [TaskSpec(kind: "noop")]
        #expect(forking.fastJSON == nil)
    }
}

@Suite struct VoteJoinTests {
    func run(_ answers: [String?], slots: Int = 8) throws -> (Harness, GoalID) {
        let h = Harness()
        h.drone("d1", slots: slots)
        let g = try h.submit(.fork(exec(answers.count, maxAttempts: 1), join: .vote))
        let leased = h.schedule().sorted { $0.assignment.index < $1.assignment.index }
        for (a, answer) in zip(leased, answers) where h.state.goals[g]!.state == .running {
            if let answer { _ = h.finish(a.assignment, drone: a.drone, output: answer) }
            else { _ = h.finish(a.assignment, drone: a.drone, ok: false) }
        }
        return (h, g)
    }

    @Test func majorityOfNormalizedAnswersWinsAndBecomesTheOutput() throws {
        let (h, g) = try run(["42", " 42\n", "41", "42 "])
        #expect(h.goal(g).state == .succeeded)
        let root = h.state.tasks[h.goal(g).root]!
        #expect(root.result?.output == "42")
        #expect(root.reason == "vote: 3 of 4 for this answer")
        let ledger = GoalLedger(goal: h.goal(g), tasks: h.state.tasks(of: g), now: h.now)
        #expect(ledger.candidatesProposed == 4 && ledger.candidatesAccepted == 3 && ledger.retries == 0)
    }

    @Test func decidesEarlyWhenTheLeaderCannotBeCaughtAndCancelsTheRest() throws {
        // 5 voters: after three identical answers the other two cannot change the outcome.
        let (h, g) = try run(["Paris", "paris", "PARIS", "Lyon", "Nice"])
        #expect(h.goal(g).state == .succeeded)
        let kids = h.state.tasks[h.goal(g).root]!.children.compactMap { h.state.tasks[$0] }
        #expect(kids.filter { $0.state == .cancelled }.count == 2)
        #expect(h.state.tasks[h.goal(g).root]!.result?.output == "Paris", "counted normalized, answered as first written")
    }

    @Test func tiesBreakDeterministicallyAndFailuresDoNotVote() throws {
        let (h, g) = try run(["b", "a", nil, "b", "a"])
        #expect(h.goal(g).state == .succeeded)
        #expect(h.state.tasks[h.goal(g).root]!.result?.output == "a", "a 2–2 tie goes to the smaller answer")
        let (h3, g3) = try run(["", " \n", "x"])
        #expect(h3.state.tasks[h3.goal(g3).root]!.result?.output == "x", "empty answers do not vote")
        let (h2, g2) = try run([nil, nil])
        #expect(h2.goal(g2).state == .failed)
        #expect(h2.goal(g2).reason?.hasPrefix("vote: no child produced an answer") == true)
    }

    @Test func voteSurvivesReplay() throws {
        let (h, _) = try run(["x", "y", "x"])
        let replayed = ControlState()
        for e in h.events { replayed.apply(e) }
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        #expect(try encoder.encode(replayed.snapshot()) == encoder.encode(h.state.snapshot()))
    }
}

@Suite struct GoalLedgerTests {
    @Test func countsCallsTokensAndTimePerTierAndDrone() throws {
        let h = Harness()
        h.drone("edge1", tier: .edge, slots: 2)
        h.drone("core1", tier: .core, slots: 1)
        let g = try h.submit(.fork(exec(3)))
        for (a, d) in h.schedule() {
            let r = TaskResult(task: a.task, attempt: a.attempt, token: a.token, drone: d, outcome: .succeeded,
                               output: "x", wallMillis: 100,
                               usage: Usage(model: "m", promptTokens: 10, generatedTokens: d == "core1" ? 50 : 5,
                                            promptMillis: 1, generationMillis: 2))
            _ = h.state.receive(r, now: h.now + 40)
        }
        let goal = h.goal(g)
        let tasks = h.state.tasks(of: g)
        let ledger = GoalLedger(goal: goal, tasks: tasks, now: h.now + 40)
        #expect(ledger.total.calls == 3)
        #expect(ledger.byTier["edge"]?.calls == 2 && ledger.byTier["core"]?.calls == 1)
        #expect(ledger.total.promptTokens == 30 && ledger.total.generatedTokens == 60)
        #expect(abs(ledger.coreShare - 1.0 / 3) < 1e-9)
        #expect(ledger.wallMillis == 40)
        #expect(abs(ledger.parallelSpeedup - 300.0 / 40) < 1e-9, "three 100 ms tasks in 40 ms of wall time")
        #expect(ledger.byDrone["core1"]?.generatedTokens == 50)
    }
}

@Suite struct FailedAttemptTests {
    /// Each attempt that ends without success is kept with its drone and reason, the latest
    /// `AttemptNote.keptPerTask`, and a replay of the journal (or a snapshot) rebuilds the same notes.
    /// Drones that are never lost, so that a tick past a lease expires only the lease.
    static func patient() -> Harness {
        var c = ControlConfig()
        c.lostAfterMillis = Int.max / 2
        return Harness(config: c)
    }

    @Test func failedAttemptsAreKeptBoundedAndReplayed() throws {
        let h = Self.patient()
        h.drone("d1", slots: 1)
        let attempts = AttemptNote.keptPerTask + 3
        let g = try h.submit(.fork(exec(1, maxAttempts: attempts)))
        for i in 1...attempts {
            let batch = h.schedule()
            try #require(batch.count == 1)
            let (a, d) = (batch[0].assignment, batch[0].drone)
            #expect(a.attempt == i)
            if i == 1 {
                h.now += 1_000_000  // past the lease: the tick expires it
                h.tick()
            } else {
                _ = h.finish(a, drone: d, ok: false)
            }
        }
        let task = h.state.tasks(of: g).first { !$0.isStructural }!
        #expect(task.state == .dead)
        let notes = try #require(task.failedAttempts)
        #expect(notes.count == AttemptNote.keptPerTask)
        #expect(notes.map(\.attempt) == Array((attempts - AttemptNote.keptPerTask + 1)...attempts))
        #expect(notes.allSatisfy { $0.drone == "d1" && $0.reason == "exit code 1" })
        #expect(notes.last!.description == "attempt \(attempts) on d1: exit code 1")
        #expect(TaskView(task).failedAttempts == notes)

        let replayed = ControlState()
        for e in h.events { replayed.apply(e) }
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        #expect(try encoder.encode(replayed.snapshot()) == encoder.encode(h.state.snapshot()))
    }

    @Test func anExpiredLeaseNamesItsDrone() throws {
        let h = Self.patient()
        h.drone("d1", slots: 1)
        let g = try h.submit(.fork(exec(1, maxAttempts: 2)))
        _ = h.schedule()
        h.now += 1_000_000
        h.tick()
        let task = h.state.tasks(of: g).first { !$0.isStructural }!
        #expect(task.state == .pending)
        let note = try #require(task.failedAttempts?.first)
        #expect(note.attempt == 1 && note.drone == "d1" && note.reason.hasPrefix("lease expired after"))
    }

    @Test func aVoteForkShowsItsTally() throws {
        let h = Harness()
        h.drone("d1", slots: 4)
        let g = try h.submit(.fork(exec(4), join: .vote))
        for (n, (a, d)) in h.schedule().enumerated() { _ = h.finish(a, drone: d, output: n == 2 ? "no\n" : " Yes\n") }
        let views = try #require(h.state.voteViews(of: g))
        try #require(views.count == 1)
        let vote = views[0]
        #expect(vote.tally == [.init(answer: "Yes", votes: 3), .init(answer: "no", votes: 1)] || vote.tally == [.init(answer: "Yes", votes: 3)])
        #expect(vote.voters == 4 && vote.majority == 3 && vote.needed == 1 && vote.decided && vote.winner == "Yes")
        #expect(h.goal(g).state == .succeeded)
    }

    @Test func aVoteStepShowsItsRoundsTallyAndMinVotes() throws {
        let h = Harness()
        h.drone("d1", slots: 8, caps: modelCaps)
        var step = StepSpec(id: "solve", prompt: "compute {{goal}}", n: 4, join: .vote)
        step.minVotes = 2
        let g = try h.submit(plan: PlanSpec(goal: "17 * 23", steps: [step]))
        let batch = h.schedule()
        _ = h.finish(batch[0].assignment, drone: "d1", output: " 391\n")
        _ = h.finish(batch[1].assignment, drone: "d1", output: "400")
        var views = try #require(h.state.voteViews(of: g))
        #expect(views.count == 1 && views[0].step == "solve" && !views[0].decided && views[0].open == 2)
        #expect(views[0].needed == 2 && views[0].voters == 4 && views[0].majority == 3)
        #expect(views[0].tally == [.init(answer: "391", votes: 1), .init(answer: "400", votes: 1)])
        for (a, d) in batch.dropFirst(2) { _ = h.finish(a, drone: d, output: "391") }
        views = try #require(h.state.voteViews(of: g))
        #expect(views[0].decided && views[0].winner == "391" && views[0].tally.first == .init(answer: "391", votes: 3))
        #expect(views[0].description == "vote step solve: \"391\" 3, \"400\" 1 of 4 voters (needs 2, majority 3); won by \"391\"")
    }
}
