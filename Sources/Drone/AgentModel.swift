import Foundation
import HiveCore

/// One tool call a model asked for. `problem` is set when the call cannot be made as asked (its arguments are not
/// a JSON object): the loop answers it with that error instead of calling, so every call a provider made still gets
/// a result (OpenAI requires one `tool` message per call id).
public struct AgentCall: Sendable, Equatable {
    public var tool: String
    public var arguments: JSONValue
    public var problem: String?

    public init(tool: String, arguments: JSONValue, problem: String? = nil) {
        self.tool = tool
        self.arguments = arguments
        self.problem = problem
    }
}

/// What the model chose on one turn of an agent's loop.
public enum AgentDecision: Sendable, Equatable {
    /// One or more tool calls, made in order (API providers may ask for several in one turn; each counts as a
    /// step against `agent.max_steps`). At most `maxCallsPerTurn` are taken from one turn.
    case calls([AgentCall])
    case answer(String)
    /// The turn was not a call nor an answer (a provider's reply without either): said back to the model.
    case unreadable(String)

    /// A turn with a single call.
    public static func call(tool: String, arguments: JSONValue) -> AgentDecision { .calls([AgentCall(tool: tool, arguments: arguments)]) }

    /// Calls read from one provider turn at most (the rest are dropped before the loop sees them): with
    /// `AgentSpec.maxStepsLimit` steps a loop could not make more.
    public static let maxCallsPerTurn = AgentSpec.maxStepsLimit
}

/// One turn: the decision and what it cost.
public struct AgentTurn: Sendable {
    public var decision: AgentDecision
    public var usage: Usage?

    public init(decision: AgentDecision, usage: Usage?) {
        self.decision = decision
        self.usage = usage
    }
}

/// What the model is shown on a turn: the task's messages, the calls so far with their (cut) results, and the
/// tools it may call (none on the last turn, which must answer).
public struct AgentConversation: Sendable {
    public var system: String?
    public var prompt: String
    public var steps: [AgentStep]
    public var tools: [ToolDefinition]
    public var maxTokens: Int
    public var input: TaskInput

    public init(system: String?, prompt: String, steps: [AgentStep], tools: [ToolDefinition], maxTokens: Int, input: TaskInput) {
        self.system = system
        self.prompt = prompt
        self.steps = steps
        self.tools = tools
        self.maxTokens = maxTokens
        self.input = input
    }

    /// Bytes the model reads this turn (messages, the transcript and the tools' definitions): bytes bound tokens,
    /// so this plus the template and `maxTokens` bounds the turn's tokens.
    public var bytes: Int {
        var n = prompt.utf8.count + (system?.utf8.count ?? 0) + AgentInstructions.text.utf8.count
        for s in steps { n += s.tool.utf8.count + s.result.utf8.count + AgentInstructions.json(s.arguments).utf8.count + 64 }
        for t in tools { n += t.promptBytes }
        return n
    }
}

extension AgentConversation {
    /// The transcript as the provider turns that made it: steps of one `turn` together, each with its index in
    /// `steps` (the call id a provider is shown). A step without a turn (an older transcript) and one that is not a
    /// call (an unreadable turn, `tool` empty) stand alone.
    public static func turns(_ steps: [AgentStep]) -> [[(index: Int, step: AgentStep)]] {
        var out: [[(index: Int, step: AgentStep)]] = []
        for (i, s) in steps.enumerated() {
            if let t = s.turn, !s.tool.isEmpty, let prior = out.last?.last, prior.step.turn == t, !prior.step.tool.isEmpty {
                out[out.count - 1].append((i, s))
            } else {
                out.append([(i, s)])
            }
        }
        return out
    }
}

/// A model that takes agent turns: llama.cpp under a grammar (`LlamaAgentModel`), an OpenAI-compatible or
/// Anthropic API through native tool calling. Implementations honour task cancellation.
public protocol AgentModel: Sendable {
    /// The model's name in usage records.
    var name: String { get }
    /// One turn. Throws only for failures of the model itself (engine error, provider down), with a message.
    func turn(_ conversation: AgentConversation) async throws -> AgentTurn
}

/// The words a model without native tool calling is given, and how calls and results are written to it.
public enum AgentInstructions {
    public static let text = """
    You can call tools. Reply with exactly one JSON object: {"tool": …, "arguments": {…}} to call a tool, \
    or {"answer": …} when you can answer. After a call you are given its result.
    """

    /// Sorted-key JSON of a value (what transcripts and prompts show).
    public static func json(_ v: JSONValue) -> String { v.compactJSON }

    /// The system message: the task's, then the tools and how to call them.
    public static func system(_ c: AgentConversation) -> String {
        var lines: [String] = []
        if let s = c.system { lines.append(s) }
        if c.tools.isEmpty {
            lines.append("Reply with exactly one JSON object: {\"answer\": …}.")
        } else {
            lines.append(text)
            lines.append("Tools:")
            for t in c.tools { lines.append("- \(t.name): \(t.description) Arguments: \(json(t.inputSchema))") }
        }
        return lines.joined(separator: "\n")
    }

    /// What the model is told after a call.
    public static func result(_ s: AgentStep) -> String {
        (s.isError ? "Error from \(s.tool): " : "Result of \(s.tool): ") + s.result
    }

    /// A turn's text as a decision: `{"tool": …, "arguments": {…}}` or `{"answer": …}`.
    public static func decision(_ text: String) -> AgentDecision {
        guard case .object(let o)? = try? JSONValue.parse(Array(text.utf8)) else {
            return .unreadable("the reply is not a JSON object")
        }
        if case .string(let a)? = o["answer"] { return .answer(a) }
        if case .string(let tool)? = o["tool"] {
            let args = o["arguments"] ?? .object([:])
            guard case .object = args else { return .unreadable("arguments must be a JSON object") }
            return .call(tool: tool, arguments: args)
        }
        return .unreadable("the reply has neither \"tool\" nor \"answer\"")
    }
}
