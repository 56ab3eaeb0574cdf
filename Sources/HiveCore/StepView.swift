/// A plan step as `hive result` shows it: its outcome and every candidate's provenance (who proposed it, its
/// check, who judged it and how, whether the join used it).
public struct StepView: Codable, Sendable, Equatable {
    public struct Judge: Codable, Sendable, Equatable {
        public var task: TaskID
        public var drone: DroneID?
        /// Nil when the critic failed or gave no usable score.
        public var score: Double?
        public var reasons: String?
    }

    public struct Candidate: Codable, Sendable, Equatable {
        public var task: TaskID
        public var round: Int
        public var state: TaskState
        public var drone: DroneID?
        public var tier: Tier?
        public var output: String?
        /// Whether its check passed; nil when the step has none, it did not get that far, or the check was cancelled
        /// (another candidate had already won).
        public var verified: Bool?
        public var score: Double?
        public var judges: [Judge]
        public var accepted: Bool
        public var rejection: String?
    }

    public var id: String
    public var role: Role
    public var state: StepState
    public var join: String
    /// Rounds run (1 + re-forks).
    public var rounds: Int
    public var output: String?
    public var reason: String?
    public var feedback: [String]
    public var candidates: [Candidate]
    /// The integrator's task for `synthesize`, with its drone.
    public var integrator: TaskID?
    public var integratorDrone: DroneID?

    enum CodingKeys: String, CodingKey {
        case id, role, state, join, rounds, output, reason, feedback, candidates, integrator
        case integratorDrone = "integrator_drone"
    }
}

extension ControlState {
    /// The steps of a plan goal with their candidates' provenance; nil for a task-tree goal.
    public func stepViews(of goal: GoalID) -> [StepView]? {
        guard let plan = goals[goal]?.plan else { return nil }
        return plan.steps.map { s in
            let critiques = (s.node.flatMap { tasks[$0]?.children } ?? []).filter { tasks[$0]?.role == .critique }
            let candidates = s.candidates.map { c -> StepView.Candidate in
                let t = tasks[c.task]
                let check = c.verify.flatMap { tasks[$0] }
                let judges = judgements(of: c.task, among: critiques).map {
                    StepView.Judge(task: $0.task, drone: $0.drone, score: $0.verdict?.score, reasons: $0.verdict?.reasons)
                }
                return StepView.Candidate(task: c.task, round: c.round, state: t?.state ?? .cancelled, drone: t?.result?.drone,
                                          tier: t?.result?.tier, output: t?.result?.output,
                                          // A check cancelled because another candidate already won said nothing: neither passed nor failed.
                                          verified: check.flatMap { $0.state.isFinal && $0.state != .cancelled ? ($0.state == .succeeded && $0.result?.exitCode == 0) : nil },
                                          score: c.score, judges: judges, accepted: c.accepted, rejection: c.rejection)
            }
            return StepView(id: s.spec.id, role: s.spec.roleOrDefault, state: s.state, join: s.spec.joinOrDefault.description,
                            rounds: s.state == .waiting ? 0 : s.round + 1, output: s.output, reason: s.reason,
                            feedback: s.feedback, candidates: candidates, integrator: s.integrator,
                            integratorDrone: s.integrator.flatMap { tasks[$0]?.result?.drone })
        }
    }
}
