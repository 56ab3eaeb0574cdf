import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import HiveCore

/// Agent turns through an OpenAI-compatible API's native tool calling (`tools` with `function` definitions,
/// the assistant's `tool_calls`, `role: tool` results). One call per turn: when the model asks for several, the
/// first is made and the others are told to wait for the next turn.
public struct OpenAIAgentModel: AgentModel {
    let backend: OpenAIBackend

    public init(_ backend: OpenAIBackend) { self.backend = backend }

    public var name: String { backend.apiModel }

    func body(_ c: AgentConversation, names: inout ProviderToolNames) -> [String: Any] {
        var messages: [[String: Any]] = []
        if let s = c.system { messages.append(["role": "system", "content": s]) }
        messages.append(["role": "user", "content": c.prompt])
        for (i, s) in c.steps.enumerated() {
            if s.tool.isEmpty {
                messages.append(["role": "user", "content": AgentInstructions.result(s)])
                continue
            }
            let id = "call_\(i + 1)"
            messages.append(["role": "assistant", "content": NSNull(), "tool_calls": [[
                "id": id, "type": "function",
                "function": ["name": names.wireName(s.tool), "arguments": AgentInstructions.json(s.arguments)],
            ]]])
            messages.append(["role": "tool", "tool_call_id": id, "content": (s.isError ? "Error: " : "") + s.result])
        }
        var body: [String: Any] = ["model": backend.apiModel, "messages": messages, "max_tokens": c.maxTokens]
        if !c.tools.isEmpty {
            body["tools"] = c.tools.map { t in
                ["type": "function", "function": ["name": names.wireName(t.name), "description": t.description,
                                                  "parameters": ProviderToolNames.object(t.inputSchema)]] as [String: Any]
            }
        }
        if let v = c.input.temperature, v.isFinite { body["temperature"] = v }
        if let v = c.input.seed { body["seed"] = v }
        return body
    }

    public func turn(_ c: AgentConversation) async throws -> AgentTurn {
        var names = ProviderToolNames(c.tools.map(\.name))
        let payload = try JSONSerialization.data(withJSONObject: body(c, names: &names))
        var request = URLRequest(url: backend.baseURL.appendingPathComponent("v1/chat/completions"))
        request.httpMethod = "POST"
        request.httpBody = payload
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        if let key = backend.apiKey { request.setValue("Bearer \(key)", forHTTPHeaderField: "Authorization") }
        request.timeoutInterval = backend.timeout
        let data: Data, wall: Double
        switch await backend.transport.send(request) {
        case .success(let r): (data, wall) = r
        case .failure(let f): throw ProviderTurnError(description: f.message)
        }
        guard let json = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
              let message = (json["choices"] as? [[String: Any]])?.first?["message"] as? [String: Any] else {
            throw ProviderTurnError(description: "unreadable completion from the provider")
        }
        let u = json["usage"] as? [String: Any]
        let usage = Usage(model: json["model"] as? String ?? backend.apiModel, promptTokens: u?["prompt_tokens"] as? Int ?? 0,
                          generatedTokens: u?["completion_tokens"] as? Int ?? 0, promptMillis: 0, generationMillis: wall)
        if let call = (message["tool_calls"] as? [[String: Any]])?.first, let f = call["function"] as? [String: Any],
           let wire = f["name"] as? String {
            let text = f["arguments"] as? String ?? "{}"
            guard let args = try? JSONDecoder().decode(JSONValue.self, from: Data(text.utf8)), case .object = args else {
                return AgentTurn(decision: .unreadable("the arguments of \(names.hiveName(wire)) are not a JSON object"), usage: usage)
            }
            return AgentTurn(decision: .call(tool: names.hiveName(wire), arguments: args), usage: usage)
        }
        return AgentTurn(decision: .answer(message["content"] as? String ?? ""), usage: usage)
    }
}
