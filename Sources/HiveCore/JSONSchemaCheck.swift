import FoundationEssentials

/// Checks a value against the JSON Schema subset that model drones constrain sampling to (`type`, `properties`,
/// `required`, `additionalProperties: false`, `items`, `minItems`, `maxItems`, `enum`, `const`, `maxLength`,
/// `minimum`, `maximum`). Grammar-constrained drones already comply; this catches the rest (API drones, programs,
/// a model file without the grammar), so a step's `json_schema` is validation, not a hint.
public enum JSONSchemaCheck {
    static let keywords: Set<String> = [
        "type", "properties", "required", "additionalProperties", "items", "minItems", "maxItems", "enum", "const",
        "maxLength", "minimum", "maximum", "title", "description", "$schema", "format", "default", "examples",
    ]

    /// Parses `text` as a schema; the reason when it is not one this check (and the drones' grammar) supports.
    public static func parse(_ text: String) -> Result<JSONValue, PlanRejection> {
        guard let v = try? JSONDecoder().decode(JSONValue.self, from: Data(text.utf8)) else {
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
        for k in ["maxLength", "minItems", "maxItems"] {
            guard let v = o[k] else { continue }
            guard case .number(let n) = v, n >= 0, n <= 1e9, n.rounded() == n else { return "\(path).\(k) must be a whole number from 0 to 1e9" }
        }
        for k in ["minimum", "maximum"] {
            guard let v = o[k] else { continue }
            guard case .number(let n) = v, n.isFinite else { return "\(path).\(k) must be a number" }
        }
        if case .object(let props)? = o["properties"] {
            for (k, v) in props.sorted(by: { $0.key < $1.key }) {
                if let why = unsupported(v, path: "\(path).properties.\(k)") { return why }
            }
        }
        if let items = o["items"] { return unsupported(items, path: "\(path).items") }
        return nil
    }

    /// Why `text` does not match `schema`, or nil when it does.
    public static func problem(in text: String, schema: JSONValue) -> String? {
        guard let v = try? JSONDecoder().decode(JSONValue.self, from: Data(text.utf8)) else { return "the output is not JSON" }
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
            if case .number(let n)? = s["maxLength"], Double(str.count) > n { return "\(path) is longer than \(n.formatted) characters" }
        case .number(let x):
            if case .number(let lo)? = s["minimum"], x < lo { return "\(path) is below the minimum \(lo)" }
            if case .number(let hi)? = s["maximum"], x > hi { return "\(path) is above the maximum \(hi)" }
        case .array(let items):
            if case .number(let lo)? = s["minItems"], Double(items.count) < lo { return "\(path) has fewer than \(lo.formatted) items" }
            if case .number(let hi)? = s["maxItems"], Double(items.count) > hi { return "\(path) has more than \(hi.formatted) items" }
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
