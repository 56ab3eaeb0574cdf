/// Checks every number and string of a submission against `SpecLimits`, naming the field's path
/// (`root.children[3].input.top_k must be 0 to 100000 (got 3000000000)`). Walks task trees with an explicit
/// stack, so a tree of any shape is checked without recursion.
public struct SpecCheck {
    let path: String

    public init(_ path: String) { self.path = path }

    func at(_ field: String) -> String { path.isEmpty ? field : "\(path).\(field)" }

    func int(_ field: String, _ value: Int?, _ range: ClosedRange<Int>) throws(SpecViolation) {
        guard let value, !range.contains(value) else { return }
        throw .outOfRange(path: at(field), value: String(value), range: "\(range.lowerBound) to \(range.upperBound)")
    }

    func number(_ field: String, _ value: Double?, _ range: ClosedRange<Double>) throws(SpecViolation) {
        guard let value, !(value.isFinite && range.contains(value)) else { return }
        throw .outOfRange(path: at(field), value: "\(value)", range: "\(Self.format(range.lowerBound)) to \(Self.format(range.upperBound))")
    }

    func text(_ field: String, _ value: String?, max: Int) throws(SpecViolation) {
        guard let n = value?.utf8.count, n > max else { return }
        throw .tooLong(path: at(field), bytes: n, limit: max)
    }

    func texts(_ field: String, _ values: [String]?, count: Int, each: Int) throws(SpecViolation) {
        guard let values else { return }
        if values.count > count { throw .tooMany(path: at(field), count: values.count, limit: count) }
        for (i, v) in values.enumerated() { try text("\(field)[\(i)]", v, max: each) }
    }

    static func format(_ x: Double) -> String { x == x.rounded() && abs(x) < 1e15 ? String(Int(x)) : "\(x)" }

    // MARK: Parts of a goal

    /// A task's `input` (every backend's fields).
    public func input(_ i: TaskInput) throws(SpecViolation) {
        try text("command", i.command, max: SpecLimits.commandBytes)
        try texts("args", i.args, count: SpecLimits.args, each: SpecLimits.argBytes)
        try text("stdin", i.stdin, max: SpecLimits.stdinBytes)
        if let env = i.env {
            if env.count > SpecLimits.envEntries { throw .tooMany(path: at("env"), count: env.count, limit: SpecLimits.envEntries) }
            for (k, v) in env.sorted(by: { $0.key < $1.key }) {
                try text("env key '\(k.prefix(32))'", k, max: SpecLimits.envKeyBytes)
                try text("env.\(k)", v, max: SpecLimits.envValueBytes)
            }
        }
        try int("sleep_ms", i.sleepMillis, SpecLimits.sleepMillis)
        try text("text", i.text, max: SpecLimits.textBytes)
        try text("prompt", i.prompt, max: SpecLimits.promptBytes)
        try text("system", i.system, max: SpecLimits.systemBytes)
        try int("max_tokens", i.maxTokens, SpecLimits.maxTokens)
        try number("temperature", i.temperature, SpecLimits.temperature)
        try int("top_k", i.topK, SpecLimits.topK)
        try number("top_p", i.topP, SpecLimits.topP)
        try int("seed", i.seed, SpecLimits.seed)
        try texts("stop", i.stop, count: SpecLimits.stops, each: SpecLimits.stopBytes)
        if let c = i.completion {
            try text("completion.prompt", c.prompt, max: SpecLimits.promptBytes)
            try texts("completion.stop", c.stop, count: SpecLimits.stops, each: SpecLimits.stopBytes)
        }
        try text("json_schema", i.jsonSchema, max: SpecLimits.jsonSchemaBytes)
        try text("module", i.module, max: SpecLimits.moduleBytes)
        try int("fuel", i.fuel, SpecLimits.fuel)
        try int("memory_mb", i.memoryMiB, SpecLimits.memoryMiB)
        try text("stdin_blob", i.stdinBlob, max: SpecLimits.blobNameBytes)
        try int("size", i.size, SpecLimits.blobSize)
        try text("prompt_blob", i.promptBlob, max: SpecLimits.blobNameBytes)
        if let a = i.agent { try SpecCheck(at("agent")).agent(a) }
    }

    /// An agent's allow-list and bounds (`AgentSpec`).
    public func agent(_ a: AgentSpec) throws(SpecViolation) {
        try texts("tools", a.tools, count: SpecLimits.agentTools, each: SpecLimits.toolNameBytes)
        try int("max_steps", a.maxSteps, SpecLimits.agentSteps)
        try int("max_wall_ms", a.maxWallMillis, SpecLimits.agentWallMillis)
        try int("call_timeout_ms", a.callTimeoutMillis, SpecLimits.callTimeoutMillis)
        try int("tool_bytes", a.toolBytes, SpecLimits.agentToolBytes)
        if let pins = a.pins {
            if pins.count > SpecLimits.agentTools { throw .tooMany(path: at("pins"), count: pins.count, limit: SpecLimits.agentTools) }
            for (name, pin) in pins.sorted(by: { $0.key < $1.key }) {
                try text("pins key '\(name.prefix(32))'", name, max: SpecLimits.toolNameBytes)
                try text("pins.\(name)", pin, max: SpecLimits.pinBytes)
            }
        }
    }

    /// One node's own fields (not its children).
    public func node(_ t: TaskSpec) throws(SpecViolation) {
        try text("name", t.name, max: SpecLimits.nameBytes)
        try text("kind", t.kind, max: SpecLimits.kindBytes)
        try texts("requires", t.requires, count: SpecLimits.requires, each: SpecLimits.requireBytes)
        try int("max_attempts", t.maxAttempts, SpecLimits.maxAttempts)
        try int("timeout_ms", t.timeoutMillis, SpecLimits.timeoutMillis)
        if case .quorum(let k) = t.join { try int("join quorum K", k, SpecLimits.joinK) }
        if let input = t.input { try SpecCheck(at("input")).input(input) }
    }

    /// A task tree: every node's fields, its size against `maxTasks` and its depth against `maxDepth`, found
    /// without recursion and stopping at the first node past a limit.
    public static func tree(_ root: TaskSpec, path: String, maxTasks: Int, maxDepth: Int) throws(SubmitError) {
        var stack: [(task: TaskSpec, path: String, depth: Int)] = [(root, path, 1)]
        var nodes = 0
        while let (t, p, depth) = stack.popLast() {
            nodes += 1
            if nodes > maxTasks { throw .tooManyTasks(Self.countNodes(root, upTo: SpecLimits.budgetMaxTasks.upperBound + 1), limit: maxTasks) }
            if depth > maxDepth { throw .tooDeep(root.size.depth, limit: maxDepth) }
            do { try SpecCheck(p).node(t) } catch { throw .violation(error) }
            for (i, c) in (t.children ?? []).enumerated().reversed() { stack.append((c, "\(p).children[\(i)]", depth + 1)) }
        }
    }

    /// Nodes in a tree (at most `limit`, so a refusal can say how many without walking a huge tree twice over).
    static func countNodes(_ root: TaskSpec, upTo limit: Int) -> Int {
        var stack = [root], n = 0
        while let t = stack.popLast(), n < limit {
            n += 1
            stack.append(contentsOf: t.children ?? [])
        }
        return n
    }

    /// The goal's own fields and its budget.
    public static func goal(_ spec: GoalSpec) throws(SpecViolation) {
        let g = SpecCheck("")
        try g.text("name", spec.name, max: SpecLimits.nameBytes)
        try g.int("priority", spec.priority, SpecLimits.priority)
        let b = spec.budget, c = SpecCheck("budget")
        try c.int("max_tasks", b.maxTasks, SpecLimits.budgetMaxTasks)
        try c.int("max_depth", b.maxDepth, SpecLimits.budgetMaxDepth)
        try c.int("max_attempts", b.maxAttempts, SpecLimits.maxAttempts)
        try c.int("deadline_ms", b.deadlineMillis, SpecLimits.deadlineMillis)
        try c.int("max_tokens", b.maxTokens, SpecLimits.budgetMaxTokens)
        try c.int("max_core_calls", b.maxCoreCalls, SpecLimits.maxCoreCalls)
        for (tier, n) in (b.maxTokensByTier ?? [:]).sorted(by: { $0.key < $1.key }) {
            try c.int("max_tokens_by_tier.\(tier)", n, SpecLimits.tierTokens)
        }
        try c.number("max_cost", b.maxCost, SpecLimits.maxCost)
        try c.int("approval_timeout_ms", b.approvalTimeoutMillis, SpecLimits.approvalTimeoutMillis)
    }

    /// A plan's numbers and strings (its structure is `PlanValidator`'s).
    public static func plan(_ plan: PlanSpec) throws(SpecViolation) {
        let p = SpecCheck("")
        try p.text("goal", plan.goal, max: SpecLimits.goalTextBytes)
        try p.text("output", plan.output, max: SpecLimits.idBytes)
        if let steps = plan.steps, steps.count > SpecLimits.steps {
            throw .tooMany(path: "steps", count: steps.count, limit: SpecLimits.steps)
        }
        for (i, s) in (plan.steps ?? []).enumerated() { try SpecCheck("steps[\(i)]").step(s) }
        if let frames = plan.prompts {
            if frames.count > SpecLimits.frames { throw .tooMany(path: "prompts", count: frames.count, limit: SpecLimits.frames) }
            for (role, text) in frames.sorted(by: { $0.key < $1.key }) {
                try p.text("prompts.\(role.prefix(32))", text, max: SpecLimits.frameBytes)
            }
        }
        if let a = plan.architect {
            let c = SpecCheck("architect")
            try c.int("max_tokens", a.maxTokens, SpecLimits.maxTokens)
            try c.int("max_reforks", a.maxReforks, SpecLimits.reforks)
            try c.int("max_subtasks", a.maxSubtasks, SpecLimits.subtasks)
            if let s = a.step { try SpecCheck("architect.step").step(s) }
            if let s = a.integrate { try SpecCheck("architect.integrate").step(s) }
            if let e = a.exec { try SpecCheck("architect.exec").input(e) }
        }
    }

    func step(_ s: StepSpec) throws(SpecViolation) {
        try text("id", s.id, max: SpecLimits.idBytes)
        try text("prompt", s.prompt, max: SpecLimits.stepPromptBytes)
        try texts("inputs", s.inputs, count: SpecLimits.inputs, each: SpecLimits.idBytes)
        try int("n", s.n, SpecLimits.candidates)
        if case .synthesize(let k) = s.join { try int("join synthesize K", k, SpecLimits.candidates) }
        try int("critics", s.critics, SpecLimits.critics)
        try number("min_score", s.minScore, SpecLimits.minScore)
        try int("max_reforks", s.maxReforks, SpecLimits.reforks)
        try int("max_tokens", s.maxTokens, SpecLimits.maxTokens)
        try number("temperature", s.temperature, SpecLimits.temperature)
        try int("seed", s.seed, SpecLimits.seed)
        try text("json_schema", s.jsonSchema, max: SpecLimits.jsonSchemaBytes)
        try int("timeout_ms", s.timeoutMillis, SpecLimits.timeoutMillis)
        try int("min_votes", s.minVotes, 1...Swift.max(1, s.candidates))
        try int("escalate.n", s.escalate?.n, SpecLimits.candidates)
        for (name, e) in [("verify", s.verify), ("exec", s.exec), ("critic_exec", s.criticExec), ("integrator_exec", s.integratorExec)] {
            if let e { try SpecCheck(at(name)).input(e) }
        }
        if let a = s.agent { try SpecCheck(at("agent")).agent(a) }
    }
}

/// How deeply a JSON text nests, found on the raw bytes (strings skipped), so a submission nested past
/// `SpecLimits.jsonNesting` is refused before a recursive decoder sees it.
public enum JSONNesting {
    /// Whether `bytes` open more than `limit` arrays and objects inside one another.
    public static func exceeds(_ bytes: some Collection<UInt8>, limit: Int) -> Bool {
        var depth = 0, inString = false, escaped = false
        for b in bytes {
            if inString {
                if escaped { escaped = false } else if b == UInt8(ascii: "\\") { escaped = true } else if b == UInt8(ascii: "\"") { inString = false }
                continue
            }
            switch b {
            case UInt8(ascii: "\""): inString = true
            case UInt8(ascii: "["), UInt8(ascii: "{"):
                depth += 1
                if depth > limit { return true }
            case UInt8(ascii: "]"), UInt8(ascii: "}"): depth -= 1
            default: break
            }
        }
        return false
    }
}
