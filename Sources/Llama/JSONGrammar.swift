import Foundation

/// GBNF grammars (llama.cpp's grammar format) that force a model's output to be JSON.
///
/// Small local models are the ones that most need this: a sampler that can only pick tokens the grammar allows
/// makes "return JSON" a guarantee rather than a hope. Whitespace and number lengths are bounded so a weak model
/// cannot wander forever inside a valid document.
public enum JSONGrammar {
    static let common = #"""
    ws ::= [ \t\n]{0,2}
    string ::= "\"" char* "\"" ws
    char ::= [^"\\\x7F\x00-\x1F] | "\\" (["\\/bfnrt] | "u" [0-9a-fA-F]{4})
    integer ::= "-"? ([0-9] | [1-9] [0-9]{1,8}) ws
    number ::= "-"? ([0-9] | [1-9] [0-9]{1,8}) ("." [0-9]{1,6})? ([eE] [-+]? [0-9]{1,2})? ws
    boolean ::= ("true" | "false") ws
    null ::= "null" ws
    value ::= object | array | string | number | boolean | null
    object ::= "{" ws ( string ":" ws value ( "," ws string ":" ws value )* )? "}" ws
    array ::= "[" ws ( value ( "," ws value )* )? "]" ws
    """#

    /// Any JSON object.
    public static var anyObject: String { "root ::= object\n" + common }

    /// A grammar for a JSON Schema. Supported: `type` (object, array, string, integer, number, boolean, null, or
    /// a list of them), `properties` (all are emitted, in sorted key order), `items`, `maxItems`, `enum`,
    /// `const`, `maxLength`; anything else is refused with the keyword named.
    public static func fromSchema(_ text: String) throws(LlamaError) -> String {
        guard let data = text.data(using: .utf8),
              let schema = try? JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed]) else {
            throw .invalidSchema("the schema is not valid JSON")
        }
        var builder = Builder()
        let root = try builder.rule(schema, path: "root")
        return "root ::= \(root)\n" + builder.rules.joined(separator: "\n") + "\n" + common
    }

    struct Builder {
        var rules: [String] = []
        var counter = 0
        static let supported: Set<String> = [
            "type", "properties", "items", "maxItems", "enum", "const", "maxLength", "required", "additionalProperties",
            "title", "description", "$schema", "minItems", "minimum", "maximum", "format", "default", "examples",
            // Bounds the grammar does not encode; honeycombd checks every answer against them (JSONSchemaCheck).
            "minLength", "exclusiveMinimum", "exclusiveMaximum",
        ]

        /// The longest `maxLength` the grammar encodes (the schema check holds longer ones: `JSONSchemaCheck`).
        static let maxEncodedLength = 256

        mutating func named(_ body: String) -> String {
            counter += 1
            let name = "r\(counter)"
            rules.append("\(name) ::= \(body)")
            return name
        }

        mutating func rule(_ schema: Any, path: String) throws(LlamaError) -> String {
            if let b = schema as? Bool { return b ? "value" : "null" }
            guard let s = schema as? [String: Any] else { throw .invalidSchema("\(path) must be an object") }
            for key in s.keys where !Builder.supported.contains(key) {
                throw .invalidSchema("\(path) uses '\(key)', which this grammar converter does not support")
            }
            if let c = s["const"] { return try literal(c, path: path) }
            if let e = s["enum"] as? [Any] {
                guard !e.isEmpty else { throw .invalidSchema("\(path).enum is empty") }
                var alts: [String] = []
                for v in e { alts.append(try literal(v, path: path)) }
                return named("(" + alts.joined(separator: " | ") + ")")
            }
            if let types = s["type"] as? [String] {
                var alts: [String] = []
                for t in types {
                    var one = s
                    one["type"] = t
                    alts.append(try rule(one, path: path))
                }
                return named("(" + alts.joined(separator: " | ") + ")")
            }
            switch s["type"] as? String {
            case nil: return "value"
            case "string":
                // llama.cpp expands `char{m,n}` into n nested rules, and a grammar of thousands of them stalls the
                // sampler (a drone missed its heartbeats on a 1024-byte bound): bounds past `maxEncodedLength`
                // (minimum or maximum, from a schema an MCP server may have written) are left to the check.
                let least = s["minLength"] as? Int ?? 0
                guard (0...Self.maxEncodedLength).contains(least) else { return "string" }
                if let n = s["maxLength"] as? Int, n <= Self.maxEncodedLength {
                    return named("\"\\\"\" char{\(least),\(max(n, least))} \"\\\"\" ws")
                }
                if least > 0 { return named("\"\\\"\" char{\(least),} \"\\\"\" ws") }
                return "string"
            case "integer": return "integer"
            case "number": return "number"
            case "boolean": return "boolean"
            case "null": return "null"
            case "array":
                let item = try s["items"].map { v throws(LlamaError) in try rule(v, path: path + ".items") } ?? "value"
                // minItems: the first `min` items are required, the rest up to maxItems optional.
                let min = max(0, s["minItems"] as? Int ?? 0)
                // Repetition bounds past `maxEncodedLength` are left to the check, as for strings.
                if min > Self.maxEncodedLength { return named("\"[\" ws ( \(item) ( \",\" ws \(item) )* )? \"]\" ws") }
                if let max = s["maxItems"] as? Int, max <= Self.maxEncodedLength {
                    if max < min { throw .invalidSchema("\(path) has maxItems below minItems") }
                    if max == 0 { return named("\"[\" ws \"]\" ws") }
                    let more = "( \",\" ws \(item) ){\(Swift.max(0, min - 1)),\(max - 1)}"
                    return named(min > 0 ? "\"[\" ws \(item) \(more) \"]\" ws" : "\"[\" ws ( \(item) \(more) )? \"]\" ws")
                }
                if min > 0 { return named("\"[\" ws \(item) ( \",\" ws \(item) ){\(min - 1),} \"]\" ws") }
                return named("\"[\" ws ( \(item) ( \",\" ws \(item) )* )? \"]\" ws")
            case "object":
                guard let props = s["properties"] as? [String: Any], !props.isEmpty else { return "object" }
                var parts: [String] = []
                for key in props.keys.sorted() {
                    let v = try rule(props[key]!, path: path + "." + key)
                    parts.append("\(gbnfString(jsonString(key))) ws \":\" ws \(v)")
                }
                return named("\"{\" ws " + parts.joined(separator: " \",\" ws ") + " \"}\" ws")
            case let t?:
                throw .invalidSchema("\(path) has unknown type '\(t)'")
            }
        }

        func literal(_ v: Any, path: String) throws(LlamaError) -> String {
            guard let data = try? JSONSerialization.data(withJSONObject: v, options: [.fragmentsAllowed]),
                  let json = String(data: data, encoding: .utf8) else {
                throw .invalidSchema("\(path) has a value that cannot be written as JSON")
            }
            return gbnfString(json) + " ws"
        }

        func jsonString(_ s: String) -> String {
            let data = (try? JSONSerialization.data(withJSONObject: s, options: [.fragmentsAllowed])) ?? Data()
            return String(data: data, encoding: .utf8) ?? "\"\""
        }

        /// A GBNF terminal for exactly `text`.
        func gbnfString(_ text: String) -> String {
            var out = "\""
            for c in text.unicodeScalars {
                switch c {
                case "\"": out += "\\\""
                case "\\": out += "\\\\"
                case "\n": out += "\\n"
                default: out.unicodeScalars.append(c)
                }
            }
            return out + "\""
        }
    }
}
