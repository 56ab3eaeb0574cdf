/// Plan goals: steps that fork candidates, check and judge them, join them, and re-fork with feedback.
///
/// Everything here runs inside `apply` (a task settling drives its step), so it is a pure function of the
/// journaled events: the prompts are rendered from the frames stored with the goal, and replay rebuilds the same
/// steps, candidates, critiques and outputs. The tree: the goal's root is a `plan` node, each started step a
/// `step` node under it, and every call a step makes (candidates, checks, critiques, integrator) a child of its
/// step node, tagged with its role and round.
extension ControlState {
    // MARK: Plan access

    /// Step `i` of `goal`'s plan; nil when the goal is unknown, has no plan, or no such step (an event replayed
    /// against a state that lacks them must not trap).
    func step(_ goal: GoalID, _ i: Int) -> StepRecord? {
        guard let steps = goals[goal]?.plan?.steps, steps.indices.contains(i) else { return nil }
        return steps[i]
    }

    /// Stores step `i` of `goal`'s plan (nothing when there is no such step).
    func setStep(_ goal: GoalID, _ i: Int, _ step: StepRecord) {
        guard goals[goal]?.plan?.steps.indices.contains(i) == true else { return }
        goals[goal]?.plan?.steps[i] = step
    }

    /// Changes step `i` of `goal`'s plan in place (nothing when there is no such step).
    func updateStep(_ goal: GoalID, _ i: Int, _ change: (inout StepRecord) -> Void) {
        guard goals[goal]?.plan?.steps.indices.contains(i) == true else { return }
        goals[goal]?.plan?.steps[i].update(change)
    }

    // MARK: Starting

    func startPlan(_ goal: GoalID, spec: PlanSpec, at: Int64, into fx: inout ControlEffects) {
        var steps = (spec.steps ?? []).map { StepRecord(spec: $0) }
        if steps.isEmpty { steps = [StepRecord(spec: Self.architectStep(spec))] }
        let output = spec.steps?.isEmpty == false ? (spec.output ?? steps.last?.spec.id) : nil
        goals[goal]?.plan = PlanRecord(goal: spec.goal, steps: steps, output: output, prompts: spec.prompts ?? [:],
                                       architect: spec.architect)
        advancePlan(goal, at: at, into: &fx)
    }

    /// The architect's step for a goal given as text: one decompose call whose answer must be a valid
    /// `Decomposition`, re-asked with the rejection reason up to `max_reforks` times.
    static func architectStep(_ spec: PlanSpec) -> StepSpec {
        let a = spec.architect ?? ArchitectSpec()
        var s = StepSpec(id: "plan", role: .decompose, prompt: "{{goal}}", tier: a.tier ?? TierRequirement(.core),
                         n: 1, join: .any, maxReforks: a.maxReforks ?? 2, maxTokens: a.maxTokens ?? 1024)
        s.jsonSchema = Decomposition.schema(maxSubtasks: a.maxSubtasks ?? 6)
        s.exec = a.exec
        s.temperature = 0.7
        return s
    }

    /// Starts every waiting step whose inputs have all succeeded; ends the goal once every step has.
    func advancePlan(_ goal: GoalID, at: Int64, into fx: inout ControlEffects) {
        guard let g = goals[goal], g.state == .running, let plan = g.plan else { return }
        let done = Set(plan.steps.filter { $0.state == .succeeded }.map(\.spec.id))
        for i in plan.steps.indices where plan.steps[i].state == .waiting {
            if (plan.steps[i].spec.inputs ?? []).allSatisfy(done.contains) {
                startStep(goal, i, at: at, into: &fx)
                guard goals[goal]?.state == .running else { return }
            }
        }
        guard let plan = goals[goal]?.plan, plan.steps.allSatisfy({ $0.state == .succeeded }), plan.output != nil else { return }
        let answer = plan.steps.first { $0.spec.id == plan.output }?.output
        let root = g.root
        tasks[root]?.state = .succeeded
        tasks[root]?.result = TaskOutput(drone: "", output: answer)
        tasks[root]?.finishedAt = at
        finishGoal(goal, succeeded: true, reason: nil, at: at, into: &fx)
    }

    private func startStep(_ goal: GoalID, _ i: Int, at: Int64, into fx: inout ControlEffects) {
        if self.step(goal, i)?.node != nil {
            // Runs again, on its own node, after its inputs re-forked (`refork_inputs`).
            updateStep(goal, i) { $0.state = .exploring }
            return startRound(goal, i, at: at, into: &fx)
        }
        guard let root = goals[goal]?.root, let spec = self.step(goal, i)?.spec, admit(goal, adding: 1, at: at, into: &fx),
              let node = addTask(TaskSpec(name: spec.id, kind: "step"), goal: goal, parent: root,
                                 index: tasks[root]?.children.count ?? 0, depth: 2, at: at) else { return }
        tasks[root]?.children.append(node)
        tasks[node]?.role = spec.roleOrDefault
        updateStep(goal, i) { step in
            step.node = node
            step.state = .exploring
        }
        startRound(goal, i, at: at, into: &fx)
    }

    /// Whether the goal may create `n` more tasks; if not, the goal fails (budget.max_tasks).
    private func admit(_ goal: GoalID, adding n: Int, at: Int64, into fx: inout ControlEffects) -> Bool {
        guard let g = goals[goal], g.state == .running else { return false }
        if g.taskCount + n <= g.budget.maxTasks { return true }
        endGoal(goal, failed: true, reason: "budget exhausted: \(g.taskCount + n) tasks > max_tasks \(g.budget.maxTasks)", at: at, into: &fx)
        return false
    }

    private func startRound(_ goal: GoalID, _ i: Int, at: Int64, into fx: inout ControlEffects) {
        guard let step = self.step(goal, i) else { return }
        let spec = step.spec
        let width = spec.width(round: step.round)
        guard admit(goal, adding: width, at: at, into: &fx) else { return }
        let prompt = render(goal, role: spec.roleOrDefault, step: step, extra: [:])
        for k in 0..<width {
            var (kind, input) = Self.call(program: spec.exec, env: ["HIVE_ROUND": String(step.round), "HIVE_CANDIDATE": String(k)],
                                          model: TaskInput(prompt: prompt.chat, maxTokens: spec.tokens, temperature: spec.temperature,
                                                           seed: (spec.seed ?? 1) &+ k &+ step.round &* 1_000, jsonSchema: spec.jsonSchema,
                                                           completion: prompt.completion))
            if let agent = spec.agent, spec.exec == nil {
                // An agent candidate: the chat rendering is its request (its loop writes its own turns).
                kind = "agent"
                input.agent = agent
                input.completion = nil
            }
            guard let id = addCall(goal, i, kind: kind, role: spec.roleOrDefault, tier: spec.tier(round: step.round), input: input, at: at) else { return }
            updateStep(goal, i) { $0.candidates.append(CandidateRecord(task: id, round: step.round)) }
        }
    }

    /// Adds one call under step `i`'s node, tagged with role and round. Nil when the step has no node.
    private func addCall(_ goal: GoalID, _ i: Int, kind: String, role: Role, tier: TierRequirement?, input: TaskInput,
                         candidate: TaskID? = nil, avoid: DroneID? = nil, at: Int64) -> TaskID? {
        guard let step = self.step(goal, i), let node = step.node,
              let id = addTask(TaskSpec(name: "\(step.spec.id).\(role.rawValue)", kind: kind, tier: tier, input: input,
                                        timeoutMillis: step.spec.timeoutMillis, approval: step.spec.approval),
                               goal: goal, parent: node, index: tasks[node]?.children.count ?? 0, depth: 3, at: at) else { return nil }
        tasks[node]?.children.append(id)
        tasks[id]?.role = role
        tasks[id]?.round = step.round
        tasks[id]?.candidate = candidate
        if let avoid { tasks[id]?.avoid = [avoid] }
        return id
    }

    /// A call's backend and input: the step's program when it names one (the prompt on its stdin, `env` added to
    /// its own), else the model call.
    private static func call(program: TaskInput?, env: [String: String], model: TaskInput) -> (kind: String, input: TaskInput) {
        guard var input = program else { return ("model", model) }
        input.stdin = model.prompt
        input.env = (input.env ?? [:]).merging(env) { own, _ in own }
        return ("exec", input)
    }

    // MARK: Rendering

    /// A call's prompts: the role's frame around the step's task, with its inputs, feedback and `extra` values,
    /// once in the chat frame and, when the plan has the role's completion frame, once in that (with its stop
    /// strings). Both travel with the call; the lease picks one for the drone's model (`TaskInput.choosing`).
    private func render(_ goal: GoalID, role: Role, step: StepRecord, extra: [String: String]) -> (chat: String, completion: CompletionPrompt?) {
        guard let plan = goals[goal]?.plan else { return ("", nil) }
        var values = ["goal": plan.goal, "feedback": "", "inputs": "", "candidate": "", "candidates": ""]
        var inputs = ""
        for id in step.spec.inputs ?? [] {
            let out = plan.steps.first { $0.spec.id == id }?.output ?? ""
            values["steps.\(id)"] = out
            inputs += "Result of step \(id):\n\(out)\n\n"
        }
        values["inputs"] = inputs
        if !step.feedback.isEmpty {
            values["feedback"] = "Earlier attempts were rejected; do better:\n" + step.feedback.map { "- \($0)" }.joined(separator: "\n") + "\n"
        }
        values["task"] = PromptTemplate.render(step.spec.prompt ?? "{{goal}}", values)
        values.merge(extra) { _, b in b }
        let chat = PromptTemplate.render(plan.prompts[role.rawValue] ?? "{{task}}", values)
        // Frames were checked at submission; a header that no longer parses (it cannot) would leave chat only.
        guard let frame = plan.prompts[PromptFrame.key(role, .completion)],
              case .success(let parsed) = PromptFrame.completion(frame) else { return (chat, nil) }
        return (chat, CompletionPrompt(prompt: PromptTemplate.render(parsed.template, values), stop: parsed.stop))
    }

    // MARK: Progress

    /// A call under a step node reached a final state.
    func stepChildSettled(_ t: TaskRecord, into fx: inout ControlEffects) {
        guard let node = t.parent, let g = goals[t.goal], g.state == .running, let i = g.plan?.index(ofNode: node),
              let step = g.plan?.steps[i] else { return }
        guard step.state.isActive, t.round == step.round else { return }
        evaluateStep(t.goal, i, at: t.finishedAt ?? 0, into: &fx)
    }

    private func evaluateStep(_ goal: GoalID, _ i: Int, at: Int64, into fx: inout ControlEffects) {
        switch self.step(goal, i)?.state {
        case .exploring: evaluateCandidates(goal, i, at: at, into: &fx)
        case .judging: evaluateCritiques(goal, i, at: at, into: &fx)
        case .integrating: evaluateIntegrator(goal, i, at: at, into: &fx)
        default: return
        }
    }

    private func evaluateCandidates(_ goal: GoalID, _ i: Int, at: Int64, into fx: inout ControlEffects) {
        guard var step = self.step(goal, i) else { return }
        let spec = step.spec
        var open = 0
        var valid: [Int] = []
        var reasons: [String] = []
        for ci in step.candidates.indices where step.candidates[ci].round == step.round {
            let c = step.candidates[ci]
            guard let t = tasks[c.task] else { continue }
            if !t.state.isFinal { open += 1; continue }
            guard t.state == .succeeded else {
                step.candidates[ci].rejection = t.reason ?? "failed"
                // A program that failed says why on its output (an integrator's failing tests): that comes first,
                // since feedback keeps only the start of a reason.
                let said = t.result?.exitCode != nil ? Self.excerpt(t.result?.output ?? "") : ""
                reasons.append(said.isEmpty ? "candidate \(c.task) \(t.reason ?? "failed")" : "\(said) (candidate \(c.task) \(t.reason ?? "failed"))")
                continue
            }
            let output = t.answer ?? ""
            if let text = spec.jsonSchema, spec.roleOrDefault != .decompose, case .success(let schema) = JSONSchemaCheck.parse(text),
               let why = JSONSchemaCheck.problem(in: Self.trimmed(output), schema: schema) {
                step.candidates[ci].rejection = "schema: \(why)"
                reasons.append("a candidate does not match the JSON Schema: \(why)")
                continue
            }
            if spec.roleOrDefault == .decompose {
                let maxSubtasks = goals[goal]?.plan?.architect?.maxSubtasks ?? 6
                if case .failure(let why) = Decomposition.validated(output, maxSubtasks: maxSubtasks) {
                    step.candidates[ci].rejection = "plan rejected: \(why)"
                    reasons.append("the plan was rejected: \(why)")
                    continue
                }
            }
            if let check = spec.verify {
                if c.verify == nil {
                    var input = check
                    input.stdin = output
                    setStep(goal, i, step)
                    guard admit(goal, adding: 1, at: at, into: &fx) else { return }
                    // A check is a program on an exec drone, or a WebAssembly module (by hash) on any drone.
                    let kind = check.module != nil ? "wasm" : "exec"
                    step.candidates[ci].verify = addCall(goal, i, kind: kind, role: .verify, tier: spec.verifyTier, input: input,
                                                         candidate: c.task, at: at)
                    open += 1
                    continue
                }
                guard let v = c.verify.flatMap({ tasks[$0] }) else { continue }
                if !v.state.isFinal { open += 1; continue }
                if v.state != .succeeded || v.result?.exitCode != 0 {
                    let detail = v.result?.exitCode.map { "exit code \($0)" } ?? v.reason ?? "failed"
                    let said = Self.excerpt(v.result?.output ?? v.result?.error ?? "")
                    step.candidates[ci].rejection = "check failed: \(detail)"
                    reasons.append("a candidate failed the check (\(detail))" + (said.isEmpty ? "" : ": \(said)"))
                    continue
                }
            }
            if output.allSatisfy(\.isWhitespace) {
                step.candidates[ci].rejection = "empty answer"
                continue
            }
            valid.append(ci)
        }
        let roundSize = step.candidates.lazy.filter { $0.round == step.round }.count
        setStep(goal, i, step)
        func out(_ ci: Int) -> String { Self.trimmed(tasks[step.candidates[ci].task]?.answer ?? "") }

        switch spec.joinOrDefault {
        case .any:
            if let first = valid.first { return succeed(goal, i, output: out(first), accepted: [first], at: at, into: &fx) }
            if open == 0 { return roundFailed(goal, i, reasons.isEmpty ? ["no candidate produced an answer"] : reasons, at: at, into: &fx) }
        case .all:
            if valid.count == roundSize {
                return succeed(goal, i, output: valid.map(out).joined(separator: "\n\n"), accepted: valid, at: at, into: &fx)
            }
            if valid.count + open < roundSize { return roundFailed(goal, i, reasons.isEmpty ? ["a candidate was unusable"] : reasons, at: at, into: &fx) }
        case .vote:
            var votes: [String: [Int]] = [:]
            for ci in valid { votes[JoinPolicy.normalize(out(ci)), default: []].append(ci) }
            let ranked = votes.sorted { $0.value.count != $1.value.count ? $0.value.count > $1.value.count : $0.key < $1.key }
            let runnerUp = ranked.dropFirst().first?.value.count ?? 0
            let escalated = step.round > 0 && spec.escalate != nil
            let needed = escalated ? 1 : spec.minVotes ?? 1
            // A tie is no agreement: with an arbiter to escalate to, ask it instead of breaking the tie by string order.
            let tied = open == 0 && ranked.count > 1 && ranked[0].value.count == runnerUp && runnerUp >= needed
            if tied && spec.escalate != nil && !escalated && step.round < spec.reforks {
                let split = ranked.prefix(4).map { "\(Self.excerpt($0.key)) (\($0.value.count))" }.joined(separator: ", ")
                return roundFailed(goal, i, ["the vote is tied: \(split)"], at: at, into: &fx)
            }
            if let leader = ranked.first, leader.value.count >= needed, leader.value.count > runnerUp + open || open == 0 {
                return succeed(goal, i, output: out(leader.value.min() ?? 0), accepted: leader.value, at: at, into: &fx)
            }
            // Weak agreement: even if every open candidate joined the leader it would stay below min_votes.
            let best = ranked.first?.value.count ?? 0
            if open == 0 || best + open < needed {
                if ranked.isEmpty { return roundFailed(goal, i, reasons.isEmpty ? ["no candidate produced an answer"] : reasons, at: at, into: &fx) }
                let split = ranked.prefix(4).map { "\(Self.excerpt($0.key)) (\($0.value.count))" }.joined(separator: ", ")
                return roundFailed(goal, i, ["no answer reached min_votes \(needed): \(split)"], at: at, into: &fx)
            }
        case .best, .synthesize:
            guard open == 0 else { return }
            if valid.isEmpty { return roundFailed(goal, i, reasons.isEmpty ? ["no candidate produced an answer"] : reasons, at: at, into: &fx) }
            if spec.criticsPerCandidate == 0 { return shortlisted(goal, i, valid, at: at, into: &fx) }
            startCritiques(goal, i, valid, at: at, into: &fx)
        }
    }

    private func startCritiques(_ goal: GoalID, _ i: Int, _ valid: [Int], at: Int64, into fx: inout ControlEffects) {
        guard let step = self.step(goal, i) else { return }
        let spec = step.spec
        guard admit(goal, adding: valid.count * spec.criticsPerCandidate, at: at, into: &fx) else { return }
        var ids: [TaskID] = []
        for ci in valid {
            let c = step.candidates[ci]
            let author = tasks[c.task]?.result?.drone
            let prompt = render(goal, role: .critique, step: step, extra: ["candidate": tasks[c.task]?.answer ?? ""])
            for k in 0..<spec.criticsPerCandidate {
                let (kind, input) = Self.call(program: spec.criticExec, env: ["HIVE_ROUND": String(step.round), "HIVE_CRITIC": String(k)],
                                              model: TaskInput(prompt: prompt.chat, maxTokens: PlanValidator.criticMaxTokens, temperature: 0.2, seed: 7 + k,
                                                               jsonSchema: CritiqueVerdict.schema, completion: prompt.completion))
                guard let id = addCall(goal, i, kind: kind, role: .critique, tier: spec.criticTier, input: input,
                                       candidate: c.task, avoid: author, at: at) else { return }
                ids.append(id)
            }
        }
        updateStep(goal, i) { step in
            step.critiques = ids
            step.state = .judging
        }
    }

    /// The verdicts on `candidate` among `critiques`: each critic's drone, score (nil when it gave none) and reasons.
    public func judgements(of candidate: TaskID, among critiques: [TaskID]) -> [(task: TaskID, drone: DroneID?, verdict: CritiqueVerdict?)] {
        critiques.compactMap { tasks[$0] }.filter { $0.candidate == candidate }.map { c in
            (c.id, c.result?.drone, c.state == .succeeded ? c.result?.output.flatMap(CritiqueVerdict.parse) : nil)
        }
    }

    private func evaluateCritiques(_ goal: GoalID, _ i: Int, at: Int64, into fx: inout ControlEffects) {
        guard var step = self.step(goal, i) else { return }
        guard step.critiques.allSatisfy({ tasks[$0]?.state.isFinal ?? true }) else { return }
        var scored: [(ci: Int, score: Double)] = []
        var reasons: [String] = []
        for ci in step.candidates.indices where step.candidates[ci].round == step.round {
            let verdicts = judgements(of: step.candidates[ci].task, among: step.critiques).compactMap(\.verdict)
            guard !verdicts.isEmpty else { continue }
            let score = verdicts.map(\.score).reduce(0, +) / Double(verdicts.count)
            step.candidates[ci].score = score
            scored.append((ci, score))
            reasons += verdicts.map { "score \(Self.format($0.score)): \(Self.excerpt($0.reasons))" }
        }
        setStep(goal, i, step)
        scored.sort { $0.score != $1.score ? $0.score > $1.score : $0.ci < $1.ci }
        guard let top = scored.first else { return roundFailed(goal, i, ["no critic returned a usable score"], at: at, into: &fx) }
        if let min = step.spec.minScore, top.score < min {
            return roundFailed(goal, i, ["the best candidate scored \(Self.format(top.score)), below min_score \(Self.format(min))"] + reasons, at: at, into: &fx)
        }
        shortlisted(goal, i, scored.map(\.ci), at: at, into: &fx)
    }

    /// `best` takes the first of `ranked`; `synthesize:k` hands the first k to the integrator.
    private func shortlisted(_ goal: GoalID, _ i: Int, _ ranked: [Int], at: Int64, into fx: inout ControlEffects) {
        guard let step = self.step(goal, i), let top = ranked.first else { return }
        guard case .synthesize(let k) = step.spec.joinOrDefault else {
            return succeed(goal, i, output: Self.trimmed(tasks[step.candidates[top].task]?.answer ?? ""),
                           accepted: [top], at: at, into: &fx)
        }
        guard admit(goal, adding: 1, at: at, into: &fx) else { return }
        let chosen = Array(ranked.prefix(k))
        let list = chosen.enumerated().map { n, ci in
            "Candidate \(n + 1):\n\(Self.trimmed(tasks[step.candidates[ci].task]?.answer ?? ""))"
        }.joined(separator: "\n\n")
        let prompt = render(goal, role: .integrate, step: step, extra: ["candidates": list + "\n"])
        let (kind, input) = Self.call(program: step.spec.integratorExec, env: ["HIVE_ROUND": String(step.round)],
                                      model: TaskInput(prompt: prompt.chat, maxTokens: step.spec.tokens, temperature: 0.3, seed: 11,
                                                       jsonSchema: step.spec.jsonSchema, completion: prompt.completion))
        guard let id = addCall(goal, i, kind: kind, role: .integrate, tier: step.spec.integratorTier ?? TierRequirement(.core),
                               input: input, at: at) else { return }
        updateStep(goal, i) { s in
            s.shortlist = chosen.map { step.candidates[$0].task }
            s.integrator = id
            s.state = .integrating
        }
    }

    private func evaluateIntegrator(_ goal: GoalID, _ i: Int, at: Int64, into fx: inout ControlEffects) {
        guard let step = self.step(goal, i), let id = step.integrator, let t = tasks[id], t.state.isFinal else { return }
        guard t.state == .succeeded, let out = t.result?.output, !out.allSatisfy(\.isWhitespace) else {
            return roundFailed(goal, i, ["the integrator produced nothing: \(t.reason ?? "empty output")"], at: at, into: &fx)
        }
        if let text = step.spec.jsonSchema, case .success(let schema) = JSONSchemaCheck.parse(text),
           let why = JSONSchemaCheck.problem(in: Self.trimmed(out), schema: schema) {
            return roundFailed(goal, i, ["the integrator's answer does not match the JSON Schema: \(why)"], at: at, into: &fx)
        }
        let accepted = step.candidates.indices.filter { step.shortlist.contains(step.candidates[$0].task) }
        succeed(goal, i, output: Self.trimmed(out), accepted: accepted, at: at, into: &fx)
    }

    // MARK: Outcomes

    private func succeed(_ goal: GoalID, _ i: Int, output: String, accepted: [Int], at: Int64, into fx: inout ControlEffects) {
        guard var step = self.step(goal, i), let node = step.node else { return }
        for ci in accepted { step.candidates[ci].accepted = true }
        step.state = .succeeded
        step.output = output
        setStep(goal, i, step)
        tasks[node]?.state = .succeeded
        tasks[node]?.result = TaskOutput(drone: "", output: output)
        tasks[node]?.finishedAt = at
        tasks[node]?.reason = "\(step.spec.joinOrDefault): \(accepted.count) of \(step.candidates.filter { $0.round == step.round }.count) candidates used, round \(step.round + 1)"
        cancelOpenCalls(of: node, reason: "step \(step.spec.id) already decided", at: at, into: &fx)
        if step.spec.roleOrDefault == .decompose, case .success(let d) = Decomposition.validated(output, maxSubtasks: goals[goal]?.plan?.architect?.maxSubtasks ?? 6) {
            adoptDecomposition(goal, d)
        }
        advancePlan(goal, at: at, into: &fx)
    }

    /// The architect's accepted plan becomes steps: one per subtask (from the `architect.step` template), then an
    /// integrate step over all of them that answers the goal.
    private func adoptDecomposition(_ goal: GoalID, _ d: Decomposition) {
        guard goals[goal]?.plan != nil else { return }
        let a = goals[goal]?.plan?.architect ?? ArchitectSpec()
        let template = a.step ?? StepSpec(id: "")
        var ids: [String] = []
        for (k, sub) in d.subtasks.enumerated() {
            var s = template
            s.id = "s\(k + 1)"
            s.role = .explore
            s.prompt = sub.task
            s.inputs = nil
            let n = min(sub.candidates, template.n ?? 3)
            s.n = n
            s.minVotes = s.minVotes.map { min($0, n) }
            ids.append(s.id)
            goals[goal]?.plan?.steps.append(StepRecord(spec: s))
        }
        var last = a.integrate ?? StepSpec(id: "")
        last.id = "answer"
        last.role = .integrate
        last.inputs = ids
        last.n = 1
        last.join = .any
        if last.tier == nil { last.tier = TierRequirement(.core) }
        goals[goal]?.plan?.steps.append(StepRecord(spec: last))
        goals[goal]?.plan?.output = "answer"
    }

    /// Validation failed this round: re-fork with the reasons as feedback, or fail the step and the goal.
    private func roundFailed(_ goal: GoalID, _ i: Int, _ reasons: [String], at: Int64, into fx: inout ControlEffects) {
        guard var step = self.step(goal, i), let node = step.node else { return }
        cancelOpenCalls(of: node, reason: "round \(step.round + 1) of step \(step.spec.id) failed validation", at: at, into: &fx)
        step.feedback = Array((step.feedback + reasons.map(Self.excerpt)).suffix(8))
        if step.round < step.spec.reforks, step.spec.reforkInputs == true, let inputs = step.spec.inputs, !inputs.isEmpty {
            step.round += 1
            step.state = .waiting
            step.critiques = []
            step.shortlist = []
            step.integrator = nil
            setStep(goal, i, step)
            for id in inputs {
                guard let j = goals[goal]?.plan?.steps.firstIndex(where: { $0.spec.id == id }) else { continue }
                reopen(goal, j, reasons: reasons.map { "step \(step.spec.id): \($0)" }, at: at, into: &fx)
            }
            return
        }
        if step.round < step.spec.reforks {
            step.round += 1
            step.state = .exploring
            step.critiques = []
            step.shortlist = []
            step.integrator = nil
            setStep(goal, i, step)
            startRound(goal, i, at: at, into: &fx)
            return
        }
        let reason = "step \(step.spec.id) failed after \(step.round + 1) round(s): " + reasons.prefix(4).joined(separator: "; ")
        step.state = .failed
        step.reason = reason
        setStep(goal, i, step)
        tasks[node]?.state = .dead
        tasks[node]?.reason = reason
        tasks[node]?.finishedAt = at
        endGoal(goal, failed: true, reason: reason, at: at, into: &fx)
    }

    /// Step `j` succeeded, but a step reading it failed validation and re-forks its inputs: `j` runs a new round
    /// with `reasons` as feedback (its own rounds count on; past its `max_reforks`, its next failure ends the goal).
    private func reopen(_ goal: GoalID, _ j: Int, reasons: [String], at: Int64, into fx: inout ControlEffects) {
        guard var step = self.step(goal, j), step.state == .succeeded, let node = step.node else { return }
        step.feedback = Array((step.feedback + reasons.map(Self.excerpt)).suffix(8))
        step.round += 1
        step.state = .exploring
        step.critiques = []
        step.shortlist = []
        step.integrator = nil
        step.output = nil
        setStep(goal, j, step)
        tasks[node]?.state = .waiting
        tasks[node]?.result = nil
        tasks[node]?.reason = nil
        tasks[node]?.finishedAt = nil
        startRound(goal, j, at: at, into: &fx)
    }

    private func cancelOpenCalls(of node: TaskID, reason: String, at: Int64, into fx: inout ControlEffects) {
        for c in tasks[node]?.children ?? [] where tasks[c].map({ !$0.state.isFinal }) ?? false {
            cancelSubtree(c, reason: reason, at: at, into: &fx)
        }
    }

    static func trimmed(_ s: String) -> String {
        String(s.drop(while: \.isWhitespace).reversed().drop(while: \.isWhitespace).reversed())
    }

    /// A reason short enough for a prompt or a log line.
    static func excerpt(_ s: String) -> String {
        let t = trimmed(s).split(whereSeparator: \.isNewline).joined(separator: " ")
        return t.count > 200 ? String(t.prefix(200)) + "…" : t
    }

    static func format(_ x: Double) -> String {
        x == x.rounded() ? String(Int(x)) : String((x * 10).rounded() / 10)
    }
}
