import HiveCore
import HiveSystem
import Llama

/// Agent turns on this drone's llama.cpp model: the tools and the transcript are written into the chat (or the
/// completion prompt), and the turn is grammar-constrained (`JSONGrammar.agentTurn`) to a call of one of the
/// tools shown or an answer, so even a small local model can only produce a well-formed turn.
public struct LlamaAgentModel: AgentModel {
    let backend: LlamaBackend

    public init(_ backend: LlamaBackend) { self.backend = backend }

    public var name: String { backend.model.descriptor.name }

    /// The prompt text of a turn: system (the task's, the tools, the rules), the user's request, then each call
    /// as the assistant's JSON and its result as the next user message.
    func render(_ c: AgentConversation) throws -> String {
        var messages: [(role: String, content: String)] = [("system", AgentInstructions.system(c)), ("user", c.prompt)]
        for (i, s) in c.steps.enumerated() {
            messages.append(("assistant", s.tool.isEmpty ? "?" : AgentInstructions.json(.object(["tool": .string(s.tool), "arguments": s.arguments]))))
            // The newest result sits right before the answer slot, with the one line that says what to do with it:
            // without it a small model answers from the prompt alone ("true" to a time tool's JSON).
            let last = i == c.steps.count - 1 && !s.tool.isEmpty && !s.isError
            messages.append(("user", Self.trimmed(AgentInstructions.result(s)) + (last ? "\n" + Self.useResult : "")))
        }
        if c.input.chat ?? true, backend.promptFormat == .chat { return try backend.model.chatPrompt(messages) }
        // A base model continues text: a worked example (a made-up tool the grammar will not let it call) shows
        // the shape of a call, a result and an answer before the real exchange begins.
        let example = c.tools.isEmpty ? "" : Self.completionExample
        return example + messages.map { "\($0.role): \($0.content)" }.joined(separator: "\n") + "\nassistant: "
    }

    static let completionExample = """
    system: Tools:
    - math.add: Adds numbers. Arguments: {"properties":{"numbers":{"items":{"type":"number"},"type":"array"}},"type":"object"}
    user: What is 2 plus 40?
    assistant: {"tool": "math.add", "arguments": {"numbers": [2, 40]}}
    user: Result of math.add: 42
    assistant: {"answer": "2 plus 40 is 42."}


    """

    /// Said after the newest successful result (not in the worked example: there it made Gemma 3 270M answer the
    /// epoch question without calling, measured with Tools/agent_answer_rate.py).
    static let useResult = "Answer using the tool result."

    /// A result without its trailing newlines: a blank line before `assistant:` reads to a base model as the end
    /// of an exchange (the worked example ends so).
    static func trimmed(_ s: String) -> String {
        var s = Substring(s)
        while let c = s.last, c.isNewline || c == " " { s = s.dropLast() }
        return String(s)
    }

    public func turn(_ c: AgentConversation) async throws -> AgentTurn {
        var params: SamplingParams
        switch LlamaBackend.sampling(c.input, vocabularySize: backend.model.vocabularySize, contextLength: backend.engine.contextLength) {
        case .success(let p): params = p
        case .failure(let e): throw e
        }
        params.maxTokens = min(max(1, c.maxTokens), max(1, backend.engine.contextLength))
        // Greedy unless the task set a temperature: a turn is a decision under a grammar, not prose to vary.
        if c.input.temperature == nil { params.temperature = 0 }
        params.stop = []
        // The grammar and the prompt grow with the tools and the transcript: built off the cooperative pool.
        let (grammar, prompt) = try await ThreadPool.blocking.value { () throws -> (String, String) in
            (JSONGrammar.agentTurn(tools: c.tools.map { ($0.name, AgentInstructions.json($0.inputSchema)) }), try render(c))
        }
        params.grammar = grammar
        let g = try await backend.engine.generate(prompt: prompt, params: params)
        let usage = Usage(model: name, promptTokens: g.promptTokens, generatedTokens: g.generatedTokens,
                          promptMillis: g.promptMillis, generationMillis: g.generationMillis)
        if g.stopReason == "cancelled" { throw CancellationError() }
        var decision = AgentInstructions.decision(g.text)
        if case .unreadable = decision, g.stopReason == "length" {
            // The grammar allows only well-formed turns: an unreadable one was cut before its JSON ended.
            decision = .unreadable("the reply was cut at max_tokens (\(params.maxTokens)) before its JSON ended; reply shorter")
        }
        return AgentTurn(decision: decision, usage: usage)
    }
}
