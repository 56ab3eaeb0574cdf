/// Seeded evaluation tasks whose truth the program computes (`hive eval`): exact-answer arithmetic word
/// problems, small programs checked by hidden tests on verify drones, and two suites a small base model can partly
/// solve through few-shot completion prompts: `facts` (answers from `EvalFacts`, joined by vote) and `sums`
/// (two-digit additions whose candidates a checker program verifies). No downloads; the same seed gives the same
/// tasks on every machine.
public enum EvalSuite: String, Codable, Sendable, CaseIterable {
    case arithmetic, code, facts, sums

    /// `count` tasks from `seed`.
    public func tasks(count: Int, seed: UInt64) -> [EvalTask] {
        let stream: UInt64 = switch self { case .arithmetic: 0; case .code: 1; case .facts: 2; case .sums: 3 }
        var rng = SplitMix64(seed: seed &* 0x2545_F491_4F6C_DD1D &+ stream)
        // Facts are drawn without repeats until the table is used up (then it is dealt again, reshuffled).
        var deck: [Int] = []
        return (0..<count).map { i in
            switch self {
            case .arithmetic: return EvalTask.arithmetic(index: i, rng: &rng)
            case .code: return EvalTask.code(index: i, rng: &rng)
            case .facts:
                if deck.isEmpty { deck = Array(EvalFacts.rows.indices).shuffled(using: &rng) }
                return EvalTask.fact(index: i, row: EvalFacts.rows[deck.removeLast()])
            case .sums: return EvalTask.sum(index: i, rng: &rng)
            }
        }
    }

    /// Whether the suite's prompts are few-shot completions sent as written (no role frame around them): the plan
    /// carries `EvalTask.rawFrames`.
    public var isCompletion: Bool { self == .facts || self == .sums }
}

/// One hidden test of a program: its stdin line and the expected stdout.
public struct EvalCase: Codable, Sendable, Equatable {
    public var input: String
    public var output: String
}

/// One evaluation task: the prompt a model sees, and the truth it does not.
public struct EvalTask: Codable, Sendable, Equatable {
    public var id: String
    public var suite: EvalSuite
    public var prompt: String
    /// Arithmetic: the exact answer.
    public var answer: String?
    /// Code: the problem family (what a correct program computes) and its hidden tests.
    public var family: String?
    public var tests: [EvalCase]?
    /// Facts: other spellings that count as the answer.
    public var alternatives: [String]?
    /// Sums: the two addends, which the verify check adds itself.
    public var addends: [Int]?

    public init(id: String, suite: EvalSuite, prompt: String, answer: String? = nil, family: String? = nil,
                tests: [EvalCase]? = nil, alternatives: [String]? = nil, addends: [Int]? = nil) {
        self.id = id
        self.suite = suite
        self.prompt = prompt
        self.answer = answer
        self.family = family
        self.tests = tests
        self.alternatives = alternatives
        self.addends = addends
    }

    static func arithmetic(index: Int, rng: inout SplitMix64) -> EvalTask {
        func r(_ range: ClosedRange<Int>) -> Int { Int.random(in: range, using: &rng) }
        let a = r(3...40), b = r(2...30), c = r(1...60)
        let text: String
        let truth: Int
        switch r(0...4) {
        case 0:
            text = "A hive has \(a) frames with \(b) cells each, and \(min(c, a * b)) of the cells are empty. How many cells are full?"
            truth = a * b - min(c, a * b)
        case 1:
            let given = min(c % a, a - 1)
            text = "A beekeeper has \(a) hives and gives \(given) of them away. Each remaining hive makes \(b) kg of honey. How many kg of honey does the beekeeper get?"
            truth = (a - given) * b
        case 2:
            text = "\(a) drones each run \(b) tasks, and \(c) of those runs fail and are run once more. How many runs are there in all?"
            truth = a * b + c
        case 3:
            text = "A meadow has \(a) rows of \(b) flowers. A bee visits \(c) flowers a minute. How many whole minutes until every flower has had a visit (round up)?"
            truth = (a * b + c - 1) / c
        default:
            text = "\(a * b + c) jars of honey are shared evenly among \(b) people, each getting as many whole jars as possible. How many jars are left over?"
            truth = (a * b + c) % b
        }
        return EvalTask(id: "arithmetic-\(index)", suite: .arithmetic,
                        prompt: text + " Answer with the number only.", answer: String(truth))
    }

    /// The few-shot examples of the `facts` prompt (none of them is in `EvalFacts.rows`).
    public static let factsShots = """
        Q: What is the capital of Italy?
        A: Rome

        Q: What is the chemical symbol for gold?
        A: Au

        Q: What is the opposite of wet?
        A: dry

        Q: What is the capital of Japan?
        A: Tokyo

        Q: What is the chemical symbol for argon?
        A: Ar

        Q: What is the opposite of young?
        A: old
        """

    static func fact(index: Int, row: EvalFacts.Row) -> EvalTask {
        EvalTask(id: "facts-\(index)", suite: .facts, prompt: factsShots + "\n\nQ: \(row.question)\nA:", answer: row.answer,
                 alternatives: row.also.isEmpty ? nil : row.also)
    }

    /// The few-shot examples of the `sums` prompt: two-digit plus one- and two-digit, carries included.
    public static let sumsShots = "12 + 7 = 19\n35 + 8 = 43\n21 + 46 = 67\n58 + 27 = 85\n"

    /// Half the sums are two-digit + one-digit, half two-digit + two-digit.
    static func sum(index: Int, rng: inout SplitMix64) -> EvalTask {
        let a = Int.random(in: 10...99, using: &rng)
        let b = Bool.random(using: &rng) ? Int.random(in: 2...9, using: &rng) : Int.random(in: 10...99, using: &rng)
        return EvalTask(id: "sums-\(index)", suite: .sums, prompt: sumsShots + "\(a) + \(b) =", answer: String(a + b),
                        addends: [a, b])
    }

    /// The role frames a completion suite's plan carries: the task's prompt alone (chat and completion), ending at
    /// the line's end. The prompt is already the few-shot pattern; the default frames would wrap it in another.
    public static let rawFrames: [String: String] = ["explore": "{{task}}", "explore.completion": "stop: [\"\\n\"]\n{{task}}"]

    /// Program families: what the program computes from one line of integers on stdin.
    public struct Family: Sendable {
        public let name: String
        public let spec: String
        public let compute: @Sendable ([Int]) -> Int
        public let arity: Int
        init(_ name: String, _ spec: String, _ compute: @escaping @Sendable ([Int]) -> Int, _ arity: Int) {
            self.name = name
            self.spec = spec
            self.compute = compute
            self.arity = arity
        }
    }

    public static let families: [Family] = [
        Family("sum-range", "two integers A and B (A <= B) and prints the sum of the integers from A to B inclusive",
               { x in (x[0]...x[1]).reduce(0, +) }, 2),
        Family("gcd", "two positive integers and prints their greatest common divisor", { x in gcd(x[0], x[1]) }, 2),
        Family("max", "five integers and prints the largest", { x in x.max()! }, 5),
        Family("digits", "one non-negative integer and prints how many decimal digits it has", { x in String(x[0]).count }, 1),
    ]

    static func code(index: Int, rng: inout SplitMix64) -> EvalTask {
        let f = families[Int.random(in: 0..<families.count, using: &rng)]
        var tests: [EvalCase] = []
        for _ in 0..<5 {
            var xs = (0..<f.arity).map { _ in Int.random(in: 1...999, using: &rng) }
            if f.name == "sum-range" { xs.sort() }
            tests.append(EvalCase(input: xs.map(String.init).joined(separator: " "), output: String(f.compute(xs))))
        }
        let prompt = "Write a POSIX sh script that reads one line from standard input holding \(f.spec). Print only the script."
        return EvalTask(id: "code-\(index)", suite: .code, prompt: prompt, family: f.name, tests: tests)
    }

    /// The `verify` check: hidden tests for a code task, the sum for a sums task (nil for the rest).
    public var verifyScript: String? {
        if let addends, addends.count == 2 { return Self.sumCheck(addends[0], addends[1]) }
        return codeCheck
    }

    /// A sums candidate's check: its first line must start with the sum, which the check computes with `expr`.
    /// Exit 0 and `s = a + b: ok` when it does; exit 1 with what was wrong when not.
    static func sumCheck(_ a: Int, _ b: Int) -> String {
        """
        IFS= read -r line || [ -n "$line" ] || { echo "no answer"; exit 1; }
        got=$(printf '%s\\n' "$line" | sed -n 's/^[[:space:]]*\\(-\\{0,1\\}[0-9][0-9]*\\).*/\\1/p')
        want=$(expr \(a) + \(b))
        [ "$got" = "$want" ] || { echo "'$line' is not \(a) + \(b)"; exit 1; }
        echo "$got = \(a) + \(b): ok"
        """
    }

    /// The `verify` check for a code task: runs the candidate (markdown fences stripped) on each hidden test with
    /// `sh`, a 5 s limit each; exit 0 only if every output matches. The candidate arrives on stdin.
    var codeCheck: String? {
        guard let tests else { return nil }
        var lines = ["f=$(mktemp) || exit 2", "sed '/^```/d' > \"$f\"",
                     "check() { out=$(printf '%s\\n' \"$1\" | timeout 5 sh \"$f\" 2>/dev/null); " +
                     "[ \"$out\" = \"$2\" ] || { echo \"input '$1': expected '$2', got '$out'\"; rm -f \"$f\"; exit 1; }; }"]
        for t in tests { lines.append("check '\(t.input)' '\(t.output)'") }
        lines.append("rm -f \"$f\"")
        lines.append("echo pass")
        return lines.joined(separator: "\n")
    }

    /// Whether `output` answers the task (arithmetic: the first integer in it is the answer; facts: the first
    /// line, normalized, is the answer or one of its other spellings; sums: the first line starts with the sum).
    /// Code tasks are judged by their verify check, so the step's success is the answer.
    public func isCorrect(_ output: String?) -> Bool {
        guard let answer else { return output != nil }
        guard let output else { return false }
        switch suite {
        case .facts:
            let said = EvalFacts.normalized(output)
            return ([answer] + (alternatives ?? [])).contains { EvalFacts.normalized($0) == said }
        case .sums:
            let line = output.drop { $0.isWhitespace }
            let digits = line.prefix { $0.isNumber || $0 == "-" }
            return !digits.isEmpty && digits == answer
        case .arithmetic, .code: break
        }
        var digits = ""
        for ch in output {
            if ch.isNumber || (ch == "-" && digits.isEmpty) { digits.append(ch) } else if !digits.isEmpty && digits != "-" { break } else { digits = "" }
        }
        return digits == answer
    }
}

private func gcd(_ a: Int, _ b: Int) -> Int { b == 0 ? a : gcd(b, a % b) }
