import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import HiveCore

/// Agent turns through an OpenAI-compatible API's native tool calling (`tools` with `function` definitions,
/// the assistant's `tool_calls`, `role: tool` results). A turn may ask for several calls: each is made in order,
/// and given back as the provider expects, one assistant message with every call of the turn, then one `tool`
/// message per call id.
public struct OpenAIAgentModel: AgentModel {
    let backend: OpenAIBackend

    public init(_ backend: OpenAIBackend) { self.backend = backend }

    public var name: String { backend.apiModel }

    func body(_ c: AgentConversation, names: inout ProviderToolNames) -> [String: Any] {
        var messages: [[String: Any]] = []
        if let s = c.system { messages.append(["role": "system", "content": s]) }
        messages.append(["role": "user", "content": c.prompt])
        for group in AgentConversation.turns(c.steps) {
            if group.count == 1, let s = group.first?.step, s.tool.isEmpty {
                messages.append(["role": "user", "content": AgentInstructions.result(s)])
                continue
            }
            let calls = group.filter { !$0.step.tool.isEmpty }
            messages.append(["role": "assistant", "content": NSNull(), "tool_calls": calls.map { i, s in [
                "id": "call_\(i + 1)", "type": "function",
                "function": ["name": names.wireName(s.tool), "arguments": AgentInstructions.json(s.arguments)],
            ] as [String: Any] }])
            for (i, s) in calls {
                messages.append(["role": "tool", "tool_call_id": "call_\(i + 1)", "content": (s.isError ? "Error: " : "") + s.result])
            }
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
        if let asked = message["tool_calls"] as? [[String: Any]], !asked.isEmpty {
            let calls = asked.prefix(AgentDecision.maxCallsPerTurn).map { call -> AgentCall in
                let f = call["function"] as? [String: Any]
                let name = names.hiveName(f?["name"] as? String ?? "")
                let text = f?["arguments"] as? String ?? "{}"
                guard let args = try? JSONValue.parse(Array(text.utf8)), case .object = args else {
                    return AgentCall(tool: name, arguments: .object([:]), problem: "the arguments of \(name) are not a JSON object; the call was not made")
                }
                return AgentCall(tool: name, arguments: args)
            }
            return AgentTurn(decision: .calls(calls), usage: usage)
        }
        return AgentTurn(decision: .answer(message["content"] as? String ?? ""), usage: usage)
    }
}
