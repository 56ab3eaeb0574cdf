import FoundationEssentials

/// The architect's answer for a goal given as text: independent subtasks, each with how many candidates it is
/// worth (speculation where it pays). Checked by `validated`; a rejected one is never half-executed.
public struct Decomposition: Codable, Sendable, Equatable {
    public struct Subtask: Codable, Sendable, Equatable {
        public var task: String
        public var candidates: Int
    }
    public var subtasks: [Subtask]

    /// The JSON Schema the architect's output is constrained to (`maxSubtasks` items at most).
    public static func schema(maxSubtasks: Int) -> String {
        """
        {"type":"object","properties":{"subtasks":{"type":"array","minItems":1,"maxItems":\(maxSubtasks),\
        "items":{"type":"object","properties":{"task":{"type":"string","maxLength":200},\
        "candidates":{"enum":[1,2,3,4,5]}},"required":["task","candidates"]}}},"required":["subtasks"]}
        """
    }

    /// The decomposition in the architect's output, or why it is rejected (the reason goes into the next round's
    /// prompt).
    public static func validated(_ text: String, maxSubtasks: Int) -> Result<Decomposition, PlanRejection> {
        guard let open = text.firstIndex(of: "{"), let close = text.lastIndex(of: "}"), open < close else {
            return .failure(.init("the plan is not a JSON object"))
        }
        let d: Decomposition
        do { d = try JSONDecoder().decode(Decomposition.self, from: Data(text[open...close].utf8)) } catch {
            return .failure(.init("the plan does not match the schema ({\"subtasks\": [{\"task\": text, \"candidates\": 1-5}]})"))
        }
        if d.subtasks.isEmpty { return .failure(.init("the plan has no subtasks")) }
        if d.subtasks.count > maxSubtasks {
            return .failure(.init("the plan has \(d.subtasks.count) subtasks; at most \(maxSubtasks) are allowed"))
        }
        for (i, s) in d.subtasks.enumerated() {
            if s.task.allSatisfy({ $0.isWhitespace || $0.isPunctuation }) {
                return .failure(.init("subtask \(i + 1) has no task text"))
            }
            if !(1...5).contains(s.candidates) {
                return .failure(.init("subtask \(i + 1) asks for \(s.candidates) candidates; 1 to 5 are allowed"))
            }
        }
        // Small models repeat themselves inside the grammar (a base model copies its pattern until maxItems): the
        // same subtask twice is one step, with the most candidates asked for, not the same work done twice.
        var merged = Decomposition(subtasks: [])
        var index: [String: Int] = [:]
        for s in d.subtasks {
            let key = JoinPolicy.normalize(s.task)
            if let i = index[key] {
                merged.subtasks[i].candidates = max(merged.subtasks[i].candidates, s.candidates)
            } else {
                index[key] = merged.subtasks.count
                merged.subtasks.append(s)
            }
        }
        return .success(merged)
    }
}

/// Why an architect's plan was refused.
public struct PlanRejection: Error, Equatable, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
