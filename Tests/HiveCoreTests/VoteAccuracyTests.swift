import HiveCore
import Testing

/// Pins the `vote` join against the math of majority voting: the candidates' answers come from
/// `NoisyOracleModel` (a test double for model text) and are decided by the real control state, so a bug in
/// counting, normalization, early decision or tie-breaking shows up as accuracy off the closed form.
@Suite struct VoteAccuracyTests {
    static let questions = 2_000

    /// Fraction of `questions` whose vote-joined answer (decided by ControlState) is the truth.
    func accuracy(_ model: inout NoisyOracleModel, n: Int) throws -> Double {
        var right = 0
        for q in 0..<Self.questions {
            let truth = "\(q * 7 + 3)", mistake = "\(q * 7 + 4)"
            let answers = model.answers(truth: truth, mistake: mistake, n: n)
            let h = Harness()
            h.drone("d", slots: n)
            let g = try h.submit(.fork(exec(n, maxAttempts: 1), join: .vote))
            for (lease, answer) in zip(h.schedule(), answers) where h.goal(g).state == .running {
                _ = h.finish(lease.assignment, drone: lease.drone, output: answer)
            }
            #expect(h.goal(g).state == .succeeded)
            if h.state.tasks[h.goal(g).root]?.result?.output == truth { right += 1 }
        }
        return Double(right) / Double(Self.questions)
    }

    /// Four standard errors of a proportion near `a` over `questions` trials: a seeded run far outside this
    /// is a logic error, not bad luck.
    func tolerance(_ a: Double) -> Double { 4 * (a * (1 - a) / Double(Self.questions)).squareRoot() + 0.005 }

    @Test func independentErrorsAboveHalfMakeMajorityAccuracyRiseWithN() throws {
        var model = NoisyOracleModel(p: 0.7, seed: 1)
        var previous = 0.0
        for n in [1, 3, 5, 9] {
            let measured = try accuracy(&model, n: n)
            let expected = model.expectedAccuracy(n: n)
            #expect(abs(measured - expected) <= tolerance(expected), "n=\(n): measured \(measured), math \(expected)")
            #expect(measured > previous, "n=\(n): accuracy should rise with more independent voters")
            previous = measured
        }
        #expect(previous > 0.85, "nine voters at p=0.7 should be right about 90% of the time")
    }

    @Test func independentErrorsBelowHalfMakeVotingWorse() throws {
        var model = NoisyOracleModel(p: 0.4, seed: 2)
        let one = try accuracy(&model, n: 1)
        let nine = try accuracy(&model, n: 9)
        #expect(abs(nine - model.expectedAccuracy(n: 9)) <= tolerance(model.expectedAccuracy(n: 9)))
        #expect(nine < one, "a majority of voters who are usually wrong is wrong more often")
    }

    @Test func correlatedErrorsCapWhatVotingCanBuy() throws {
        var independent = NoisyOracleModel(p: 0.7, seed: 3)
        var correlated = NoisyOracleModel(p: 0.7, correlation: 0.5, seed: 3)
        let cap = 0.5 * 0.7 + 0.5  // even infinitely many voters only fix the independent half
        let gainIndependent = try accuracy(&independent, n: 9) - accuracy(&independent, n: 1)
        let oneCorrelated = try accuracy(&correlated, n: 1)
        let nineCorrelated = try accuracy(&correlated, n: 9)
        let expected = correlated.expectedAccuracy(n: 9)
        #expect(abs(nineCorrelated - expected) <= tolerance(expected), "measured \(nineCorrelated), math \(expected)")
        #expect(nineCorrelated < cap + tolerance(cap))
        #expect(nineCorrelated - oneCorrelated < gainIndependent, "shared mistakes shrink what extra voters buy")
    }
}
