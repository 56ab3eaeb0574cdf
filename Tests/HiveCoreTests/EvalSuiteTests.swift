import HiveCore
import Testing

@Suite struct EvalSuiteTests {
    @Test func theSameSeedGivesTheSameTasksAndAnotherSeedOthers() {
        let a = EvalSuite.arithmetic.tasks(count: 50, seed: 7)
        #expect(a == EvalSuite.arithmetic.tasks(count: 50, seed: 7))
        #expect(a != EvalSuite.arithmetic.tasks(count: 50, seed: 8))
        #expect(Set(a.map(\.prompt)).count > 45)
        let c = EvalSuite.code.tasks(count: 40, seed: 7)
        #expect(Set(c.compactMap(\.family)) == Set(EvalTask.families.map(\.name)))
        #expect(c.allSatisfy { $0.tests?.count == 5 && $0.verifyScript != nil })
    }

    @Test func arithmeticTruthIsComputedFromTheNumbersInThePrompt() {
        // Family 0 as a spot check: frames × cells − empty.
        for t in EvalSuite.arithmetic.tasks(count: 200, seed: 3) where t.prompt.hasPrefix("A hive has") {
            let n = t.prompt.split(whereSeparator: { !$0.isNumber }).compactMap { Int($0) }
            #expect(t.answer == String(n[0] * n[1] - n[2]), "\(t.prompt)")
        }
    }

    @Test func answersAreReadAsTheirFirstInteger() {
        let t = EvalTask(id: "x", suite: .arithmetic, prompt: "", answer: "391")
        #expect(t.isCorrect("391"))
        #expect(t.isCorrect("The answer is 391 cells."))
        #expect(!t.isCorrect("39 or 391"))
        #expect(!t.isCorrect("no idea"))
        #expect(!t.isCorrect(nil))
    }
}
