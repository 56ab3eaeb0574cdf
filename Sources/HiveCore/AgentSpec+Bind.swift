/// Tool arguments the goal fixes (`agent.bind`): the submitter, a trusted principal, binds leading arguments of an
/// exec tool (`"exec.try-patch": ["/srv/repo", "make test"]`) or named arguments of any other tool
/// (`"git.git_log": {"repo_path": "/srv/repo"}`), so the agent, whose output is data, never chooses them.
///
/// The model is shown only what is left (`showing`: the exec tool's `args` with a `maxItems` of what remains, or
/// the object's schema without the bound properties); the drone puts the bound values in front of (or over)
/// whatever the model passes (`boundArguments`), so a model repeating a bound value only adds an argument after
/// it. Bound values are part of the tool's pin (`boundPin`) and of the approval request's text (`describeTools`).
extension AgentSpec {
    /// The prefix of the drone's exec tools, whose bindings are leading arguments (an array of strings).
    public static let execToolPrefix = "exec."
    /// Arguments an exec tool call takes at most (bound ones included); the drone's exec tools say so in their schema.
    public static let execArgsLimit = 16
    /// Compact-JSON bytes of all of an agent's bound values, and named arguments bound per tool.
    public static let bindBytesLimit = 16 << 10, bindFieldsLimit = 32

    /// Why `agent.bind` is wrong (the path below `input`), or nil: each bound tool is in `tools`; an exec tool's
    /// binding is an array of at most `execArgsLimit` strings, any other's an object of at most `bindFieldsLimit`
    /// named arguments; all of them at most `bindBytesLimit` bytes of JSON.
    func bindProblem() -> String? {
        guard let bind else { return nil }
        if bind.count > SpecLimits.agentTools {
            return "agent.bind has \(bind.count) tools; the limit is \(SpecLimits.agentTools) (SpecLimits.agentTools)"
        }
        let bytes = JSONValue.object(bind).compactJSON.utf8.count
        if bytes > Self.bindBytesLimit {
            return "agent.bind is \(bytes) bytes of JSON; the limit is \(Self.bindBytesLimit) (agent.bind bytes)"
        }
        for (tool, value) in bind.sorted(by: { $0.key < $1.key }) {
            let at = "agent.bind.\(tool.prefix(128))"
            guard tools.contains(tool) else { return "\(at): \(tool.prefix(128)) is not in agent.tools (bind only tools the agent may call)" }
            if tool.hasPrefix(Self.execToolPrefix) {
                guard case .array(let args) = value, args.allSatisfy({ if case .string = $0 { true } else { false } }) else {
                    return "\(at) must be an array of strings: the exec tool's leading arguments"
                }
                if args.count > Self.execArgsLimit {
                    return "\(at) has \(args.count) arguments; an exec tool call takes at most \(Self.execArgsLimit) (agent.bind exec arguments)"
                }
            } else {
                guard case .object(let fields) = value else {
                    return "\(at) must be an object: the tool's named arguments the goal fixes ({\"repo_path\": \"/srv/repo\"})"
                }
                if fields.count > Self.bindFieldsLimit {
                    return "\(at) has \(fields.count) named arguments; the limit is \(Self.bindFieldsLimit) (agent.bind named arguments)"
                }
            }
        }
        return nil
    }

    /// The pin a goal holds for `tool` whose definition's pin is `definitionPin`: that pin itself when nothing is
    /// bound, else the SHA-256 of it and the binding's canonical JSON, so a binding that changes is a pin that does.
    public func boundPin(_ tool: String, definitionPin: String) -> String {
        guard let value = bind?[tool] else { return definitionPin }
        return "sha256:" + SHA256.hex(Array((definitionPin + "\n" + value.compactJSON).utf8))
    }

    /// `d` as the model sees it under this goal's binding: an exec tool's `args` may hold only what is left after
    /// the bound ones (`maxItems`), another tool's bound properties are gone from its schema; the description
    /// says what is fixed. Unbound tools are returned as they are.
    public func showing(_ d: ToolDefinition) -> ToolDefinition {
        guard let value = bind?[d.name], case .object(var schema) = d.inputSchema,
              case .object(var properties) = schema["properties"] ?? .object([:]) else { return d }
        var out = d
        switch value {
        case .array(let bound):
            guard case .object(var args) = properties["args"] ?? .null else { return d }
            var most = Self.execArgsLimit
            if case .number(let n) = args["maxItems"] ?? .null, n.isFinite, n >= 0 { most = Int(min(n, Double(Self.execArgsLimit))) }
            args["maxItems"] = .number(Double(max(0, most - bound.count)))
            properties["args"] = .object(args)
            out.description += " The goal fixes its first \(bound.count) argument\(bound.count == 1 ? "" : "s") "
                + "(\(JSONValue.array(bound).compactJSON)); give only the ones after them."
        case .object(let fields):
            for key in fields.keys { properties[key] = nil }
            if case .array(let required) = schema["required"] ?? .null {
                schema["required"] = .array(required.filter { if case .string(let k) = $0 { fields[k] == nil } else { true } })
            }
            out.description += " The goal fixes \(fields.keys.sorted().joined(separator: ", ")); do not pass \(fields.count == 1 ? "it" : "them")."
        default:
            return d
        }
        schema["properties"] = .object(properties)
        out.inputSchema = .object(schema)
        return out
    }

    /// The arguments `tool` is called with when the model passes `arguments`: an exec tool's bound arguments
    /// first, then the model's (at most `execArgsLimit` in all); another tool's bound named arguments over the
    /// model's. Unbound tools, and arguments that are not an object, are returned as they are.
    public func boundArguments(_ tool: String, _ arguments: JSONValue) -> JSONValue {
        guard let value = bind?[tool], case .object(var given) = arguments else { return arguments }
        switch value {
        case .array(let bound):
            var args = Array(bound.prefix(Self.execArgsLimit))
            if case .array(let more) = given["args"] ?? .array([]) { args += more.prefix(max(0, Self.execArgsLimit - args.count)) }
            else if let other = given["args"] { args.append(other) }  // not an array: the schema check says so
            given["args"] = .array(args)
        case .object(let fields):
            for (key, v) in fields { given[key] = v }
        default:
            break
        }
        return .object(given)
    }

    /// The tools as an approval shows them: each bound one with what the goal fixes (`exec.try-patch
    /// ["/srv/repo","make test",…]`, `git.git_log {"repo_path":"/srv/repo",…}`; `…`: the agent's part).
    public var describeTools: String {
        tools.map { tool in
            switch bind?[tool] {
            case .array(let bound)?:
                return "\(tool) [" + bound.map(\.compactJSON).joined(separator: ",") + (bound.isEmpty ? "…]" : ",…]")
            case .object(let fields)?:
                return "\(tool) {" + fields.keys.sorted().map { JSONValue.string($0).compactJSON + ":" + fields[$0]!.compactJSON }.joined(separator: ",")
                    + (fields.isEmpty ? "…}" : ",…}")
            default:
                return tool
            }
        }.joined(separator: ", ")
    }
}
