import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import HiveCore

/// Agent turns through Anthropic's Messages API native tool use (`tools` with `input_schema`, `tool_use` blocks,
/// `tool_result` blocks with `is_error`). A turn may hold several `tool_use` blocks: each is made in order, and the
/// results go back as Anthropic expects, one user message with a `tool_result` block per call.
public struct AnthropicAgentModel: AgentModel {
    let backend: AnthropicBackend

    public init(_ backend: AnthropicBackend) { self.backend = backend }

    public var name: String { backend.apiModel }

    func body(_ c: AgentConversation, names: inout ProviderToolNames) -> [String: Any] {
        var messages: [[String: Any]] = [["role": "user", "content": c.prompt]]
        for group in AgentConversation.turns(c.steps) {
            if group.count == 1, let s = group.first?.step, s.tool.isEmpty {
                messages.append(["role": "assistant", "content": "?"])
                messages.append(["role": "user", "content": AgentInstructions.result(s)])
                continue
            }
            let calls = group.filter { !$0.step.tool.isEmpty }
            messages.append(["role": "assistant", "content": calls.map { i, s in
                ["type": "tool_use", "id": "toolu_\(i + 1)", "name": names.wireName(s.tool), "input": ProviderToolNames.object(s.arguments)] as [String: Any]
            }])
            messages.append(["role": "user", "content": calls.map { i, s in
                ["type": "tool_result", "tool_use_id": "toolu_\(i + 1)", "content": s.result, "is_error": s.isError] as [String: Any]
            }])
        }
        var body: [String: Any] = ["model": backend.apiModel, "max_tokens": c.maxTokens, "messages": messages]
        if let s = c.system { body["system"] = s }
        if !c.tools.isEmpty {
            body["tools"] = c.tools.map { t in
                ["name": names.wireName(t.name), "description": t.description, "input_schema": ProviderToolNames.object(t.inputSchema)] as [String: Any]
            }
        }
        if let v = c.input.temperature, v.isFinite { body["temperature"] = v }
        return body
    }

    public func turn(_ c: AgentConversation) async throws -> AgentTurn {
        var names = ProviderToolNames(c.tools.map(\.name))
        let payload = try JSONSerialization.data(withJSONObject: body(c, names: &names))
        var request = URLRequest(url: backend.baseURL.appendingPathComponent("v1/messages"))
        request.httpMethod = "POST"
        request.httpBody = payload
        request.setValue("application/json", forHTTPHeaderField: "content-type")
        request.setValue(AnthropicBackend.apiVersion, forHTTPHeaderField: "anthropic-version")
        if let key = backend.apiKey { request.setValue(key, forHTTPHeaderField: "x-api-key") }
        request.timeoutInterval = backend.timeout
        let data: Data, wall: Double
        switch await backend.transport.send(request) {
        case .success(let r): (data, wall) = r
        case .failure(let f): throw ProviderTurnError(description: f.message)
        }
        guard let json = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
              let content = json["content"] as? [[String: Any]] else {
            throw ProviderTurnError(description: "unreadable message from the provider")
        }
        let u = json["usage"] as? [String: Any]
        let usage = Usage(model: json["model"] as? String ?? backend.apiModel, promptTokens: u?["input_tokens"] as? Int ?? 0,
                          generatedTokens: u?["output_tokens"] as? Int ?? 0, promptMillis: 0, generationMillis: wall)
        let uses = content.filter { $0["type"] as? String == "tool_use" }
        if !uses.isEmpty {
            let calls = uses.prefix(AgentDecision.maxCallsPerTurn).map { use -> AgentCall in
                let name = names.hiveName(use["name"] as? String ?? "")
                guard let args = ProviderToolNames.value(use["input"] ?? [String: Any]()), case .object = args else {
                    return AgentCall(tool: name, arguments: .object([:]), problem: "the input of \(name) is not a JSON object; the call was not made")
                }
                return AgentCall(tool: name, arguments: args)
            }
            return AgentTurn(decision: .calls(calls), usage: usage)
        }
        let text = content.filter { $0["type"] as? String == "text" }.compactMap { $0["text"] as? String }.joined()
        return AgentTurn(decision: .answer(text), usage: usage)
    }
}
