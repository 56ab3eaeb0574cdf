/// Checks a plan at submission, so that a plan that cannot run is refused with the reason and nothing of it runs.
/// Its numbers and strings are `SpecCheck.plan`'s, checked first; this is the structure.
public enum PlanValidator {
    /// Limits that keep one plan from flooding the hive by accident (budgets bound the rest).
    public static let maxCandidates = 64, maxCritics = 8, maxReforks = 10, maxSubtasks = 16

    /// Why `plan` cannot run, or nil.
    public static func problem(in plan: PlanSpec) -> String? {
        if plan.goal.allSatisfy(\.isWhitespace) { return "the plan's goal is empty" }
        var seen: Set<String> = []
        for (i, s) in (plan.steps ?? []).enumerated() {
            let at = "steps[\(i)] (\(s.id))"
            if s.id.isEmpty || !s.id.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" || $0 == "-" }) {
                return "steps[\(i)] needs an id of letters, digits, '_' or '-'"
            }
            if seen.contains(s.id) { return "\(at): the id is used twice" }
            for input in s.inputs ?? [] where !seen.contains(input) {
                return "\(at): input '\(input)' is not an earlier step"
            }
            seen.insert(s.id)
            if let why = stepProblem(s) { return "\(at): \(why)" }
            if s.reforkInputs == true && (s.inputs ?? []).isEmpty { return "\(at): refork_inputs needs inputs (the steps to re-fork)" }
            if let p = s.prompt, let why = PromptTemplate.problem(in: p, steps: Set(s.inputs ?? [])) { return "\(at) prompt: \(why)" }
        }
        if let out = plan.output, !seen.contains(out) { return "output '\(out)' names no step" }
        if let a = plan.architect {
            if plan.steps?.isEmpty == false { return "a plan has either steps or an architect, not both" }
            if let s = a.step, let why = stepProblem(s) { return "architect.step: \(why)" }
            if a.step?.reforkInputs == true {
                return "architect.step: refork_inputs needs inputs, and the architect's subtasks have none (give it to architect.integrate)"
            }
            if let s = a.integrate, let why = stepProblem(s) { return "architect.integrate: \(why)" }
            if let e = a.exec, e.command == nil { return "architect.exec needs a command" }
        }
        for role in plan.rolesUsed.sorted(by: { $0.rawValue < $1.rawValue }) where role != .verify {
            // Chat frames are required (API drones and instruct models take them); completion frames are optional:
            // a completion model without one gets the chat rendering as plain text.
            guard plan.prompts?[role.rawValue] != nil else {
                return "no prompt frame for role '\(role.rawValue)' (honeycombd reads them from its prompts directory, Config/prompts/\(role.rawValue).txt)"
            }
        }
        for (key, frame) in (plan.prompts ?? [:]).sorted(by: { $0.key < $1.key }) {
            if let why = PromptFrame.problem(key: key, text: frame) { return "the \(key.prefix(64)) frame: \(why)" }
        }
        return nil
    }

    /// The most tokens a critic call may generate (its verdict is short JSON).
    public static let criticMaxTokens = 200

    /// Under `budget.max_tokens`: the first model call of the plan that could never be admitted, since even its
    /// smallest worst case (its frame and step prompt with every run-time value empty, + 64 + its `max_tokens`)
    /// is over the whole budget; or nil. A call that fits alone is admitted once running calls settle, so wide
    /// rounds (`n` candidates whose worst cases add up to more) are not refused: they run fewer at a time.
    public static func tokenProblem(in plan: PlanSpec, budget: Budget) -> String? {
        guard let max = budget.maxTokens else { return nil }
        var calls: [(at: String, what: String, role: Role, step: StepSpec)] = []
        func add(_ s: StepSpec, at: String) {
            if s.exec == nil { calls.append((at, "each \(s.roleOrDefault.rawValue) call", s.roleOrDefault, s)) }
            if s.joinOrDefault.judged && s.criticsPerCandidate > 0 && s.criticExec == nil {
                var critic = s
                critic.maxTokens = criticMaxTokens
                calls.append((at, "each critique call", .critique, critic))
            }
            if case .synthesize = s.joinOrDefault, s.integratorExec == nil { calls.append((at, "its integrate call", .integrate, s)) }
        }
        if let steps = plan.steps, !steps.isEmpty {
            for (i, s) in steps.enumerated() { add(s, at: "steps[\(i)] (\(s.id))") }
        } else {
            add(ControlState.architectStep(plan), at: "the architect")
            var step = plan.architect?.step ?? StepSpec(id: "")
            step.role = .explore
            step.prompt = ""  // the subtask's text, known only once the architect answers
            add(step, at: "architect.step")
            var last = plan.architect?.integrate ?? StepSpec(id: "")
            last.role = .integrate
            last.join = .any
            add(last, at: "architect.integrate")
        }
        for c in calls {
            let prompt = leastPromptBytes(plan, role: c.role, step: c.step)
            if c.role == .explore, let agent = c.step.agent {
                // An agent candidate reserves its whole loop (`AgentSpec.worstCaseTokens`).
                let worst = AgentSpec.worstCaseTokens(TaskInput(prompt: String(repeating: " ", count: prompt),
                                                                maxTokens: c.step.tokens, agent: agent))
                if worst > max {
                    return "\(c.at): each agent candidate can use up to \(worst) tokens (max_steps \(agent.steps) × (a prompt of at least "
                        + "\(prompt) bytes + 64 + max_tokens \(c.step.tokens) + \(AgentSpec.turnAllowanceTokens))), more than "
                        + "budget.max_tokens \(max): no candidate could ever be admitted"
                }
                continue
            }
            let worst = prompt + 64 + Swift.max(1, c.step.tokens)
            if worst > max {
                return "\(c.at): \(c.what) can use up to \(worst) tokens (a prompt of at least \(prompt) bytes + 64 + max_tokens " +
                    "\(c.step.tokens)), more than budget.max_tokens \(max): no call of it could ever be admitted"
            }
        }
        return nil
    }

    /// The fewest prompt bytes a call of `role` for step `s` can have: the role's frames (chat, and completion when
    /// the plan has one) around the step's task, with every value known only at run time (inputs, feedback,
    /// candidates) empty.
    static func leastPromptBytes(_ plan: PlanSpec, role: Role, step s: StepSpec) -> Int {
        var values = ["goal": plan.goal, "feedback": "", "inputs": "", "candidate": "", "candidates": ""]
        for id in s.inputs ?? [] { values["steps.\(id)"] = "" }
        values["task"] = PromptTemplate.render(s.prompt ?? "{{goal}}", values)
        let chat = PromptTemplate.render(plan.prompts?[role.rawValue] ?? "{{task}}", values).utf8.count
        guard let frame = plan.prompts?[PromptFrame.key(role, .completion)],
              case .success(let parsed) = PromptFrame.completion(frame) else { return chat }
        return Swift.max(chat, PromptTemplate.render(parsed.template, values).utf8.count)
    }

    static func stepProblem(_ s: StepSpec) -> String? {
        if s.role == .decompose || s.role == .critique || s.role == .verify {
            return "role '\(s.role!.rawValue)' is not a step's role (steps explore or integrate; critics and checks are part of a step)"
        }
        if s.minScore != nil && s.criticsPerCandidate == 0 { return "min_score needs critics (join best or synthesize)" }
        if s.minVotes != nil && s.joinOrDefault != .vote { return "min_votes needs join vote" }
        if let text = s.jsonSchema, case .failure(let why) = JSONSchemaCheck.parse(text) { return why.description }
        if let v = s.verify, v.command == nil, v.module == nil { return "verify needs a command or a module (the SHA-256 hive module add printed)" }
        for (name, e) in [("exec", s.exec), ("critic_exec", s.criticExec), ("integrator_exec", s.integratorExec)] {
            if let e, e.command == nil { return "\(name) needs a command" }
        }
        if let a = s.agent {
            if s.exec != nil { return "agent and exec both say how candidates run; give one" }
            if s.jsonSchema != nil { return "agent candidates answer in text; json_schema is for model calls" }
            if let why = AgentSpec.problem(kind: "agent", input: TaskInput(prompt: "", agent: a)) { return why }
        }
        return nil
    }
}
