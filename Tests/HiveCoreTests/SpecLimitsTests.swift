import Foundation
import HiveCore
import Testing

/// Submission bounds (`SpecLimits`, `SpecCheck`): every number and string of a goal is checked before anything
/// uses it, refused with the field's path and the limit; deep and wide trees are refused without recursion.
@Suite struct SpecLimitsTests {
    /// The refusal of `spec`, or nil when accepted.
    func refusal(_ spec: GoalSpec) -> String? {
        do { _ = try ControlState().submit(spec, now: 1) } catch { return error.description }
        return nil
    }

    /// A fork of four noop tasks whose fourth is `task`.
    func tree(_ task: TaskSpec) -> GoalSpec {
        GoalSpec(root: .fork([TaskSpec(kind: "noop"), TaskSpec(kind: "noop"), TaskSpec(kind: "noop"), task]))
    }

    func input(_ change: (inout TaskInput) -> Void) -> GoalSpec {
        var i = TaskInput()
        change(&i)
        return tree(TaskSpec(kind: "model", input: i))
    }

    @Test func everyInputNumberOutOfRangeIsRefusedWithItsPathAndRange() {
        let cases: [(String, (inout TaskInput) -> Void)] = [
            ("root.children[3].input.top_k must be 0 to 100000 (got 3000000000)", { $0.topK = 3_000_000_000 }),
            ("root.children[3].input.top_k must be 0 to 100000 (got -1)", { $0.topK = -1 }),
            ("root.children[3].input.memory_mb must be 1 to 4096 (got 1152921504606846976)", { $0.memoryMiB = 1_152_921_504_606_846_976 }),
            ("root.children[3].input.memory_mb must be 1 to 4096 (got 0)", { $0.memoryMiB = 0 }),
            ("root.children[3].input.fuel must be 1 to \(1 << 50)", { $0.fuel = Int.max }),
            ("root.children[3].input.fuel must be 1 to \(1 << 50)", { $0.fuel = 0 }),
            ("root.children[3].input.max_tokens must be 1 to \(TaskSpec.maxTokensLimit)", { $0.maxTokens = Int.min }),
            ("root.children[3].input.seed must be 0 to 4294967295", { $0.seed = 1 << 32 }),
            ("root.children[3].input.seed must be 0 to 4294967295", { $0.seed = -1 }),
            ("root.children[3].input.sleep_ms must be 0 to \(TaskSpec.maxTimeoutMillis)", { $0.sleepMillis = -5 }),
            ("root.children[3].input.temperature must be 0 to 100", { $0.temperature = 1e300 }),
            ("root.children[3].input.temperature must be 0 to 100", { $0.temperature = -0.5 }),
            ("root.children[3].input.top_p must be 0 to 1", { $0.topP = 1.5 }),
            ("root.children[3].input.top_p must be 0 to 1", { $0.topP = .nan }),
        ]
        for (expected, change) in cases {
            let why = refusal(input(change))
            #expect(why?.contains(expected) == true, "\(expected): got \(why ?? "accepted")")
        }
        // The edges themselves are accepted.
        #expect(refusal(input { $0.topK = 100_000; $0.memoryMiB = 4_096; $0.seed = Int(UInt32.max); $0.topP = 1; $0.temperature = 0 }) == nil)
    }

    @Test func taskAndGoalNumbersOutOfRangeAreRefused() {
        #expect(refusal(tree(TaskSpec(kind: "noop", maxAttempts: 0)))?.contains("root.children[3].max_attempts must be 1 to 1000") == true)
        #expect(refusal(tree(TaskSpec(kind: "noop", timeoutMillis: Int.max)))?.contains("root.children[3].timeout_ms must be 1 to") == true)
        #expect(refusal(GoalSpec(root: .fork([TaskSpec(kind: "noop")], join: .quorum(Int.max))))?
            .contains("root.join quorum K must be 1 to 1000000") == true)
        #expect(refusal(GoalSpec(priority: Int.max, root: TaskSpec(kind: "noop")))?.contains("priority must be -1000000 to 1000000") == true)
        let budgets: [(String, Budget)] = [
            ("budget.max_tasks must be 1 to 1000000", Budget(maxTasks: Int.max)),
            ("budget.max_depth must be 1 to 64", Budget(maxDepth: 1_000_000)),
            ("budget.max_attempts must be 1 to 1000", Budget(maxAttempts: -1)),
            ("budget.deadline_ms must be 1 to", Budget(deadlineMillis: Int.max)),
            ("budget.max_tokens must be 1 to \(1 << 40)", Budget(maxTokens: Int.max)),
            ("budget.max_core_calls must be 0 to 1000000000", Budget(maxCoreCalls: -3)),
            ("budget.max_tokens_by_tier.core must be 0 to \(1 << 40)", Budget(maxTokensByTier: ["core": Int.max])),
            ("budget.max_cost must be 0 to 1000000000000", Budget(maxCost: .infinity)),
        ]
        for (expected, budget) in budgets {
            let why = refusal(GoalSpec(budget: budget, root: TaskSpec(kind: "noop")))
            #expect(why?.contains(expected) == true, "\(expected): got \(why ?? "accepted")")
        }
    }

    @Test func planNumbersOutOfRangeAreRefusedWithTheStepPath() {
        func plan(_ change: (inout StepSpec) -> Void) -> GoalSpec {
            var s = StepSpec(id: "a")
            change(&s)
            return GoalSpec(plan: PlanSpec(goal: "g", steps: [StepSpec(id: "first"), s], prompts: testFrames))
        }
        let cases: [(String, (inout StepSpec) -> Void)] = [
            ("steps[1].n must be 1 to 64", { $0.n = 1 << 40 }),
            ("steps[1].critics must be 0 to 8", { $0.critics = 9 }),
            ("steps[1].max_reforks must be 0 to 10", { $0.maxReforks = -1 }),
            ("steps[1].min_score must be 0 to 10", { $0.minScore = 11 }),
            ("steps[1].max_tokens must be 1 to", { $0.maxTokens = 0 }),
            ("steps[1].timeout_ms must be 1 to", { $0.timeoutMillis = Int.min }),
            ("steps[1].temperature must be 0 to 100", { $0.temperature = 101 }),
            ("steps[1].min_votes must be 1 to 3", { $0.n = 3; $0.join = .vote; $0.minVotes = 4 }),
            ("steps[1].escalate.n must be 1 to 64", { $0.escalate = .init(tier: TierRequirement(.core), n: 65) }),
            ("steps[1].join synthesize K must be 1 to 64", { $0.join = .synthesize(1_000) }),
            ("steps[1].exec.fuel must be 1 to", { $0.exec = TaskInput(command: "/bin/sh", fuel: -1) }),
            ("steps[1].verify.memory_mb must be 1 to 4096", { $0.verify = TaskInput(command: "/bin/sh", memoryMiB: 1 << 60) }),
        ]
        for (expected, change) in cases {
            let why = refusal(plan(change))
            #expect(why?.contains(expected) == true, "\(expected): got \(why ?? "accepted")")
        }
        var a = ArchitectSpec()
        a.maxSubtasks = 17
        #expect(refusal(GoalSpec(plan: PlanSpec(goal: "g", architect: a, prompts: testFrames)))?
            .contains("architect.max_subtasks must be 1 to 16") == true)
    }

    @Test func longStringsAndListsAreRefusedWithTheFieldAndTheLimit() {
        let big = String(repeating: "x", count: 2_000)
        #expect(refusal(GoalSpec(name: big, root: TaskSpec(kind: "noop")))?.contains("name is 2000 bytes; the limit is 1024") == true)
        #expect(refusal(tree(TaskSpec(name: big, kind: "noop")))?.contains("root.children[3].name is 2000 bytes; the limit is 1024") == true)
        let cases: [(String, (inout TaskInput) -> Void)] = [
            ("root.children[3].input.prompt is 262145 bytes; the limit is 262144", { $0.prompt = String(repeating: "p", count: 262_145) }),
            ("root.children[3].input.system is 65537 bytes", { $0.system = String(repeating: "s", count: 65_537) }),
            ("root.children[3].input.stdin is 1048577 bytes; the limit is 1048576", { $0.stdin = String(repeating: "i", count: 1_048_577) }),
            ("root.children[3].input.args has 1025 entries; the limit is 1024", { $0.args = Array(repeating: "a", count: 1_025) }),
            ("root.children[3].input.args[1] is 65537 bytes", { $0.args = ["a", String(repeating: "a", count: 65_537)] }),
            ("root.children[3].input.stop has 17 entries; the limit is 16", { $0.stop = Array(repeating: "END", count: 17) }),
            ("root.children[3].input.stop[0] is 257 bytes; the limit is 256", { $0.stop = [String(repeating: "e", count: 257)] }),
            ("root.children[3].input.env.K is 65537 bytes", { $0.env = ["K": String(repeating: "v", count: 65_537)] }),
            ("root.children[3].input.command is 4097 bytes", { $0.command = "/" + String(repeating: "c", count: 4_096) }),
        ]
        for (expected, change) in cases {
            let why = refusal(input(change))
            #expect(why?.contains(expected) == true, "\(expected): got \(why ?? "accepted")")
        }
        #expect(refusal(GoalSpec(plan: PlanSpec(goal: String(repeating: "g", count: 70_000), prompts: testFrames)))?
            .contains("goal is 70000 bytes; the limit is 65536") == true)
    }

    @Test func aTreeDeeperThanTheBudgetIsRefusedWithoutRecursion() {
        var t = TaskSpec(kind: "noop")
        for _ in 0..<2_000 { t = .fork([t]) }
        #expect(refusal(GoalSpec(root: t)) == "the goal's task tree is 2001 deep; its budget allows 16 (budget.max_depth)")
        #expect(t.size.nodes == 2_001 && t.size.depth == 2_001)
    }

    @Test func aHugeFanOutIsRefusedByMaxTasks() {
        let wide = GoalSpec(budget: Budget(maxTasks: 100_000), root: .fork(Array(repeating: TaskSpec(kind: "noop"), count: 100_000)))
        #expect(refusal(wide) == "the goal has 100001 tasks; its budget allows 100000 (budget.max_tasks)")
    }

    @Test func nestingIsMeasuredOnTheRawBytesWithStringsSkipped() {
        let deep = Array(repeating: UInt8(ascii: "["), count: 100_000)
        #expect(JSONNesting.exceeds(deep, limit: SpecLimits.jsonNesting))
        let quoted = Array(#"{"name": "[[[[[[[[[[[[[[[[\"[[[[[[[[[[[[", "root": {"kind": "noop"}}"#.utf8)
        #expect(!JSONNesting.exceeds(quoted, limit: 2))
        #expect(JSONNesting.exceeds(quoted, limit: 1))
    }

    /// Docs/plan.schema.json states the same ranges honeycombd enforces.
    @Test func theSchemaStatesTheRangesHoneycombdEnforces() throws {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../Docs/plan.schema.json")
        let schema = try #require(JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
        let defs = try #require(schema["$defs"] as? [String: Any])
        func property(_ def: String, _ name: String) -> [String: Any]? {
            ((defs[def] as? [String: Any])?["properties"] as? [String: Any])?[name] as? [String: Any]
        }
        func bounds(_ def: String, _ name: String) -> (Double?, Double?) {
            guard var p = property(def, name) else { return (nil, nil) }
            if let ref = p["$ref"] as? String, let d = defs[String(ref.split(separator: "/").last!)] as? [String: Any] { p = d }
            return ((p["minimum"] as? NSNumber)?.doubleValue, (p["maximum"] as? NSNumber)?.doubleValue)
        }
        let ints: [(String, String, ClosedRange<Int>)] = [
            ("input", "top_k", SpecLimits.topK), ("input", "seed", SpecLimits.seed), ("input", "fuel", SpecLimits.fuel),
            ("input", "memory_mb", SpecLimits.memoryMiB), ("input", "sleep_ms", SpecLimits.sleepMillis),
            ("input", "size", SpecLimits.blobSize),
            ("input", "max_tokens", SpecLimits.maxTokens), ("task", "max_attempts", SpecLimits.maxAttempts),
            ("task", "timeout_ms", SpecLimits.timeoutMillis), ("budget", "max_tasks", SpecLimits.budgetMaxTasks),
            ("budget", "max_depth", SpecLimits.budgetMaxDepth), ("budget", "max_attempts", SpecLimits.maxAttempts),
            ("budget", "deadline_ms", SpecLimits.deadlineMillis), ("budget", "max_tokens", SpecLimits.budgetMaxTokens),
            ("budget", "max_core_calls", SpecLimits.maxCoreCalls), ("budget", "approval_timeout_ms", SpecLimits.approvalTimeoutMillis), ("tree", "priority", SpecLimits.priority),
            ("plan", "priority", SpecLimits.priority), ("step", "n", SpecLimits.candidates), ("step", "critics", SpecLimits.critics),
            ("step", "max_reforks", SpecLimits.reforks), ("step", "max_tokens", SpecLimits.maxTokens),
            ("step", "timeout_ms", SpecLimits.timeoutMillis), ("template", "n", SpecLimits.candidates),
        ]
        for (def, name, range) in ints {
            let (lo, hi) = bounds(def, name)
            #expect(lo == Double(range.lowerBound) && hi == Double(range.upperBound), "\(def).\(name): schema \(String(describing: lo))…\(String(describing: hi)), enforced \(range)")
        }
        let numbers: [(String, String, ClosedRange<Double>)] = [
            ("input", "temperature", SpecLimits.temperature), ("input", "top_p", SpecLimits.topP),
            ("step", "temperature", SpecLimits.temperature), ("step", "min_score", SpecLimits.minScore),
            ("budget", "max_cost", SpecLimits.maxCost),
        ]
        for (def, name, range) in numbers {
            let (lo, hi) = bounds(def, name)
            #expect(lo == range.lowerBound && hi == range.upperBound, "\(def).\(name): schema \(String(describing: lo))…\(String(describing: hi)), enforced \(range)")
        }
        let lengths: [(String, String, Int)] = [
            ("input", "prompt", SpecLimits.promptBytes), ("input", "system", SpecLimits.systemBytes),
            ("input", "stdin", SpecLimits.stdinBytes), ("input", "command", SpecLimits.commandBytes),
            ("task", "name", SpecLimits.nameBytes), ("tree", "name", SpecLimits.nameBytes), ("plan", "goal", SpecLimits.goalTextBytes),
        ]
        for (def, name, bytes) in lengths {
            // JSON Schema counts characters, honeycombd bytes: the schema states the byte limit as maxLength (an upper bound).
            #expect((property(def, name)?["maxLength"] as? NSNumber)?.intValue == bytes, "\(def).\(name) maxLength")
        }
    }
}
