import HiveCore

/// The drone's allow-listed exec commands as agent tools (the `exec` tool source): `/bin/date` is `exec.date`,
/// taking `{"args": [string]}` and answering with the command's combined output. Calls run through the drone's
/// `ExecBackend`, so they get exactly what an exec task gets: the allow-list, rlimits, the environment policy, a
/// process group of their own and a timeout. A non-zero exit is an error result the model sees, not a failure.
public struct ExecToolSource: ToolSource {
    /// The prefix of the exec tools' names (`exec.date`): no `--mcp` server may take it.
    public static let serverName = "exec"
    public var server: String { Self.serverName }
    let backend: ExecBackend
    /// Tool name (without `exec.`) → command path. One tool per base name: the first path in sorted order wins
    /// (`/bin/date` over `/usr/bin/date`, usually the same file).
    let commands: [String: String]
    /// Canonical paths the drone's operator declares side-effecting (`--side-effects`).
    let sideEffects: Set<String>

    public init(backend: ExecBackend, allowed: [String], sideEffects: [String]) {
        self.backend = backend
        var commands: [String: String] = [:]
        for path in allowed.sorted() {
            let base = String(path.split(separator: "/").last ?? "")
            let name = ToolAdvert.wordName(base)
            guard !name.isEmpty, ToolAdvert.isValidName("exec.\(name)"), commands[name] == nil else { continue }
            commands[name] = path
        }
        self.commands = commands
        self.sideEffects = Set(sideEffects.map(ExecBackend.canonical))
    }

    /// `{"args": [string]}`: the arguments after the command (no shell: each is one argv entry). At most `maxArgs`,
    /// for the model's sake (a grammar built from it cannot wander into an endless list; a turn's `max_tokens` bounds
    /// each string).
    static let maxArgs = AgentSpec.execArgsLimit
    static let schema: JSONValue = .object([
        "type": .string("object"),
        "properties": .object(["args": .object(["type": .string("array"),
                                                "items": .object(["type": .string("string")]),
                                                "maxItems": .number(Double(maxArgs))])]),
        "required": .array([.string("args")]),
        "additionalProperties": .bool(false),
    ])

    public func listTools() async throws -> [ToolDefinition] {
        commands.keys.sorted().map { name in
            let path = commands[name]!
            return ToolDefinition(name: "exec.\(name)",
                                  description: "Runs \(path) with the given arguments (no shell) and returns its output.",
                                  inputSchema: Self.schema, sideEffecting: sideEffects.contains(ExecBackend.canonical(path)))
        }
    }

    public func call(_ tool: String, arguments: JSONValue, timeoutMillis: Int) async throws -> ToolCallResult {
        guard let path = commands[tool] else { return ToolCallResult(text: "exec has no tool \(tool)", isError: true) }
        var args: [String] = []
        if case .object(let fields) = arguments, let given = fields["args"] {
            guard case .array(let items) = given else { return ToolCallResult(text: "args must be an array of strings", isError: true) }
            for item in items.prefix(Self.maxArgs) {
                guard case .string(let s) = item else { return ToolCallResult(text: "args must be an array of strings", isError: true) }
                args.append(s)
            }
        }
        let assignment = Assignment(task: "tool-exec.\(tool)", goal: "", attempt: 1, token: "", kind: "exec",
                                    input: TaskInput(command: path, args: args), index: 0, timeoutMillis: max(1, timeoutMillis))
        let o = await backend.run(assignment)
        return ToolCallResult(o)
    }

    public func close() async {}

    /// Never called: the tools are fixed at start.
    public func onToolsChanged(_ handler: @escaping @Sendable ([ToolDefinition]) -> Void) async {}
}

extension ToolCallResult {
    /// A backend run as a tool's result (exec and wasm tools): its output on success; otherwise an error result the
    /// model sees, with what the run printed and why it failed (the error, or the exit code).
    init(_ o: BackendOutcome) {
        if o.succeeded {
            self.init(text: o.output ?? "", isError: false)
        } else {
            let text = [o.output, o.error ?? o.exitCode.map { "exit code \($0)" }].compactMap { $0 }.filter { !$0.isEmpty }
            self.init(text: text.joined(separator: "\n"), isError: true)
        }
    }
}
