/// How a `vote` join decided (or stands): each answer with its votes, how many could vote, and what a winner needs.
/// `hive result` and `hive goal` show it under the answer; answers are compared normalized (`JoinPolicy.normalize`)
/// and shown as their first voter wrote them.
public struct VoteView: Codable, Sendable, Equatable, CustomStringConvertible {
    public struct Tally: Codable, Sendable, Equatable {
        public var answer: String
        public var votes: Int
        public init(answer: String, votes: Int) {
            self.answer = answer
            self.votes = votes
        }
    }

    /// The vote fork's task, or the plan step's node.
    public var task: TaskID
    /// A plan step's id (nil for a vote fork in a task tree).
    public var step: String?
    /// Answers by votes, most first (ties: by answer), at most `VoteView.answersShown`.
    public var tally: [Tally]
    /// Children (or this round's candidates) that could vote, and those still running.
    public var voters: Int
    public var open: Int
    /// The least a winner needs (`min_votes` for a step; 1 for a fork, decided by plurality once all voted).
    public var needed: Int
    /// Votes that decide at once whatever the rest say: more than half of `voters`.
    public var majority: Int
    /// The fork's or step's state and the winning answer once decided.
    public var decided: Bool
    public var winner: String?

    /// Vote joins listed per goal, answers per vote, and characters per answer kept in a view.
    public static let votesShown = 32, answersShown = 16, answerChars = 200

    public var description: String {
        let counts = tally.map { "\(Self.quote($0.answer)) \($0.votes)" }.joined(separator: ", ")
        let what = step.map { "step \($0)" } ?? task
        let state = decided ? (winner.map { "won by \(Self.quote($0))" } ?? "no winner") : "\(open) still voting"
        return "vote \(what): \(counts.isEmpty ? "no answers" : counts) of \(voters) voters (needs \(needed), majority \(majority)); \(state)"
    }

    static func quote(_ s: String) -> String {
        let line = s.split(separator: "\n", omittingEmptySubsequences: true).first.map(String.init) ?? ""
        return "\"" + (line.count > 60 ? String(line.prefix(60)) + "…" : line) + "\""
    }

    static func clip(_ s: String) -> String { s.count > answerChars ? String(s.prefix(answerChars)) + "…" : s }
}

extension ControlState {
    /// The goal's vote joins, forks in its task tree and plan steps, at most `VoteView.votesShown`; nil when none.
    public func voteViews(of goal: GoalID) -> [VoteView]? {
        var views: [VoteView] = []
        for t in tasks(of: goal) where t.join == .vote && views.count < VoteView.votesShown {
            let kids = t.children.compactMap { tasks[$0] }
            let answers = kids.filter { $0.state == .succeeded }.compactMap { $0.result?.output }
            views.append(Self.voteView(task: t.id, step: nil, answers: answers, voters: kids.count,
                                       open: kids.filter { !$0.state.isFinal }.count, needed: 1,
                                       decided: t.state.isFinal, winner: t.state == .succeeded ? t.result?.output : nil))
        }
        for s in goals[goal]?.plan?.steps ?? [] where s.spec.joinOrDefault == .vote && views.count < VoteView.votesShown {
            let round = s.candidates.filter { $0.round == s.round }
            let calls = round.compactMap { tasks[$0.task] }
            let answers = round.filter { $0.rejection == nil && tasks[$0.task]?.state == .succeeded }
                .compactMap { tasks[$0.task]?.result?.output }.filter { !$0.allSatisfy(\.isWhitespace) }
            let escalated = s.round > 0 && s.spec.escalate != nil
            views.append(Self.voteView(task: s.node ?? "", step: s.spec.id, answers: answers, voters: round.count,
                                       open: calls.filter { !$0.state.isFinal }.count, needed: escalated ? 1 : s.spec.minVotes ?? 1,
                                       decided: s.state == .succeeded || s.state == .failed, winner: s.state == .succeeded ? s.output : nil))
        }
        return views.isEmpty ? nil : views
    }

    private static func voteView(task: TaskID, step: String?, answers: [String], voters: Int, open: Int, needed: Int,
                                 decided: Bool, winner: String?) -> VoteView {
        var counts: [String: (first: String, votes: Int)] = [:]
        for a in answers {
            let key = JoinPolicy.normalize(a)
            guard !key.isEmpty else { continue }
            counts[key, default: (a.trimmingWhitespace, 0)].votes += 1
        }
        let ranked = counts.sorted { $0.value.votes != $1.value.votes ? $0.value.votes > $1.value.votes : $0.key < $1.key }
        return VoteView(task: task, step: step,
                        tally: ranked.prefix(VoteView.answersShown).map { .init(answer: VoteView.clip($0.value.first), votes: $0.value.votes) },
                        voters: voters, open: open, needed: needed, majority: voters / 2 + 1, decided: decided,
                        winner: winner.map(VoteView.clip))
    }
}

extension String {
    fileprivate var trimmingWhitespace: String {
        String(drop(while: \.isWhitespace).reversed().drop(while: \.isWhitespace).reversed())
    }
}
