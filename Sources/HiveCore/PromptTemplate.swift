/// `{{name}}` substitution for plan prompts and role frames. Pure, so rendering inside `ControlState.apply`
/// replays identically.
///
/// Names: `goal`, `task`, `inputs`, `feedback`, `candidate`, `candidates`, and `steps.ID` (an earlier step's
/// output). A name the template does not know is an error at submission, not an empty string at run time.
public enum PromptTemplate {
    public static let names: Set<String> = ["goal", "task", "inputs", "feedback", "candidate", "candidates"]

    /// The placeholders in `text`, in order of appearance.
    public static func placeholders(in text: String) -> [String] {
        var out: [String] = []
        var rest = Substring(text)
        while let open = rest.firstRange(of: "{{") {
            guard let close = rest[open.upperBound...].firstRange(of: "}}") else { break }
            out.append(rest[open.upperBound..<close.lowerBound].trimmingCharacters(in: " "))
            rest = rest[close.upperBound...]
        }
        return out
    }

    /// Why `text` cannot be rendered with `steps` available, or nil.
    public static func problem(in text: String, steps: Set<String>) -> String? {
        for p in placeholders(in: text) {
            if p.hasPrefix("steps.") {
                let id = String(p.dropFirst(6))
                if !steps.contains(id) { return "{{\(p)}} names no step among its inputs" }
            } else if !names.contains(p) {
                return "unknown placeholder {{\(p)}} (known: \(names.sorted().joined(separator: ", ")), steps.ID)"
            }
        }
        return nil
    }

    /// `text` with each known placeholder replaced; unknown ones are left as they are.
    public static func render(_ text: String, _ values: [String: String]) -> String {
        var out = ""
        var rest = Substring(text)
        while let open = rest.firstRange(of: "{{") {
            guard let close = rest[open.upperBound...].firstRange(of: "}}") else { break }
            out += rest[..<open.lowerBound]
            let name = rest[open.upperBound..<close.lowerBound].trimmingCharacters(in: " ")
            out += values[name] ?? String(rest[open.lowerBound..<close.upperBound])
            rest = rest[close.upperBound...]
        }
        out += rest
        return out
    }
}

extension Substring {
    fileprivate func trimmingCharacters(in c: Character) -> String {
        String(drop(while: { $0 == c }).reversed().drop(while: { $0 == c }).reversed())
    }
}
