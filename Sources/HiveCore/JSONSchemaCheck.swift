import FoundationEssentials

/// Checks a value against the JSON Schema subset that model drones constrain sampling to (`type`, `properties`,
/// `required`, `additionalProperties: false`, `items`, `minItems`, `maxItems`, `enum`, `const`, `minLength`,
/// `maxLength`, `minimum`, `maximum`, `exclusiveMinimum`, `exclusiveMaximum`). The drones' grammar bounds only
/// the shape (and lengths): a number in range, or any rule an API drone or a program ignored, is only known once
/// the answer is here, so every answer to a `json_schema` (a task's `input.json_schema`, a step's) is checked
/// with this before it counts: the schema is validation, not a hint.
public enum JSONSchemaCheck {
    static let keywords: Set<String> = [
        "type", "properties", "required", "additionalProperties", "items", "minItems", "maxItems", "enum", "const",
        "maxLength", "minimum", "maximum", "title", "description", "$schema", "format", "default", "examples",
        "minLength", "exclusiveMinimum", "exclusiveMaximum",
    ]
    static let typeNames: Set<String> = ["null", "boolean", "number", "integer", "string", "array", "object"]

    /// Parses `text` as a schema; the reason when it is not one this check (and the drones' grammar) supports.
    public static func parse(_ text: String) -> Result<JSONValue, PlanRejection> {
        guard let v = try? JSONValue.parse(Array(text.utf8)) else {
            return .failure(.init("json_schema is not valid JSON"))
        }
        if let why = unsupported(v, path: "json_schema") { return .failure(.init(why)) }
        return .success(v)
    }

    private static func unsupported(_ s: JSONValue, path: String) -> String? {
        guard case .object(let o) = s else {
            if case .bool = s { return nil }
            return "\(path) must be an object"
        }
        for k in o.keys.sorted() where !keywords.contains(k) { return "\(path) uses '\(k)', which is not supported" }
        for k in ["minLength", "maxLength", "minItems", "maxItems"] {
            guard let v = o[k] else { continue }
            guard case .number(let n) = v, n >= 0, n <= 1e9, n.rounded() == n else { return "\(path).\(k) must be a whole number from 0 to 1e9" }
        }
        for k in ["minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"] {
            guard let v = o[k] else { continue }
            guard case .number(let n) = v, n.isFinite else { return "\(path).\(k) must be a number" }
        }
        if let e = o["enum"] {
            guard case .array(let options) = e, !options.isEmpty else { return "\(path).enum must be a non-empty array" }
        }
        if let r = o["required"] {
            guard case .array(let names) = r, names.allSatisfy({ if case .string = $0 { true } else { false } }) else {
                return "\(path).required must be an array of property names"
            }
        }
        if let t = o["type"] {
            let names: [JSONValue]
            switch t {
            case .string: names = [t]
            case .array(let many) where !many.isEmpty: names = many
            default: return "\(path).type must be a type name or a non-empty array of them"
            }
            for n in names {
                guard case .string(let name) = n, typeNames.contains(name) else {
                    return "\(path).type names an unknown type (the types are \(typeNames.sorted().joined(separator: ", ")))"
                }
            }
        }
        if case .object(let props)? = o["properties"] {
            for (k, v) in props.sorted(by: { $0.key < $1.key }) {
                if let why = unsupported(v, path: "\(path).properties.\(k)") { return why }
            }
        }
        if let items = o["items"] { return unsupported(items, path: "\(path).items") }
        return nil
    }

    /// Why a model task's answer is not the JSON its input asked for (`json_schema`, or `json`: an object), or nil.
    /// Surrounding whitespace does not count.
    public static func answerProblem(_ input: TaskInput?, output: String?) -> String? {
        guard let input, input.jsonSchema != nil || input.json == true else { return nil }
        let text = ControlState.trimmed(output ?? "")
        if let schemaText = input.jsonSchema, case .success(let schema) = parse(schemaText),
           let why = problem(in: text, schema: schema) {
            return "the answer does not match its json_schema: \(why)"
        }
        if input.json == true, input.jsonSchema == nil {
            guard case .object? = try? JSONValue.parse(Array(text.utf8)) else {
                return "the answer is not a JSON object (input.json)"
            }
        }
        return nil
    }

    /// Why `text` does not match `schema`, or nil when it does.
    public static func problem(in text: String, schema: JSONValue) -> String? {
        guard let v = try? JSONValue.parse(Array(text.utf8)) else { return "the output is not JSON" }
        return problem(v, schema, path: "$")
    }

    static func problem(_ v: JSONValue, _ schema: JSONValue, path: String) -> String? {
        guard case .object(let s) = schema else {
            if case .bool(false) = schema { return "\(path) is not allowed" }
            return nil
        }
        if let c = s["const"], c != v { return "\(path) must be the constant given" }
        if case .array(let options)? = s["enum"], !options.contains(v) { return "\(path) is not one of the allowed values" }
        if let t = s["type"] {
            let allowed: [String]
            switch t {
            case .string(let one): allowed = [one]
            case .array(let many): allowed = many.compactMap { if case .string(let x) = $0 { return x } else { return nil } }
            default: allowed = []
            }
            if !allowed.isEmpty && !allowed.contains(where: { matches(v, type: $0) }) {
                return "\(path) must be \(allowed.joined(separator: " or ")), not \(v.typeName)"
            }
        }
        switch v {
        case .string(let str):
            // JSON Schema counts characters as code points.
            let length = Double(str.unicodeScalars.count)
            if case .number(let n)? = s["maxLength"], length > n { return "\(path) is longer than \(n.formatted) characters (maxLength)" }
            if case .number(let n)? = s["minLength"], length < n { return "\(path) is shorter than \(n.formatted) characters (minLength)" }
        case .number(let x):
            if case .number(let lo)? = s["minimum"], x < lo { return "\(path) is \(x.formatted), below the minimum \(lo.formatted)" }
            if case .number(let hi)? = s["maximum"], x > hi { return "\(path) is \(x.formatted), above the maximum \(hi.formatted)" }
            if case .number(let lo)? = s["exclusiveMinimum"], x <= lo { return "\(path) is \(x.formatted), not above the exclusiveMinimum \(lo.formatted)" }
            if case .number(let hi)? = s["exclusiveMaximum"], x >= hi { return "\(path) is \(x.formatted), not below the exclusiveMaximum \(hi.formatted)" }
        case .array(let items):
            if case .number(let lo)? = s["minItems"], Double(items.count) < lo { return "\(path) has fewer than \(lo.formatted) items (minItems)" }
            if case .number(let hi)? = s["maxItems"], Double(items.count) > hi { return "\(path) has more than \(hi.formatted) items (maxItems)" }
            if let item = s["items"] {
                for (i, x) in items.enumerated() {
                    if let why = problem(x, item, path: "\(path)[\(i)]") { return why }
                }
            }
        case .object(let fields):
            let props: [String: JSONValue]
            if case .object(let p)? = s["properties"] { props = p } else { props = [:] }
            if case .array(let req)? = s["required"] {
                for case .string(let k) in req where fields[k] == nil { return "\(path).\(k) is required" }
            }
            for (k, x) in fields.sorted(by: { $0.key < $1.key }) {
                if let p = props[k] {
                    if let why = problem(x, p, path: "\(path).\(k)") { return why }
                } else if case .bool(false)? = s["additionalProperties"] {
                    return "\(path).\(k) is not an allowed property"
                }
            }
        default: break
        }
        return nil
    }

    private static func matches(_ v: JSONValue, type: String) -> Bool {
        switch (type, v) {
        case ("null", .null), ("boolean", .bool), ("number", .number), ("string", .string), ("array", .array), ("object", .object):
            return true
        case ("integer", .number(let x)): return x.rounded() == x
        default: return false
        }
    }
}

extension Double {
    /// A whole number without its `.0`, for messages.
    fileprivate var formatted: String { self == rounded() && abs(self) < 1e15 ? String(Int(self)) : String(self) }
}
