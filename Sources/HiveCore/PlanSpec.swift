/// How a plan step turns its candidates into one output.
///
/// `any`: the first valid candidate. `all`: every candidate must be valid; the output is theirs in order.
/// `vote`: the plurality of normalized answers (exact-answer tasks). `best`: the candidate the critics scored
/// highest (ties to the lower index, so the outcome does not depend on arrival order). `synthesize(k)`: an
/// integrator call over the `k` best candidates writes the output.
public enum StepJoin: Codable, Sendable, Equatable, CustomStringConvertible {
    case any, all, vote, best
    case synthesize(Int)

    public var description: String {
        switch self {
        case .any: return "any"
        case .all: return "all"
        case .vote: return "vote"
        case .best: return "best"
        case .synthesize(let k): return "synthesize:\(k)"
        }
    }

    /// Whether candidates are scored by critics before the join.
    public var judged: Bool {
        switch self {
        case .best, .synthesize: return true
        default: return false
        }
    }

    public static func parse(_ text: String) -> StepJoin? {
        switch text {
        case "any": return .any
        case "all": return .all
        case "vote": return .vote
        case "best": return .best
        case "synthesize": return .synthesize(3)
        default:
            guard text.hasPrefix("synthesize:"), let k = Int(text.dropFirst(11)), k > 0 else { return nil }
            return .synthesize(k)
        }
    }

    public init(from decoder: any Decoder) throws {
        let s = try decoder.singleValueContainer().decode(String.self)
        guard let j = StepJoin.parse(s) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath,
                                                    debugDescription: "a step's join must be any, all, vote, best, synthesize or synthesize:K"))
        }
        self = j
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(description)
    }
}

/// The cognitive roles a plan's calls play. Each role's prompt frame is a template in `Config/prompts/ROLE.txt`.
public enum Role: String, Codable, Sendable, CaseIterable {
    /// The architect: writes the plan for a goal given as text.
    case decompose
    /// Produces a candidate for a step.
    case explore
    /// Scores one candidate against its step, with reasons.
    case critique
    /// An executable check of one candidate (exit status 0 passes).
    case verify
    /// Synthesizes several candidates, or several steps' outputs, into one.
    case integrate
}

/// One step of a plan: what to ask, of which tier, how many candidates, how to join and validate them.
public struct StepSpec: Codable, Sendable, Equatable {
    /// Names the step; later steps' templates read its output as `{{steps.ID}}`.
    public var id: String
    /// `explore` (default) or `integrate` (one call that combines its inputs); `decompose` is the architect's.
    public var role: Role?
    /// The step's task, a template (`{{goal}}`, `{{steps.ID}}`); the role's frame wraps it as `{{task}}`.
    public var prompt: String?
    /// Steps whose outputs this one reads; it starts when they have all succeeded.
    public var inputs: [String]?
    public var tier: TierRequirement?
    /// Candidates per round (speculation).
    public var n: Int?
    public var join: StepJoin?
    /// Critic calls per valid candidate (for `best` and `synthesize`; default 1).
    public var critics: Int?
    public var criticTier: TierRequirement?
    /// The best candidate must score at least this (0…10), or the round fails validation.
    public var minScore: Double?
    public var integratorTier: TierRequirement?
    /// An executable check run on an exec drone per candidate, with the candidate on its stdin.
    public var verify: TaskInput?
    /// Tier of the verify checks (default any: an exec drone wherever one is free).
    public var verifyTier: TierRequirement?
    /// Rounds after the first when validation fails; each round's prompt carries the feedback so far.
    public var maxReforks: Int?
    public var maxTokens: Int?
    public var temperature: Double?
    /// Candidate k of round r samples with seed `seed + k + 1000·r` (default 1): one plan's candidates differ, and
    /// goals that should sample independently of each other (an eval's tasks) give each its own base.
    public var seed: Int?
    /// Candidates must match this JSON Schema (text); model drones constrain their output to it.
    public var jsonSchema: String?
    public var timeoutMillis: Int?
    /// Run candidates as this program (the rendered prompt on stdin) instead of a model call; likewise critics and
    /// the integrator. For deterministic plans and test doubles of model text.
    public var exec: TaskInput?
    public var criticExec: TaskInput?
    public var integratorExec: TaskInput?
    /// `vote`: the winner needs at least this many votes, or the round fails validation (weak agreement is a
    /// reason to ask again, or to escalate).
    public var minVotes: Int?
    /// Re-fork rounds run here instead: typically a few cheap candidates first, then one call on the core tier
    /// to arbitrate only when they disagree. `min_votes` does not apply to escalated rounds.
    public var escalate: Escalation?
    /// `required`: every task of this step waits in `awaiting_approval` until approved.
    public var approval: ApprovalPolicy?
    /// Candidates run as agents: a bounded tool loop over these tools (`AgentSpec`) instead of one model call; the
    /// transcript's answer is the candidate's output that critics, votes and later steps see.
    public var agent: AgentSpec?
    /// When a round of this step fails validation, re-fork its input steps instead of only itself: each gets the
    /// reasons as feedback and runs a new round, and this step runs again once they have all succeeded (counted
    /// against this step's `max_reforks`). For a step that combines its inputs and can find that they do not fit
    /// together (an integrator whose tests fail on the merged patches), where asking it again would not help.
    public var reforkInputs: Bool?

    /// Where and how wide re-fork rounds run.
    public struct Escalation: Codable, Sendable, Equatable {
        public var tier: TierRequirement
        public var n: Int?
        public init(tier: TierRequirement, n: Int? = nil) {
            self.tier = tier
            self.n = n
        }
    }

    public init(id: String, role: Role? = nil, prompt: String? = nil, inputs: [String]? = nil, tier: TierRequirement? = nil,
                n: Int? = nil, join: StepJoin? = nil, critics: Int? = nil, criticTier: TierRequirement? = nil,
                minScore: Double? = nil, maxReforks: Int? = nil, maxTokens: Int? = nil) {
        self.id = id
        self.role = role
        self.prompt = prompt
        self.inputs = inputs
        self.tier = tier
        self.n = n
        self.join = join
        self.critics = critics
        self.criticTier = criticTier
        self.minScore = minScore
        self.maxReforks = maxReforks
        self.maxTokens = maxTokens
    }

    enum CodingKeys: String, CodingKey {
        case id, role, prompt, inputs, tier, n, join, critics, verify, temperature, seed, exec
        case criticTier = "critic_tier", minScore = "min_score", integratorTier = "integrator_tier"
        case maxReforks = "max_reforks", maxTokens = "max_tokens", jsonSchema = "json_schema"
        case timeoutMillis = "timeout_ms", criticExec = "critic_exec", integratorExec = "integrator_exec"
        case minVotes = "min_votes", escalate, verifyTier = "verify_tier", approval, agent, reforkInputs = "refork_inputs"
    }

    // Defaults, in one place.
    public var roleOrDefault: Role { role ?? .explore }
    public var candidates: Int { n ?? 1 }
    /// Candidates and tier of round `round` (re-fork rounds escalate when the step says so).
    public func width(round: Int) -> Int { round > 0 ? escalate?.n ?? candidates : candidates }
    /// Without a `tier`, candidates (the `explore` role) run on the cheap tiers (`worker-`): exploring is where
    /// speculation is wide, and the core tier is for the architect, escalations and integration.
    public func tier(round: Int) -> TierRequirement? {
        round > 0 ? escalate?.tier ?? tierOrDefault : tierOrDefault
    }
    public var tierOrDefault: TierRequirement? { tier ?? (roleOrDefault == .explore ? .cheap : nil) }
    public var joinOrDefault: StepJoin { join ?? .any }
    public var criticsPerCandidate: Int { joinOrDefault.judged ? (critics ?? 1) : 0 }
    public var reforks: Int { maxReforks ?? 1 }
    public var tokens: Int { maxTokens ?? 256 }
}

/// What the architect is asked for when a goal comes as text, and the shape of the steps it writes.
///
/// The architect answers with a decomposition (`Decomposition`): independent subtasks with a speculation count
/// each. Each becomes a copy of `step` (its prompt the subtask, `n` the count, capped by `step.n`), and a final
/// `integrate` step combines them into the answer.
public struct ArchitectSpec: Codable, Sendable, Equatable {
    public var tier: TierRequirement?
    public var maxTokens: Int?
    /// Rounds after the first when the architect's plan is rejected; the reason goes into the next prompt.
    public var maxReforks: Int?
    public var maxSubtasks: Int?
    /// The template for each subtask's step (tier, n cap, join, critics, …).
    public var step: StepSpec?
    /// The template for the final step (tier, …); its role is `integrate`.
    public var integrate: StepSpec?
    /// Run the architect as this program instead of a model call (test doubles).
    public var exec: TaskInput?

    public init(tier: TierRequirement? = nil, maxReforks: Int? = nil, step: StepSpec? = nil, integrate: StepSpec? = nil) {
        self.tier = tier
        self.maxReforks = maxReforks
        self.step = step
        self.integrate = integrate
    }

    enum CodingKeys: String, CodingKey {
        case tier, step, integrate, exec
        case maxTokens = "max_tokens", maxReforks = "max_reforks", maxSubtasks = "max_subtasks"
    }
}

/// A goal as a plan: its text, and steps written by the user or, when there are none, by the architect.
public struct PlanSpec: Codable, Sendable, Equatable {
    /// The goal in words (`{{goal}}` in every template).
    public var goal: String
    public var steps: [StepSpec]?
    /// The step whose output answers the goal (default: the last).
    public var output: String?
    public var architect: ArchitectSpec?
    /// Role frames (`explore`, `critique`, `integrate`, `decompose`, each optionally with a `ROLE.completion`
    /// variant for base models: `PromptFrame`); honeycombd fills the missing ones from its prompts directory at
    /// submission, so the journal holds the exact text every call was rendered from.
    public var prompts: [String: String]?

    public init(goal: String, steps: [StepSpec]? = nil, output: String? = nil, architect: ArchitectSpec? = nil,
                prompts: [String: String]? = nil) {
        self.goal = goal
        self.steps = steps
        self.output = output
        self.architect = architect
        self.prompts = prompts
    }

    /// Roles whose frames the plan needs.
    public var rolesUsed: Set<Role> {
        guard let steps, !steps.isEmpty else { return [.decompose, .explore, .critique, .integrate] }
        var roles: Set<Role> = []
        for s in steps {
            roles.insert(s.roleOrDefault)
            if s.joinOrDefault.judged && s.criticsPerCandidate > 0 { roles.insert(.critique) }
            if case .synthesize = s.joinOrDefault { roles.insert(.integrate) }
        }
        return roles
    }
}
