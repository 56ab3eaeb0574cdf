import FoundationEssentials

/// Where a role's frames live in a plan's `prompts`, and what a completion frame says besides its text.
///
/// Each role has a chat frame under its name (`explore`: instructions for an instruct model) and may have a
/// completion frame under `ROLE.completion` (a few-shot pattern for a base model, ending where the answer starts).
/// A completion frame may begin with one header line naming where the answer ends, since a base model does not
/// stop by itself: it goes on to write the next example.
///
///     stop: ["\n\n", "\nQuestion:"]
///
/// The header is a JSON array of strings; the rest of the file is the template. Frames without a header stop
/// only at the model's end of text, `max_tokens` or their JSON grammar (right for JSON answers, whose
/// whitespace could contain any stop string). A completion prompt ends where the answer starts (`Answer:`), so
/// the one newline that ends the file (editors add it) is not part of the template.
public enum PromptFrame {
    /// The suffix of a role's completion frame in `prompts` (and of its file: `explore.completion.txt`).
    public static let completionSuffix = ".completion"

    /// The key of `role`'s frame for `format` in a plan's `prompts`.
    public static func key(_ role: Role, _ format: PromptFormat) -> String {
        format == .chat ? role.rawValue : role.rawValue + completionSuffix
    }

    /// The roles whose frames a plan may carry (a `verify` call runs a program, never a model).
    public static var framedRoles: [Role] { Role.allCases.filter { $0 != .verify } }

    /// Every key a plan's `prompts` may use.
    public static var keys: [String] { framedRoles.flatMap { [key($0, .chat), key($0, .completion)] } }

    /// A completion frame's stop strings and template, or why its header is unusable.
    public static func completion(_ text: String) -> Result<(stop: [String]?, template: String), PlanRejection> {
        let body = text.hasSuffix("\n") ? String(text.dropLast()) : text
        guard body.hasPrefix("stop:") else { return .success((nil, body)) }
        let line = body.prefix { $0 != "\n" }
        let rest = body.dropFirst(line.count).dropFirst()
        guard let stop = try? JSONDecoder().decode([String].self, from: Data(line.dropFirst(5).utf8)) else {
            return .failure(.init("the stop: header must be a JSON array of strings, like stop: [\"\\n\\n\"]"))
        }
        if stop.count > SpecLimits.stops { return .failure(.init("the stop: header has \(stop.count) strings; at most \(SpecLimits.stops)")) }
        if let s = stop.first(where: { $0.isEmpty || $0.utf8.count > SpecLimits.stopBytes }) {
            return .failure(.init("a stop string must be 1 to \(SpecLimits.stopBytes) bytes, not \(s.utf8.count)"))
        }
        return .success((stop, String(rest)))
    }

    /// Why the frame stored under `key` cannot be used, or nil: an unknown key, a bad header, an unknown
    /// placeholder or `{{steps.ID}}` (frames take `{{inputs}}`; step prompts name steps).
    public static func problem(key: String, text: String) -> String? {
        guard keys.contains(key) else {
            return "'\(key.prefix(64))' is not a role's frame (known: \(keys.joined(separator: ", ")))"
        }
        var template = text
        if key.hasSuffix(completionSuffix) {
            switch completion(text) {
            case .success(let parsed): template = parsed.template
            case .failure(let why): return why.description
            }
        }
        if template.contains("{{steps.") { return "it uses {{steps.ID}}; frames take {{inputs}}, step prompts name steps" }
        return PromptTemplate.problem(in: template, steps: [])
    }
}
