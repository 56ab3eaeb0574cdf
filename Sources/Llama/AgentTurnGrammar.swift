import Foundation

extension JSONGrammar {
    /// The grammar of one agent turn: `{"tool": NAME, "arguments": {…}}` for each tool, its arguments shaped by
    /// the tool's JSON Schema (`schema`, as text), or `{"answer": "…"}`. "tool" comes first, so the model names
    /// the tool before writing arguments for it. A schema this converter cannot express (keywords it does not
    /// support) leaves that tool's arguments any JSON object: the drone checks them against the schema and feeds
    /// the mismatch back. No tools: the answer only (the last turn).
    public static func agentTurn(tools: [(name: String, schema: String)]) -> String {
        var builder = Builder()
        var alternatives: [String] = []
        for tool in tools {
            var arguments = "object"
            if let data = tool.schema.data(using: .utf8),
               let schema = try? JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed]) {
                var attempt = builder
                if let rule = try? attempt.rule(schema, path: "root") {
                    builder = attempt
                    arguments = rule
                }
            }
            let name = builder.gbnfString(builder.jsonString(tool.name))
            alternatives.append(builder.named(#""{" ws "\"tool\"" ws ":" ws "# + name + #" ws "," ws "\"arguments\"" ws ":" ws "#
                                              + arguments + #" "}" ws"#))
        }
        alternatives.append(#""{" ws "\"answer\"" ws ":" ws string "}" ws"#)
        return "root ::= " + alternatives.joined(separator: " | ") + "\n" + builder.rules.joined(separator: "\n") + "\n" + common
    }
}
