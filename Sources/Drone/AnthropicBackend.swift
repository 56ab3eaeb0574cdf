import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import HiveCore

/// Serves `model` tasks through Anthropic's Messages API (`POST /v1/messages`, `x-api-key`,
/// `anthropic-version`). Transport, retries and failure classes come from `ProviderTransport`.
public final class AnthropicBackend: Backend, @unchecked Sendable {
    public let baseURL: URL
    public let apiModel: String
    let apiKey: String?
    let timeout: TimeInterval
    let transport: ProviderTransport
    /// Messages requires max_tokens; used when the task names none.
    public var defaultMaxTokens = 1024
    static let apiVersion = "2023-06-01"

    public init(baseURL: URL, apiModel: String, apiKey: String?, maxConcurrent: Int = 4, timeout: TimeInterval = 120) {
        self.baseURL = baseURL
        self.apiModel = apiModel
        self.apiKey = apiKey
        self.timeout = timeout
        transport = ProviderTransport(name: "anthropic", maxConcurrent: maxConcurrent, timeout: timeout)
    }

    public var kind: String { "model" }
    public var capabilities: [String] { ["engine:anthropic", "model:\(apiModel)"] }

    public func run(_ task: Assignment) async -> BackendOutcome {
        let input = task.input ?? TaskInput()
        guard let prompt = input.prompt ?? input.text else { return .failure("model task without a prompt (input.prompt)") }
        if let why = ProviderTransport.checkFinite(input) { return .failure(why, permanent: true) }
        var user = prompt
        if let schema = input.jsonSchema {
            user += "\n\nAnswer with JSON only, matching this JSON Schema:\n\(schema)"
        } else if input.json == true {
            user += "\n\nAnswer with a JSON object only."
        }
        var body: [String: Any] = ["model": apiModel, "max_tokens": input.maxTokens ?? defaultMaxTokens,
                                   "messages": [["role": "user", "content": user]]]
        if let v = input.system { body["system"] = v }
        if let v = input.temperature { body["temperature"] = v }
        if let v = input.topP { body["top_p"] = v }
        if let v = input.topK { body["top_k"] = v }
        if let v = input.stop { body["stop_sequences"] = v }
        guard let payload = try? JSONSerialization.data(withJSONObject: body) else { return .failure("cannot encode the request") }
        var request = URLRequest(url: baseURL.appendingPathComponent("v1/messages"))
        request.httpMethod = "POST"
        request.httpBody = payload
        request.setValue("application/json", forHTTPHeaderField: "content-type")
        request.setValue(Self.apiVersion, forHTTPHeaderField: "anthropic-version")
        if let apiKey { request.setValue(apiKey, forHTTPHeaderField: "x-api-key") }
        request.timeoutInterval = ProviderTransport.requestTimeout(task.timeoutMillis, cap: timeout)
        switch await transport.send(request) {
        case .success(let (data, wall)): return parse(data, wallMillis: wall)
        case .failure(let f): return f.outcome
        }
    }

    private func parse(_ data: Data, wallMillis: Double) -> BackendOutcome {
        guard let json = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
              let content = json["content"] as? [[String: Any]] else {
            return .failure("unreadable message from the provider")
        }
        let text = content.filter { $0["type"] as? String == "text" }.compactMap { $0["text"] as? String }.joined()
        let usage = json["usage"] as? [String: Any]
        var o = BackendOutcome(succeeded: true, output: text)
        o.usage = Usage(model: json["model"] as? String ?? apiModel, promptTokens: usage?["input_tokens"] as? Int ?? 0,
                        generatedTokens: usage?["output_tokens"] as? Int ?? 0, promptMillis: 0, generationMillis: wallMillis)
        return o
    }
}
