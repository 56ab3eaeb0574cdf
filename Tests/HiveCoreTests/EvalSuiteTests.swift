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

    @Test func factsAreDealtFromTheTableWithoutRepeatsAndScoredByNormalizedFirstLine() {
        let f = EvalSuite.facts.tasks(count: EvalFacts.rows.count, seed: 4)
        #expect(f == EvalSuite.facts.tasks(count: EvalFacts.rows.count, seed: 4))
        #expect(f.prefix(10) != EvalSuite.facts.tasks(count: 10, seed: 5)[...])
        #expect(Set(f.compactMap(\.answer)).count == Set(EvalFacts.rows.map(\.answer)).count)  // every row once
        #expect(EvalFacts.rows.count >= 60)
        // The few-shot examples are not among the questions asked.
        for row in EvalFacts.rows { #expect(!EvalTask.factsShots.contains(row.question), "\(row.question)") }
        let france = f.first { $0.answer == "Paris" }!
        #expect(france.prompt.hasSuffix("\n\nQ: What is the capital of France?\nA:"))
        #expect(france.isCorrect(" Paris\n\nQ: What is"))
        #expect(france.isCorrect("paris."))
        #expect(!france.isCorrect(" Lyon"))
        #expect(!france.isCorrect(" Paris, France"))
        let us = EvalSuite.facts.tasks(count: 60, seed: 1).first { $0.answer == "Washington, D.C." }!
        #expect(us.isCorrect(" Washington") && us.isCorrect("Washington, D.C.") && !us.isCorrect("New York"))
        #expect(f.allSatisfy { $0.verifyScript == nil })
    }

    @Test func sumsCarryTheirAddendsAndAreReadFromTheFirstLine() {
        let s = EvalSuite.sums.tasks(count: 40, seed: 2)
        #expect(s == EvalSuite.sums.tasks(count: 40, seed: 2))
        for t in s {
            let x = t.addends!
            #expect((10...99).contains(x[0]) && (2...99).contains(x[1]))
            #expect(t.answer == String(x[0] + x[1]))
            #expect(t.prompt.hasPrefix(EvalTask.sumsShots) && t.prompt.hasSuffix("\(x[0]) + \(x[1]) ="))
            #expect(t.verifyScript?.contains("expr \(x[0]) + \(x[1])") == true)
        }
        #expect(s.contains { $0.addends![1] < 10 } && s.contains { $0.addends![1] >= 10 })
        let t = EvalTask(id: "x", suite: .sums, prompt: "", answer: "57", addends: [50, 7])
        #expect(t.isCorrect(" 57") && t.isCorrect("57\n12 + 3 = 15"))
        #expect(!t.isCorrect(" 571") && !t.isCorrect("about 57") && !t.isCorrect(" 56"))
    }
}
