import Foundation

/// An `agent` task's loop (`input.agent`): the tools it may call (its allow-list) and its bounds. Validated at
/// submission (`SpecCheck`), clamped again on the drone (`clamped`), since a drone must not trust honeycombd's
/// numbers more than honeycombd trusts a submitter's.
public struct AgentSpec: Codable, Sendable, Equatable {
    /// Tool names (`exec.date`, `time.get_current_time`): the model sees these only; a call to any other is an
    /// error result, not a call.
    public var tools: [String]
    /// Steps at most (default `defaultSteps`, at most `maxStepsLimit`): each tool call is one (a provider turn that
    /// asks for three calls spends three), a turn that answers or cannot be read is one; the last must answer.
    public var maxSteps: Int?
    /// The whole loop's wall time (default: the task's timeout).
    public var maxWallMillis: Int?
    /// One tool call's time (default `defaultCallTimeoutMillis`).
    public var callTimeoutMillis: Int?
    /// Tool name → `ToolDefinition.pin`, filled by honeycombd from the definitions live drones advertise (at
    /// submission, or at the first lease when none was up): a drone whose tool no longer matches refuses the call.
    public var pins: [String: String]?
    /// Tool name → the arguments the goal fixes for it (see `AgentSpec+Bind.swift`): an exec tool's leading
    /// arguments (an array of strings), another tool's named arguments (an object). The model never sets them.
    public var bind: [String: JSONValue]?
    /// The bytes the pinned tools' definitions take in a prompt (`ToolDefinition.promptBytes`, as drones advertise
    /// them), filled by honeycombd with the pins at submission: the token reservation counts them on every turn.
    /// Nil (pinned at first lease, or no drone up): the reservation leaves them out, and the drone's per-turn check
    /// (which reads its real definitions) stops the loop earlier instead.
    public var toolBytes: Int?

    public init(tools: [String], maxSteps: Int? = nil, maxWallMillis: Int? = nil, callTimeoutMillis: Int? = nil,
                pins: [String: String]? = nil, bind: [String: JSONValue]? = nil, toolBytes: Int? = nil) {
        self.toolBytes = toolBytes
        self.tools = tools
        self.bind = bind
        self.maxSteps = maxSteps
        self.maxWallMillis = maxWallMillis
        self.callTimeoutMillis = callTimeoutMillis
        self.pins = pins
    }

    public static let defaultSteps = 8, maxStepsLimit = 32
    public static let defaultCallTimeoutMillis = 30_000
    /// Tokens per turn when the task gives no `max_tokens`.
    public static let defaultTurnTokens = 512
    /// Bytes of a tool's result fed back to the model (the rest is cut, and the text says so).
    public static let resultBytes = 8 * 1024
    /// Transcript growth allowed per turn in the token reservation: one cut result and the call's own JSON.
    public static let turnAllowanceTokens = resultBytes + 1024

    /// Turns this loop may take: `max_steps` within 1…`maxStepsLimit`.
    public var steps: Int { min(max(1, maxSteps ?? Self.defaultSteps), Self.maxStepsLimit) }

    /// One call's time: `call_timeout_ms` within 1 ms…`taskMillis`.
    public func callMillis(taskMillis: Int) -> Int {
        min(max(1, callTimeoutMillis ?? Self.defaultCallTimeoutMillis), max(1, taskMillis))
    }

    /// The loop's wall time: `max_wall_ms` within 1 ms…`taskMillis`.
    public func wallMillis(taskMillis: Int) -> Int { min(max(1, maxWallMillis ?? taskMillis), max(1, taskMillis)) }

    /// The most tokens the loop may use, reserved against the goal's budget like a model call: every turn may
    /// read the prompt, the system message, the tools' definitions (`tool_bytes`), the template (64) and the
    /// transcript's growth (`turnAllowanceTokens`) and write `max_tokens`. Bytes stand for tokens, as for prompts
    /// (a token is at least one byte). The drone stops the loop before a turn that could pass it.
    public static func worstCaseTokens(_ input: TaskInput?) -> Int {
        let agent = input?.agent ?? AgentSpec(tools: [])
        let tools = min(max(0, agent.toolBytes ?? 0), SpecLimits.agentToolBytes.upperBound)
        let text = (input?.promptBytes ?? 0) + (input?.system?.utf8.count ?? 0) + tools
        let turn = min(max(1, input?.maxTokens ?? defaultTurnTokens), TaskSpec.maxTokensLimit)
        return agent.steps * (text + 64 + turn + turnAllowanceTokens)
    }

    /// Why a task's agent fields are wrong (the path below `input`), or nil: an agent task needs a prompt and an
    /// `agent` with at least one tool, each named `<server>.<tool>` once; other kinds may not carry `agent`.
    public static func problem(kind: String, input: TaskInput?) -> String? {
        guard kind == "agent" else { return input?.agent == nil ? nil : "agent is only for tasks of kind \"agent\"" }
        guard let input, input.prompt != nil || input.promptBlob != nil else { return "prompt is required: an agent task needs the user's request" }
        guard let agent = input.agent else { return "agent is required: {\"tools\": [\"exec.date\", …]} names the tools it may call" }
        if agent.tools.isEmpty { return "agent.tools is empty: name the tools it may call (a task without tools is a model task)" }
        var seen = Set<String>()
        for (i, name) in agent.tools.enumerated() {
            if !ToolAdvert.isValidName(name) {
                return "agent.tools[\(i)] '\(name.prefix(64))' is not a tool name (<server>.<tool>: letters, digits, _ - .)"
            }
            if !seen.insert(name).inserted { return "agent.tools[\(i)] names \(name) twice" }
        }
        if let pins = agent.pins, let stray = pins.keys.sorted().first(where: { !seen.contains($0) }) {
            return "agent.pins has \(stray), which is not in agent.tools"
        }
        // A pin no tool can have (a drone's pins are `sha256:HEX`) would leave the task waiting for ever.
        if let pins = agent.pins, let (name, pin) = pins.sorted(by: { $0.key < $1.key }).first(where: { !ToolAdvert.isValidPin($0.value) }) {
            return "agent.pins.\(name) must be sha256: and 64 lowercase hex digits, the pin a drone advertises for the tool (got '\(pin.prefix(80))')"
        }
        return agent.bindProblem()
    }

    enum CodingKeys: String, CodingKey {
        case tools, pins, bind
        case toolBytes = "tool_bytes"
        case maxSteps = "max_steps", maxWallMillis = "max_wall_ms", callTimeoutMillis = "call_timeout_ms"
    }
}

/// A tool as a drone advertises it in its hello: enough for honeycombd to pin goals, decide approvals and reserve
/// tokens without holding schemas (`ToolDefinition` lives on the drone).
public struct ToolAdvert: Codable, Sendable, Equatable {
    public var name: String
    public var pin: String
    public var sideEffecting: Bool
    /// `ToolDefinition.promptBytes`: what the definition costs every prompt that shows it (nil from older drones).
    public var bytes: Int?

    public init(name: String, pin: String, sideEffecting: Bool, bytes: Int? = nil) {
        self.name = name
        self.pin = pin
        self.sideEffecting = sideEffecting
        self.bytes = bytes
    }

    public init(_ d: ToolDefinition) { self.init(name: d.name, pin: d.pin, sideEffecting: d.sideEffecting, bytes: d.promptBytes) }

    /// The capability a drone advertises for a tool it offers, and for one whose calls have side effects.
    public static func capability(_ name: String) -> String { "tool:\(name)" }
    public static func effectCapability(_ name: String) -> String { "effect:tool:\(name)" }

    // The tool-name character rule, its one home: names are ASCII letters, digits, `_` and `-` ("word" bytes), with
    // `.` between a server's prefix and its tool's own name (a server name has none: it ends at the first dot).

    /// Whether `b` is a letter, a digit, `_` or `-`.
    public static func isWordByte(_ b: UInt8) -> Bool {
        (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A) || b == 0x5F || b == 0x2D
    }

    /// Whether `name` is a tool name: `<server>.<tool>`, letters, digits and `_-.` only, at most 128 bytes.
    public static func isValidName(_ name: String) -> Bool {
        guard !name.isEmpty, name.utf8.count <= 128, let dot = name.firstIndex(of: "."), dot != name.startIndex,
              name.index(after: dot) != name.endIndex else { return false }
        return isToolPart(name, maxBytes: 128)
    }

    /// Whether `pin` is a definition's pin as `ToolDefinition.pin` writes it: `sha256:` and 64 lowercase hex digits.
    public static func isValidPin(_ pin: String) -> Bool {
        let b = Array(pin.utf8)
        return b.count == 71 && pin.hasPrefix("sha256:") && b[7...].allSatisfy(TraceContext.isLowerHex)
    }

    /// Whether `s` is a tool source's name (`--mcp NAME`, `--wasm-tool NAME`): 1 to 32 letters, digits, `-`, `_`.
    public static func isValidServerName(_ s: String) -> Bool {
        !s.isEmpty && s.utf8.count <= 32 && s.utf8.allSatisfy(isWordByte)
    }

    /// Whether `s` may follow a server's prefix (an MCP server's own tool name): 1 to `maxBytes` letters, digits, `_-.`.
    public static func isToolPart(_ s: String, maxBytes: Int) -> Bool {
        !s.isEmpty && s.utf8.count <= maxBytes && s.utf8.allSatisfy { isWordByte($0) || $0 == UInt8(ascii: ".") }
    }

    /// `s` with every character that is not a letter, a digit, `_` or `-` replaced by `_` (an exec command's base
    /// name as a tool, a Hive name as a provider's function name).
    public static func wordName(_ s: String) -> String {
        String(s.unicodeScalars.map { $0.isASCII && isWordByte(UInt8($0.value)) ? Character($0) : "_" })
    }

    enum CodingKeys: String, CodingKey {
        case name, pin, bytes
        case sideEffecting = "side_effecting"
    }
}

/// One tool call of an agent's transcript.
public struct AgentStep: Codable, Sendable, Equatable {
    public var tool: String
    public var arguments: JSONValue
    public var result: String
    public var isError: Bool
    public var millis: Int
    /// When the call began, in ms after the loop began (trace spans are placed by it).
    public var atMillis: Int?
    /// The model turn (from 1) that asked for this call: calls of one turn are given back to a provider together
    /// (one assistant message with every call, then every result). Nil in transcripts from before several calls
    /// per turn: each step its own turn.
    public var turn: Int?

    public init(tool: String, arguments: JSONValue, result: String, isError: Bool, millis: Int, atMillis: Int? = nil, turn: Int? = nil) {
        self.atMillis = atMillis
        self.turn = turn
        self.tool = tool
        self.arguments = arguments
        self.result = result
        self.isError = isError
        self.millis = millis
    }

    enum CodingKeys: String, CodingKey {
        case tool, arguments, result
        case isError = "is_error", millis = "ms", atMillis = "at_ms", turn
    }
}

/// An agent task's output: the answer (nil when the loop ended without one) and every tool call made.
public struct AgentTranscript: Codable, Sendable, Equatable {
    public var answer: String?
    public var steps: [AgentStep]

    public init(answer: String?, steps: [AgentStep]) {
        self.answer = answer
        self.steps = steps
    }

    /// The transcript in an output (nil when `text` is not one).
    public static func parse(_ text: String?) -> AgentTranscript? {
        guard let text, text.first == "{" else { return nil }
        return try? JSONDecoder().decode(AgentTranscript.self, from: Data(text.utf8))
    }
}

extension JSONValue {
    /// This value as compact JSON with sorted keys (transcripts, prompts and CLI lines show arguments so).
    public var compactJSON: String {
        CanonicalJSON.encode(self).map { String(decoding: $0, as: UTF8.self) } ?? "null"
    }
}
