/// Where a plan step is. `exploring`: candidates (and their verify checks) run. `judging`: critics score the
/// valid candidates. `integrating`: the integrator synthesizes the shortlist.
public enum StepState: String, Codable, Sendable {
    case waiting, exploring, judging, integrating, succeeded, failed

    public var isActive: Bool { self == .exploring || self == .judging || self == .integrating }
}

/// One candidate a step produced: who proposed it, whether its check passed, its score, and whether the join
/// used it. Who judged it is read from the critique tasks that name it (`TaskRecord.candidate`).
public struct CandidateRecord: Codable, Sendable, Equatable {
    public var task: TaskID
    public var round: Int
    /// The verify task run on it, when the step has a check.
    public var verify: TaskID?
    /// The critics' mean score, once they have all reported.
    public var score: Double?
    public var accepted = false
    /// Why the join could not use it (failed, check failed, rejected plan, …).
    public var rejection: String?

    public init(task: TaskID, round: Int) {
        self.task = task
        self.round = round
    }
}

/// A step's progress (durable: part of the goal record, rebuilt by replay).
public struct StepRecord: Codable, Sendable {
    public var spec: StepSpec
    /// The step's node in the goal's task tree (its children are every call it made).
    public var node: TaskID?
    public var state: StepState = .waiting
    /// Re-fork round, from 0.
    public var round = 0
    public var candidates: [CandidateRecord] = []
    /// This round's critique tasks.
    public var critiques: [TaskID] = []
    /// Candidates handed to the integrator, and its task.
    public var shortlist: [TaskID] = []
    public var integrator: TaskID?
    /// Why earlier rounds failed validation; rendered into the next round's prompts as `{{feedback}}`.
    public var feedback: [String] = []
    public var output: String?
    public var reason: String?

    public init(spec: StepSpec) { self.spec = spec }

    /// Applies `change` in place (lets optional chaining reach a step without copying the plan).
    mutating func update(_ change: (inout StepRecord) -> Void) { change(&self) }
}

/// A plan goal's durable state: its text, its steps (the architect's are appended when its plan is accepted),
/// and the role frames every call is rendered from.
public struct PlanRecord: Codable, Sendable {
    public var goal: String
    public var steps: [StepRecord]
    /// The step whose output answers the goal.
    public var output: String?
    public var prompts: [String: String]
    public var architect: ArchitectSpec?

    public func index(ofNode node: TaskID) -> Int? { steps.firstIndex { $0.node == node } }
}
