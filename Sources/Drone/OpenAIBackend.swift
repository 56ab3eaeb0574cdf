import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import HiveCore
import HiveLog

/// Serves `model` tasks through an OpenAI-compatible chat-completions API: OpenAI, vLLM, Ollama, llama.cpp's
/// server, LM Studio. The core tier's "external brain".
///
/// Transport, retries and failure classes come from `ProviderTransport`. The key is read from an environment
/// variable and never logged.
public final class OpenAIBackend: Backend, @unchecked Sendable {
    public let baseURL: URL
    public let apiModel: String
    let apiKey: String?
    let timeout: TimeInterval
    let transport: ProviderTransport
    /// Ask for a server-sent-event stream (`"stream": true`) and assemble it; some gateways only stream.
    public let stream: Bool

    public init(baseURL: URL, apiModel: String, apiKey: String?, maxConcurrent: Int = 4, timeout: TimeInterval = 120,
                stream: Bool = false) {
        self.baseURL = baseURL
        self.apiModel = apiModel
        self.apiKey = apiKey
        self.timeout = timeout
        self.stream = stream
        transport = ProviderTransport(name: "openai", maxConcurrent: maxConcurrent, timeout: timeout)
    }

    public var kind: String { "model" }
    public var capabilities: [String] { ["engine:openai", "model:\(apiModel)"] }

    public func run(_ task: Assignment) async -> BackendOutcome {
        let input = task.input ?? TaskInput()
        guard let prompt = input.prompt ?? input.text else { return .failure("model task without a prompt (input.prompt)") }
        if let why = ProviderTransport.checkFinite(input) { return .failure(why, permanent: true) }
        var messages: [[String: Any]] = []
        if let system = input.system { messages.append(["role": "system", "content": system]) }
        messages.append(["role": "user", "content": prompt])
        var body: [String: Any] = ["model": apiModel, "messages": messages]
        if let v = input.maxTokens { body["max_tokens"] = v }
        if let v = input.temperature { body["temperature"] = v }
        if let v = input.topP { body["top_p"] = v }
        if let v = input.seed { body["seed"] = v }
        if let v = input.stop { body["stop"] = v }
        if stream {
            body["stream"] = true
            body["stream_options"] = ["include_usage": true]
        }
        if let schemaText = input.jsonSchema {
            guard let schema = try? JSONSerialization.jsonObject(with: Data(schemaText.utf8)) else {
                return .failure("json_schema is not valid JSON", permanent: true)
            }
            body["response_format"] = ["type": "json_schema", "json_schema": ["name": "output", "schema": schema]]
        } else if input.json == true {
            body["response_format"] = ["type": "json_object"]
        }
        guard let payload = try? JSONSerialization.data(withJSONObject: body) else { return .failure("cannot encode the request") }
        var request = URLRequest(url: baseURL.appendingPathComponent("v1/chat/completions"))
        request.httpMethod = "POST"
        request.httpBody = payload
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        if let apiKey { request.setValue("Bearer \(apiKey)", forHTTPHeaderField: "Authorization") }
        request.timeoutInterval = ProviderTransport.requestTimeout(task.timeoutMillis, cap: timeout)

        switch await transport.send(request) {
        case .success(let (data, wall)): return stream ? parseStream(data, wallMillis: wall) : parse(data, wallMillis: wall)
        case .failure(let f): return f.outcome
        }
    }

    /// Assembles an SSE stream: `data: {chunk}` lines until `data: [DONE]`; text from each chunk's delta, usage
    /// from the chunk that carries it (or, when the provider sends none, one generated token per content chunk).
    func parseStream(_ data: Data, wallMillis: Double) -> BackendOutcome {
        var text = ""
        var chunks = 0
        var usage: [String: Any]?
        var model = apiModel
        for line in String(decoding: data, as: UTF8.self).split(separator: "\n") {
            guard line.hasPrefix("data:") else { continue }
            let payload = line.dropFirst(5).trimmingCharacters(in: .whitespaces)
            if payload == "[DONE]" { break }
            guard let json = try? JSONSerialization.jsonObject(with: Data(payload.utf8)) as? [String: Any] else {
                return .failure("unreadable stream chunk from the provider")
            }
            if let m = json["model"] as? String { model = m }
            if let u = json["usage"] as? [String: Any] { usage = u }
            if let choices = json["choices"] as? [[String: Any]], let delta = choices.first?["delta"] as? [String: Any],
               let piece = delta["content"] as? String, !piece.isEmpty {
                text += piece
                chunks += 1
            }
        }
        var o = BackendOutcome(succeeded: true, output: text)
        o.usage = Usage(model: model, promptTokens: usage?["prompt_tokens"] as? Int ?? 0,
                        generatedTokens: usage?["completion_tokens"] as? Int ?? chunks, promptMillis: 0,
                        generationMillis: wallMillis)
        return o
    }

    private func parse(_ data: Data, wallMillis: Double) -> BackendOutcome {
        guard let json = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
              let choices = json["choices"] as? [[String: Any]], let first = choices.first,
              let message = first["message"] as? [String: Any] else {
            return .failure("unreadable completion from the provider")
        }
        let text = message["content"] as? String ?? ""
        let usage = json["usage"] as? [String: Any]
        var o = BackendOutcome(succeeded: true, output: text)
        o.usage = Usage(model: json["model"] as? String ?? apiModel,
                        promptTokens: usage?["prompt_tokens"] as? Int ?? 0,
                        generatedTokens: usage?["completion_tokens"] as? Int ?? 0,
                        promptMillis: 0, generationMillis: wallMillis)
        return o
    }
}
