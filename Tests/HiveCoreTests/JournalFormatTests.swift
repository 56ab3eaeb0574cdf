import FoundationEssentials
import HiveCore
import Testing

/// The journal's on-disk format is a contract: events and snapshots written by an earlier honeycombd must replay.
/// The lines below were written by the code before `ControlState` was split by facet (and its budget counters
/// became one `GoalBudgetLedger`); decoding them and encoding again must give the same bytes.
@Suite struct JournalFormatTests {
    /// A scenario that touches every budget counter and a plan: per-tier tokens, cost, core calls, a settled call,
    /// an expired one (charged its worst case), and a plan goal's steps.
    static func scenario() throws -> Harness {
        var config = ControlConfig()
        config.prices = ["big": ModelPrice(promptPerMTok: 10, generatedPerMTok: 30)]
        let h = Harness(config: config)
        h.drone("core", tier: .core, slots: 4, caps: ["backend:model", "model:big"])
        h.drone("edge", tier: .edge, slots: 4, caps: ["backend:model", "model:small"])
        let call = TaskSpec(kind: "model", tier: TierRequirement(.edge, orHigher: true), input: TaskInput(prompt: "p", maxTokens: 10))
        let core = TaskSpec(kind: "model", tier: TierRequirement(.core), input: TaskInput(prompt: "q", maxTokens: 10))
        _ = try h.submit(.fork([call, core, core]), budget: Budget(maxTokens: 10_000, maxCoreCalls: 5,
                                                                      maxTokensByTier: ["core": 1_000], maxCost: 1))
        let leased = h.schedule()
        let r = TaskResult(task: leased[0].assignment.task, attempt: leased[0].assignment.attempt, token: leased[0].assignment.token,
                           drone: leased[0].drone, outcome: .succeeded, output: "x",
                           usage: Usage(model: "m", promptTokens: 5, generatedTokens: 7, promptMillis: 1, generationMillis: 2))
        if case .success(let fx) = h.state.receive(r, now: h.now) { h.effects.append(fx) }
        h.now += 100_000  // the other leases expire: charged their worst case
        h.tick()
        var plan = PlanSpec(goal: "two plus two")
        plan.steps = [StepSpec(id: "a", prompt: "{{goal}}", n: 2, join: .vote, maxTokens: 8)]
        plan.prompts = testFrames
        let (_, fx) = try h.state.submit(GoalSpec(budget: Budget(maxTokens: 500), plan: plan), now: h.now)
        h.effects.append(fx)
        h.schedule()
        return h
    }

    static func encoder() -> JSONEncoder {
        let e = JSONEncoder()
        e.outputFormatting = .sortedKeys
        return e
    }

    static func lines(of h: Harness) throws -> (events: [String], snapshot: String) {
        (try h.events.map { String(decoding: try encoder().encode($0), as: UTF8.self) },
         String(decoding: try encoder().encode(h.state.snapshot()), as: UTF8.self))
    }

    @Test func theScenarioWritesTheSameLinesAsBefore() throws {
        let written = try Self.lines(of: try Self.scenario())
        #expect(written.events == Self.events.split(separator: "\n").map(String.init))
        #expect(written.snapshot == Self.replayedSnapshot)
    }

    @Test func oldLinesDecodeAndEncodeToTheSameBytes() throws {
        let decoder = JSONDecoder()
        for line in Self.events.split(separator: "\n") {
            let event = try decoder.decode(JournalEvent.self, from: Data(line.utf8))
            #expect(String(decoding: try Self.encoder().encode(event), as: UTF8.self) == String(line))
        }
        let snapshot = try decoder.decode(ControlState.Snapshot.self, from: Data(Self.snapshot.utf8))
        let restored = ControlState()
        restored.restore(snapshot)
        #expect(String(decoding: try Self.encoder().encode(restored.snapshot()), as: UTF8.self) == Self.snapshot)
    }

    @Test func oldEventsReplayToTheOldSnapshot() throws {
        let replayed = ControlState()
        for line in Self.events.split(separator: "\n") { replayed.apply(try JSONDecoder().decode(JournalEvent.self, from: Data(line.utf8))) }
        #expect(String(decoding: try Self.encoder().encode(replayed.snapshot()), as: UTF8.self) == Self.replayedSnapshot)
    }

    /// Written by the code before the split (sorted keys, one event a line).
    static let events = #"""
{"goalSubmitted":{"at":1000,"goal":"g1","spec":{"budget":{"max_attempts":3,"max_core_calls":5,"max_cost":1,"max_depth":16,"max_tasks":100000,"max_tokens":10000,"max_tokens_by_tier":{"core":1000}},"priority":0,"root":{"children":[{"input":{"max_tokens":10,"prompt":"p"},"kind":"model","tier":"edge+"},{"input":{"max_tokens":10,"prompt":"q"},"kind":"model","tier":"core"},{"input":{"max_tokens":10,"prompt":"q"},"kind":"model","tier":"core"}],"join":"all","kind":"fork"}}}}
{"taskLeased":{"at":1000,"attempt":1,"deadline":63000,"drone":"edge","task":"g1.1","tier":"edge","token":"tok1"}}
{"taskLeased":{"at":1000,"attempt":1,"cost":0.00225,"deadline":63000,"drone":"core","task":"g1.2","tier":"core","token":"tok2"}}
{"taskLeased":{"at":1000,"attempt":1,"cost":0.00225,"deadline":63000,"drone":"core","task":"g1.3","tier":"core","token":"tok3"}}
{"taskFinished":{"at":1000,"attempt":1,"output":{"drone":"edge","output":"x","tier":"edge","usage":{"generated_tokens":7,"generation_ms":2,"model":"m","prompt_ms":1,"prompt_tokens":5}},"succeeded":true,"task":"g1.1"}}
{"taskExpired":{"at":101000,"attempt":1,"countsAttempt":true,"reason":"drone core lost (no heartbeat)","task":"g1.2"}}
{"taskExpired":{"at":101000,"attempt":1,"countsAttempt":true,"reason":"drone core lost (no heartbeat)","task":"g1.3"}}
{"goalSubmitted":{"at":101000,"goal":"g2","spec":{"budget":{"max_attempts":3,"max_depth":16,"max_tasks":100000,"max_tokens":500},"plan":{"goal":"two plus two","prompts":{"critique":"JUDGE {{task}} CANDIDATE {{candidate}}","decompose":"PLAN {{goal}}\n{{feedback}}","explore":"TASK {{task}}\n{{inputs}}{{feedback}}","integrate":"MERGE {{task}}\n{{inputs}}{{candidates}}"},"steps":[{"id":"a","join":"vote","max_tokens":8,"n":2,"prompt":"{{goal}}"}]},"priority":0}}}
"""#

    /// What replaying those events gives today: the old snapshot plus one additive field, the failed-attempt notes
    /// (`TaskRecord.failedAttempts`) that the old `taskExpired` events carry the reasons for. An old snapshot
    /// without the field still restores to its own bytes (`oldLinesDecodeAndEncodeToTheSameBytes`).
    static var replayedSnapshot: String {
        var s = snapshot
        for task in ["g1.2", "g1.3"] {
            s = s.replacing(#""depth":2,"goal":"g1","id":"\#(task)""#, with:
                #""depth":2,"failedAttempts":[{"at":101000,"attempt":1,"drone":"core","reason":"drone core lost (no heartbeat)"}],"goal":"g1","id":"\#(task)""#)
        }
        return s
    }

    /// The snapshot the same code took after those events.
    static let snapshot = #"""
{"goals":[{"budget":{"max_attempts":3,"max_core_calls":5,"max_cost":1,"max_depth":16,"max_tasks":100000,"max_tokens":10000,"max_tokens_by_tier":{"core":1000}},"coreCalls":2,"coreReserved":0,"costReserved":0,"costSpent":0.0045,"createdAt":1000,"id":"g1","priority":0,"root":"g1.0","state":"running","taskCount":4,"tierTokensReserved":{"core":0,"edge":0},"tierTokensSpent":{"core":150,"edge":12},"tokensReserved":0,"tokensSpent":162},{"budget":{"max_attempts":3,"max_depth":16,"max_tasks":100000,"max_tokens":500},"coreCalls":0,"coreReserved":0,"costReserved":0,"costSpent":0,"createdAt":101000,"id":"g2","plan":{"goal":"two plus two","output":"a","prompts":{"critique":"JUDGE {{task}} CANDIDATE {{candidate}}","decompose":"PLAN {{goal}}\n{{feedback}}","explore":"TASK {{task}}\n{{inputs}}{{feedback}}","integrate":"MERGE {{task}}\n{{inputs}}{{candidates}}"},"steps":[{"candidates":[{"accepted":false,"round":0,"task":"g2.2"},{"accepted":false,"round":0,"task":"g2.3"}],"critiques":[],"feedback":[],"node":"g2.1","round":0,"shortlist":[],"spec":{"id":"a","join":"vote","max_tokens":8,"n":2,"prompt":"{{goal}}"},"state":"exploring"}]},"priority":0,"root":"g2.0","state":"running","taskCount":4,"tierTokensReserved":{},"tierTokensSpent":{},"tokensReserved":0,"tokensSpent":0}],"nextGoal":3,"nextSeq":7,"tasks":[{"attempts":0,"children":["g1.1","g1.2","g1.3"],"childrenFinal":1,"childrenSucceeded":1,"createdAt":1000,"depth":1,"goal":"g1","id":"g1.0","index":0,"join":"all","kind":"fork","maxAttempts":3,"requires":[],"seq":0,"state":"waiting","timeoutMillis":60000,"tried":[]},{"attempts":1,"children":[],"childrenFinal":0,"childrenSucceeded":0,"createdAt":1000,"depth":2,"finishedAt":1000,"goal":"g1","id":"g1.1","index":0,"input":{"max_tokens":10,"prompt":"p"},"kind":"model","maxAttempts":3,"parent":"g1.0","requires":[],"result":{"drone":"edge","output":"x","tier":"edge","usage":{"generated_tokens":7,"generation_ms":2,"model":"m","prompt_ms":1,"prompt_tokens":5}},"seq":0,"state":"succeeded","tier":"edge+","timeoutMillis":60000,"tried":["edge"]},{"attempts":1,"children":[],"childrenFinal":0,"childrenSucceeded":0,"createdAt":1000,"depth":2,"goal":"g1","id":"g1.2","index":1,"input":{"max_tokens":10,"prompt":"q"},"kind":"model","maxAttempts":3,"parent":"g1.0","requires":[],"seq":3,"state":"pending","tier":"core","timeoutMillis":60000,"tried":["core"]},{"attempts":1,"children":[],"childrenFinal":0,"childrenSucceeded":0,"createdAt":1000,"depth":2,"goal":"g1","id":"g1.3","index":2,"input":{"max_tokens":10,"prompt":"q"},"kind":"model","maxAttempts":3,"parent":"g1.0","requires":[],"seq":4,"state":"pending","tier":"core","timeoutMillis":60000,"tried":["core"]},{"attempts":0,"children":["g2.1"],"childrenFinal":0,"childrenSucceeded":0,"createdAt":101000,"depth":1,"goal":"g2","id":"g2.0","index":0,"kind":"plan","maxAttempts":3,"name":"plan","requires":[],"seq":0,"state":"waiting","timeoutMillis":60000,"tried":[]},{"attempts":0,"children":["g2.2","g2.3"],"childrenFinal":0,"childrenSucceeded":0,"createdAt":101000,"depth":2,"goal":"g2","id":"g2.1","index":0,"kind":"step","maxAttempts":3,"name":"a","parent":"g2.0","requires":[],"role":"explore","seq":0,"state":"waiting","timeoutMillis":60000,"tried":[]},{"attempts":0,"children":[],"childrenFinal":0,"childrenSucceeded":0,"createdAt":101000,"depth":3,"goal":"g2","id":"g2.2","index":0,"input":{"max_tokens":8,"prompt":"TASK two plus two\n","seed":1},"kind":"model","maxAttempts":3,"name":"a.explore","parent":"g2.1","requires":[],"role":"explore","round":0,"seq":5,"state":"pending","tier":"worker-","timeoutMillis":60000,"tried":[]},{"attempts":0,"children":[],"childrenFinal":0,"childrenSucceeded":0,"createdAt":101000,"depth":3,"goal":"g2","id":"g2.3","index":1,"input":{"max_tokens":8,"prompt":"TASK two plus two\n","seed":2},"kind":"model","maxAttempts":3,"name":"a.explore","parent":"g2.1","requires":[],"role":"explore","round":0,"seq":6,"state":"pending","tier":"worker-","timeoutMillis":60000,"tried":[]}]}
"""#
}
