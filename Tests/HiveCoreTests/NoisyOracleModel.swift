import HiveCore

/// TEST DOUBLE for the answers of a language model. A real model cannot be run thousands of times per test here,
/// and the point is to check the join logic against probability, so this stands in for the model's *text*.
///
/// Each candidate answers right with probability `p`. With probability `correlation` a question is a shared trap:
/// one draw decides for every candidate at once (all right, or all giving the same wrong answer), the
/// common-mode failure of candidates that share a model and a prompt. Otherwise candidates err independently.
/// Every wrong answer is the same plausible mistake, the worst case for voting (wrong answers never split), which
/// makes plurality voting exactly a binary majority and the expected accuracy a closed form (`expectedAccuracy`).
struct NoisyOracleModel {
    let p: Double
    let correlation: Double
    var rng: SplitMix64

    init(p: Double, correlation: Double = 0, seed: UInt64) {
        self.p = p
        self.correlation = correlation
        rng = SplitMix64(seed: seed)
    }

    /// `n` candidate answers to one question.
    mutating func answers(truth: String, mistake: String, n: Int) -> [String] {
        if Double.random(in: 0..<1, using: &rng) < correlation {
            let shared = Double.random(in: 0..<1, using: &rng) < p ? truth : mistake
            return Array(repeating: shared, count: n)
        }
        return (0..<n).map { _ in Double.random(in: 0..<1, using: &rng) < p ? truth : mistake }
    }

    /// The probability that a majority of `n` (odd) candidates is right:
    /// correlation·p + (1 − correlation)·P(Binomial(n, p) > n/2).
    func expectedAccuracy(n: Int) -> Double {
        var independent = 0.0
        for k in (n / 2 + 1)...n {
            independent += binomial(n, k) * pow(p, Double(k)) * pow(1 - p, Double(n - k))
        }
        return correlation * p + (1 - correlation) * independent
    }

    private func binomial(_ n: Int, _ k: Int) -> Double {
        (0..<k).reduce(1.0) { $0 * Double(n - $1) / Double($1 + 1) }
    }

    private func pow(_ x: Double, _ e: Double) -> Double {
        var r = 1.0
        for _ in 0..<Int(e) { r *= x }
        return r
    }
}
