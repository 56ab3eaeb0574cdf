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
            if let p = s.prompt, let why = PromptTemplate.problem(in: p, steps: Set(s.inputs ?? [])) { return "\(at) prompt: \(why)" }
        }
        if let out = plan.output, !seen.contains(out) { return "output '\(out)' names no step" }
        if let a = plan.architect {
            if plan.steps?.isEmpty == false { return "a plan has either steps or an architect, not both" }
            if let s = a.step, let why = stepProblem(s) { return "architect.step: \(why)" }
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
        return nil
    }
}
