import Foundation
import HiveCore

/// Replaces every local `$ref` (`#/$defs/…`, `#/definitions/…`, any JSON pointer into the schema itself) by what
/// it points to, and drops the `$defs`/`definitions` tables, so a schema reaches a grammar or a provider whole:
/// other clients drop references and the model then sees an empty object.
///
/// A reference that leads back to itself (a recursive type) cannot be inlined into a finite schema and is refused,
/// naming the path; so is one outside the document (`https://…`), one that points nowhere, and nesting deeper than
/// `maxDepth`, and so is an inlined schema of more than `maxNodes` values: a definition referenced many times is
/// copied each time, so a small hostile schema (chained definitions, each referencing the next many times) would
/// otherwise grow exponentially before any size check could see it. Keys beside a `$ref` are kept (they override
/// the target's).
public struct SchemaInliner: Sendable {
    public var maxDepth: Int
    public var maxNodes: Int

    public init(maxDepth: Int = 32, maxNodes: Int = 100_000) {
        self.maxDepth = maxDepth
        self.maxNodes = maxNodes
    }

    public enum Failure: Error, Equatable, CustomStringConvertible {
        case cycle(String)
        case external(String)
        case unresolved(String)
        case tooDeep(Int)
        case tooLarge(Int)

        public var description: String {
            switch self {
            case .cycle(let r): return "$ref \(r) refers to itself (a recursive schema cannot be inlined)"
            case .external(let r): return "$ref \(r) points outside the schema (only local #/ references are inlined)"
            case .unresolved(let r): return "$ref \(r) points at nothing"
            case .tooDeep(let d): return "the schema nests deeper than \(d) levels"
            case .tooLarge(let n): return "the schema has more than \(n) values once its $refs are inlined"
            }
        }
    }

    public func inline(_ schema: JSONValue) throws(Failure) -> JSONValue {
        var budget = maxNodes
        return try resolve(schema, root: schema, refs: [], depth: 0, budget: &budget, top: true)
    }

    private func resolve(_ node: JSONValue, root: JSONValue, refs: [String], depth: Int, budget: inout Int,
                         top: Bool = false) throws(Failure) -> JSONValue {
        guard depth <= maxDepth else { throw .tooDeep(maxDepth) }
        budget -= 1
        guard budget >= 0 else { throw .tooLarge(maxNodes) }
        switch node {
        case .array(let items):
            var out: [JSONValue] = []
            out.reserveCapacity(items.count)
            for item in items { out.append(try resolve(item, root: root, refs: refs, depth: depth + 1, budget: &budget)) }
            return .array(out)
        case .object(var fields):
            if top {
                fields.removeValue(forKey: "$defs")
                fields.removeValue(forKey: "definitions")
            }
            if case .string(let ref)? = fields["$ref"] {
                guard ref.hasPrefix("#") else { throw .external(ref) }
                guard !refs.contains(ref) else { throw .cycle(ref) }
                guard let target = Self.pointer(ref, in: root) else { throw .unresolved(ref) }
                fields.removeValue(forKey: "$ref")
                var merged: [String: JSONValue]
                switch try resolve(target, root: root, refs: refs + [ref], depth: depth + 1, budget: &budget) {
                case .object(let t): merged = t
                case let other where fields.isEmpty: return other  // `true`/`false` schemas
                default: merged = [:]
                }
                for (k, v) in fields { merged[k] = try resolve(v, root: root, refs: refs, depth: depth + 1, budget: &budget) }
                return .object(merged)
            }
            var out: [String: JSONValue] = [:]
            for (k, v) in fields {
                // Property names and enum values are data, not schemas, but resolving inside them is harmless:
                // only an object holding a string `$ref` is replaced.
                out[k] = try resolve(v, root: root, refs: refs, depth: depth + 1, budget: &budget)
            }
            return .object(out)
        default:
            return node
        }
    }

    /// The value at a `#/a/b~1c` JSON pointer (RFC 6901, with %-escapes as in a URI fragment).
    static func pointer(_ ref: String, in root: JSONValue) -> JSONValue? {
        var path = String(ref.dropFirst())
        if path.isEmpty { return root }
        guard path.hasPrefix("/") else { return nil }  // `#anchor` names are not supported
        path = path.removingPercentEncodingIfPossible
        var node = root
        for raw in path.dropFirst().split(separator: "/", omittingEmptySubsequences: false) {
            let token = raw.replacingOccurrences(of: "~1", with: "/").replacingOccurrences(of: "~0", with: "~")
            switch node {
            case .object(let o):
                guard let next = o[token] else { return nil }
                node = next
            case .array(let a):
                guard let i = Int(token), i >= 0, i < a.count else { return nil }
                node = a[i]
            default:
                return nil
            }
        }
        return node
    }
}

extension String {
    /// `%XX` decoded when the result is UTF-8; the string as it was otherwise.
    var removingPercentEncodingIfPossible: String {
        guard contains("%") else { return self }
        var bytes: [UInt8] = []
        var u = Array(utf8)[...]
        while let b = u.popFirst() {
            if b == UInt8(ascii: "%"), u.count >= 2, let v = UInt8(String(decoding: u.prefix(2), as: UTF8.self), radix: 16) {
                bytes.append(v)
                u = u.dropFirst(2)
            } else {
                bytes.append(b)
            }
        }
        return String(validating: bytes, as: UTF8.self) ?? self
    }
}
