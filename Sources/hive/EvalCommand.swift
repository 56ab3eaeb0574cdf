import Foundation
import HiveCommandLine
import HiveCore
import NATSClient

/// One task's outcome in `hive eval`.
struct EvalResult: Codable {
    var task: String
    var goal: GoalID
    var correct: Bool
    var expected: String?
    var answer: String?
    var state: GoalState
    var calls: Int
    var coreCalls: Int
    var reforks: Int
    /// Verify checks run (exec drones), counted in `calls`.
    var checks: Int

    enum CodingKeys: String, CodingKey {
        case task, goal, correct, expected, answer, state, calls, reforks, checks
        case coreCalls = "core_calls"
    }
}

/// What `hive eval` measured: accuracy, what it cost in calls (the core tier's above all), and how long.
struct EvalReport: Codable {
    var suite: EvalSuite
    var count: Int
    var seed: UInt64
    var n: Int
    var join: String
    /// The candidates' sampling temperature (nil: the drone's default); whether a verify check picked them.
    var temperature: Double?
    var verified: Bool
    var solved: Int
    var accuracy: Double
    var calls: Int
    /// Verify checks among `calls` (the rest are candidate calls).
    var checks: Int
    var coreCalls: Int
    /// Core-tier calls per solved task: the number a hive exists to keep low.
    var corePerSolved: Double?
    var tokens: Int
    var generatedTokens: Int
    /// First submission to last finish, on honeycombd's clock.
    var wallMillis: Int64
    /// Sum of the drones' task times.
    var taskMillis: Int
    var results: [EvalResult]

    enum CodingKeys: String, CodingKey {
        case suite, count, seed, n, join, temperature, verified, solved, accuracy, calls, checks, tokens, results
        case coreCalls = "core_calls", corePerSolved = "core_per_solved", wallMillis = "wall_ms", taskMillis = "task_ms"
        case generatedTokens = "generated_tokens"
    }
}

/// `hive eval`: seeded tasks whose truth the program knows, each submitted as a one-step plan, then scored.
///
/// `--explorer CMD` / `--critic CMD` run candidates and critics as programs instead of model calls; they are
/// handed the truth in `HIVE_EVAL_ANSWER` / `HIVE_EVAL_FAMILY`, which is what makes them test doubles (an
/// oracle that errs on purpose, e.g. `Tests/bench/oracle_model.sh`). Model drones see only the prompt.
///
/// `facts` and `sums` send their few-shot prompts as written (`EvalTask.rawFrames`), ending at the line's end;
/// `--temperature` sets the candidates' sampling (0: greedy), and `--no-verify` drops the sums check so the
/// candidates are joined by vote alone.
func evalCommand(_ p: ParsedArguments) async {
    let cli = ControlCLI(p)
    let suite = p.orExit { try $0.choice("--suite", as: EvalSuite.self) } ?? .arithmetic
    let count = p.int("--count") ?? 20
    let seed = p.orExit { try $0.integer("--seed", as: UInt64.self) } ?? 1
    var step = StepSpec(id: "answer")
    step.n = p.int("--n")
    step.join = p.join("--join")
    step.critics = p.int("--critics")
    step.minVotes = p.int("--min-votes")
    if let t = p.tier("--escalate") { step.escalate = StepSpec.Escalation(tier: t, n: 1) }
    step.tier = p.tier("--tier")
    step.criticTier = p.tier("--critic-tier")
    step.maxTokens = p.int("--max-tokens")
    step.maxReforks = p.int("--max-reforks")
    let explorer = (p.string("--explorer") ?? "").split(separator: " ").map(String.init)
    let critic = (p.string("--critic") ?? "").split(separator: " ").map(String.init)
    let serial = p.flag("--serial")
    let verifyTier = p.tier("--verify-tier")
    let verify = !p.flag("--no-verify")
    step.temperature = p.orExit { try $0.number("--temperature", in: 0...2) }
    guard count >= 1 else { p.refuse("--count must be at least 1") }
    if step.maxTokens == nil { step.maxTokens = suite == .code ? 256 : suite.isCompletion ? 12 : 32 }
    if step.maxReforks == nil { step.maxReforks = step.escalate == nil ? 0 : 1 }
    let checked = verify && (suite == .code || suite == .sums)
    // A check picks the first candidate that passes; without one, agreement is the best evidence.
    if step.join == nil { step.join = checked ? .any : (step.candidates > 1 ? .vote : .any) }
    let tasks = suite.tasks(count: count, seed: seed)
    let nc = await cli.connect(reconnect: true)
    defer { nc.close() }

    /// Task `i`'s candidates sample with seeds of their own (1 + 100000·i + k), so n samples over the suite are
    /// independent draws, not one seed's draws repeated per task.
    func plan(_ t: EvalTask, _ i: Int) -> GoalSpec {
        var s = step
        s.prompt = t.prompt
        s.seed = (1 + i * 100_000) % 4_000_000_000  // within SpecLimits.seed for any --count
        var env = ["HIVE_EVAL_TASK": t.id]
        env["HIVE_EVAL_ANSWER"] = t.answer
        env["HIVE_EVAL_FAMILY"] = t.family
        if !explorer.isEmpty {
            s.exec = TaskInput(command: resolveCommand(explorer[0]), args: Array(explorer.dropFirst()), env: env)
        }
        if !critic.isEmpty {
            s.criticExec = TaskInput(command: resolveCommand(critic[0]), args: Array(critic.dropFirst()), env: env)
        }
        if checked, let script = t.verifyScript {
            s.verify = TaskInput(command: "/bin/sh", args: ["-c", script])
            s.verifyTier = verifyTier
        }
        // A few-shot prompt's goal is its last question (the frames use the prompt alone).
        let goal = suite.isCompletion ? t.prompt.split(separator: "\n").last { $0 != "A:" }.map(String.init) ?? t.id : t.prompt
        return GoalSpec(name: "eval \(t.id)", plan: PlanSpec(goal: goal, steps: [s], prompts: suite.isCompletion ? EvalTask.rawFrames : nil))
    }

    var goals: [(EvalTask, GoalID)] = []
    var results: [GoalResult] = []
    for (i, t) in tasks.enumerated() {
        do {
            let ref = try await cli.call(nc, APISubject.submit, plan(t, i), as: GoalRef.self)
            goals.append((t, ref.goal))
            if serial { results.append(await waitForGoal(ref.goal, cli: cli, nc: nc)) }
        } catch {
            fail("\(t.id) refused: \(ErrorSentence.of(error, urls: cli.urls))", code: 65)
        }
    }
    if !serial {
        for (_, g) in goals { results.append(await waitForGoal(g, cli: cli, nc: nc)) }
    }
    var report = EvalReport(suite: suite, count: count, seed: seed, n: step.candidates, join: step.joinOrDefault.description,
                            temperature: step.temperature, verified: checked, solved: 0, accuracy: 0, calls: 0, checks: 0,
                            coreCalls: 0, tokens: 0, generatedTokens: 0, wallMillis: 0, taskMillis: 0, results: [])
    for ((t, g), r) in zip(goals, results) {
        let ok = r.goal.state == .succeeded && t.isCorrect(r.answer)
        let l = r.ledger ?? GoalLedger()
        let checks = r.tasks.lazy.filter { $0.role == .verify && $0.exitCode != nil }.count
        report.results.append(EvalResult(task: t.id, goal: g, correct: ok, expected: t.answer ?? t.family, answer: r.answer,
                                         state: r.goal.state, calls: l.total.calls, coreCalls: r.goal.coreCalls ?? 0,
                                         reforks: l.reforks, checks: checks))
        report.checks += checks
        report.generatedTokens += l.total.generatedTokens
        report.solved += ok ? 1 : 0
        report.calls += l.total.calls
        report.coreCalls += r.goal.coreCalls ?? 0  // every core lease, cancelled speculation and retries included
        report.tokens += l.total.promptTokens + l.total.generatedTokens
        report.taskMillis += l.total.taskMillis
    }
    let start = results.map(\.goal.createdAt).min() ?? 0
    let end = results.compactMap(\.goal.finishedAt).max() ?? start
    report.wallMillis = end - start
    report.accuracy = Double(report.solved) / Double(count)
    report.corePerSolved = report.solved > 0 ? Double(report.coreCalls) / Double(report.solved) : nil
    if cli.json { return cli.printJSON(report) }
    for r in report.results {
        let answer = (r.answer ?? "-").split(separator: "\n").first.map(String.init) ?? ""
        print("\(r.correct ? "ok  " : "FAIL") \(r.task) \(r.goal) \(r.state.rawValue) answer=\(answer.prefix(40)) expected=\(r.expected ?? "-") calls=\(r.calls) core=\(r.coreCalls)")
    }
    let sampling = (step.temperature.map { String(format: ", temperature %g", $0) } ?? "") + (checked ? ", verified" : "")
    print(String(format: "%@ x%d (seed %llu, n %d, %@%@): %d/%d solved (%.1f%%), %d calls (%d checks), %d core (%@ per solved), %d tokens, %lld ms wall, %d ms of task time",
                 suite.rawValue, count, seed, report.n, report.join, sampling, report.solved, count, report.accuracy * 100, report.calls,
                 report.checks, report.coreCalls, report.corePerSolved.map { String(format: "%.2f", $0) } ?? "-", report.tokens,
                 report.wallMillis, report.taskMillis))
}
