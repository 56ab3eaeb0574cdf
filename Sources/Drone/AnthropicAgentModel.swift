import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import HiveCore

/// Agent turns through Anthropic's Messages API native tool use (`tools` with `input_schema`, `tool_use` blocks,
/// `tool_result` blocks with `is_error`). One call per turn, the first `tool_use` block.
public struct AnthropicAgentModel: AgentModel {
    let backend: AnthropicBackend

    public init(_ backend: AnthropicBackend) { self.backend = backend }

    public var name: String { backend.apiModel }

    func body(_ c: AgentConversation, names: inout ProviderToolNames) -> [String: Any] {
        var messages: [[String: Any]] = [["role": "user", "content": c.prompt]]
        for (i, s) in c.steps.enumerated() {
            if s.tool.isEmpty {
                messages.append(["role": "assistant", "content": "?"])
                messages.append(["role": "user", "content": AgentInstructions.result(s)])
                continue
            }
            let id = "toolu_\(i + 1)"
            messages.append(["role": "assistant", "content": [["type": "tool_use", "id": id, "name": names.wireName(s.tool),
                                                               "input": ProviderToolNames.object(s.arguments)]]])
            messages.append(["role": "user", "content": [["type": "tool_result", "tool_use_id": id, "content": s.result,
                                                          "is_error": s.isError]]])
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
        if let use = content.first(where: { $0["type"] as? String == "tool_use" }), let wire = use["name"] as? String {
            guard let args = ProviderToolNames.value(use["input"] ?? [String: Any]()), case .object = args else {
                return AgentTurn(decision: .unreadable("the input of \(names.hiveName(wire)) is not a JSON object"), usage: usage)
            }
            return AgentTurn(decision: .call(tool: names.hiveName(wire), arguments: args), usage: usage)
        }
        let text = content.filter { $0["type"] as? String == "text" }.compactMap { $0["text"] as? String }.joined()
        return AgentTurn(decision: .answer(text), usage: usage)
    }
}
