/// The `facts` suite's truth: questions a small base model partly knows, each with its exact answer (and the
/// spellings that also count). Shipped in the program so the suite needs no files and no downloads; the
/// few-shot examples in `EvalTask.factsPrompt` are deliberately not in the table.
public enum EvalFacts {
    /// One row: the question, its answer, and other spellings that count as the same answer.
    public struct Row: Sendable, Equatable {
        public let question: String
        public let answer: String
        public let also: [String]
        init(_ question: String, _ answer: String, also: [String] = []) {
            self.question = question
            self.answer = answer
            self.also = also
        }
    }

    static func capital(_ country: String, _ city: String, also: [String] = []) -> Row {
        Row("What is the capital of \(country)?", city, also: also)
    }

    static func symbol(_ element: String, _ symbol: String) -> Row {
        Row("What is the chemical symbol for \(element)?", symbol)
    }

    static func opposite(_ word: String, _ other: String, also: [String] = []) -> Row {
        Row("What is the opposite of \(word)?", other, also: also)
    }

    /// 30 capitals (some with a well-known wrong belief: Canada, Australia, Brazil, Turkey), 20 chemical symbols,
    /// 10 opposites.
    public static let rows: [Row] = [
        capital("France", "Paris"), capital("Germany", "Berlin"), capital("Spain", "Madrid"),
        capital("Portugal", "Lisbon"), capital("Greece", "Athens"), capital("Egypt", "Cairo"),
        capital("Russia", "Moscow"), capital("China", "Beijing", also: ["Peking"]), capital("India", "New Delhi", also: ["Delhi"]),
        capital("Canada", "Ottawa"), capital("Australia", "Canberra"), capital("Brazil", "Brasília", also: ["Brasilia"]),
        capital("Turkey", "Ankara"), capital("Kenya", "Nairobi"), capital("Argentina", "Buenos Aires"),
        capital("Mexico", "Mexico City"), capital("Norway", "Oslo"), capital("Sweden", "Stockholm"),
        capital("Finland", "Helsinki"), capital("Poland", "Warsaw"), capital("Austria", "Vienna"),
        capital("Ireland", "Dublin"), capital("Peru", "Lima"), capital("Chile", "Santiago"),
        capital("Thailand", "Bangkok"), capital("South Korea", "Seoul"), capital("Vietnam", "Hanoi"),
        capital("Switzerland", "Bern", also: ["Berne"]), capital("New Zealand", "Wellington"),
        capital("the United States", "Washington, D.C.", also: ["Washington", "Washington DC", "Washington D.C."]),
        symbol("oxygen", "O"), symbol("hydrogen", "H"), symbol("carbon", "C"), symbol("nitrogen", "N"),
        symbol("iron", "Fe"), symbol("silver", "Ag"), symbol("sodium", "Na"), symbol("potassium", "K"),
        symbol("copper", "Cu"), symbol("lead", "Pb"), symbol("helium", "He"), symbol("calcium", "Ca"),
        symbol("tin", "Sn"), symbol("mercury", "Hg"), symbol("zinc", "Zn"), symbol("sulfur", "S"),
        symbol("chlorine", "Cl"), symbol("neon", "Ne"), symbol("uranium", "U"), symbol("magnesium", "Mg"),
        opposite("hot", "cold"), opposite("big", "small", also: ["little"]), opposite("up", "down"),
        opposite("day", "night"), opposite("fast", "slow"), opposite("open", "closed", also: ["close", "shut"]),
        opposite("early", "late"), opposite("full", "empty"), opposite("light", "dark", also: ["heavy"]),
        opposite("win", "lose"),
    ]

    /// An answer as compared: its first line, trimmed, lowercased, without surrounding quotes or a final full
    /// stop, inner whitespace collapsed ("  Paris." and "paris" are the same answer).
    public static func normalized(_ text: String) -> String {
        let line = text.drop { $0.isWhitespace }.prefix { $0 != "\n" && $0 != "\r" }
        var s = line.lowercased().split(whereSeparator: \.isWhitespace).joined(separator: " ")
        while let last = s.last, ".!\"'`".contains(last) { s.removeLast() }
        while let first = s.first, "\"'`".contains(first) { s.removeFirst() }
        return s
    }
}
