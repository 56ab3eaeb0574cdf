import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import HiveCore
import HiveLog

/// Serves `model` tasks through an OpenAI-compatible chat-completions API: OpenAI, vLLM, Ollama, llama.cpp's
/// server, LM Studio. The core tier's "external brain".
///
/// Failures are classified for the control plane: 429 is retried here after `Retry-After` (bounded); timeouts,
/// connection errors and 5xx are retryable task failures (another attempt, maybe another drone); any other 4xx
/// is permanent and carries the provider's own message. The key is read from an environment variable and never
/// logged.
public final class OpenAIBackend: Backend, @unchecked Sendable {
    public let baseURL: URL
    public let apiModel: String
    private let apiKey: String?
    private let timeout: TimeInterval
    private let gate: ConcurrencyGate
    private let session: URLSession
    private let log = Log("openai")
    /// Rate-limit retries before the task fails (retryable).
    public var maxRateLimitRetries = 3

    public init(baseURL: URL, apiModel: String, apiKey: String?, maxConcurrent: Int = 4, timeout: TimeInterval = 120) {
        self.baseURL = baseURL
        self.apiModel = apiModel
        self.apiKey = apiKey
        self.timeout = timeout
        gate = ConcurrencyGate(limit: maxConcurrent)
        let config = URLSessionConfiguration.ephemeral
        config.timeoutIntervalForRequest = timeout
        session = URLSession(configuration: config)
    }

    public var kind: String { "model" }
    public var capabilities: [String] { ["engine:openai", "model:\(apiModel)"] }

    public func run(_ task: Assignment) async -> BackendOutcome {
        let input = task.input ?? TaskInput()
        guard let prompt = input.prompt ?? input.text else { return .failure("model task without a prompt (input.prompt)") }
        var messages: [[String: Any]] = []
        if let system = input.system { messages.append(["role": "system", "content": system]) }
        messages.append(["role": "user", "content": prompt])
        var body: [String: Any] = ["model": apiModel, "messages": messages]
        if let v = input.maxTokens { body["max_tokens"] = v }
        if let v = input.temperature { body["temperature"] = v }
        if let v = input.topP { body["top_p"] = v }
        if let v = input.seed { body["seed"] = v }
        if let v = input.stop { body["stop"] = v }
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
        request.timeoutInterval = min(timeout, Double(task.timeoutMillis) / 1000)

        await gate.acquire()
        defer { Task { await gate.release() } }
        let start = Date()
        var rateLimited = 0
        while true {
            let data: Data
            let response: URLResponse
            do { (data, response) = try await session.data(for: request) } catch {
                if Task.isCancelled { return .failure("cancelled") }
                return .failure("request to \(baseURL.host ?? "?") failed: \(error.localizedDescription)")
            }
            let status = (response as? HTTPURLResponse)?.statusCode ?? 0
            switch status {
            case 200..<300:
                return parse(data, wallMillis: Date().timeIntervalSince(start) * 1000)
            case 429 where rateLimited < maxRateLimitRetries:
                rateLimited += 1
                let retryAfter = (response as? HTTPURLResponse)?.value(forHTTPHeaderField: "Retry-After").flatMap(Double.init)
                let wait = min(retryAfter ?? pow(2, Double(rateLimited)), 30)
                log.warn("rate_limited", ["retry_after_s": wait, "attempt": rateLimited])
                try? await Task.sleep(for: .milliseconds(Int(wait * 1000)))
            case 429, 500..<600:
                return .failure("provider answered \(status): \(Self.message(data))")
            default:
                return .failure("provider refused the request (\(status)): \(Self.message(data))", permanent: true)
            }
        }
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

    /// The provider's own error message (`{"error":{"message":…}}`), or the body's start.
    static func message(_ data: Data) -> String {
        if let json = try? JSONSerialization.jsonObject(with: data) as? [String: Any] {
            if let e = json["error"] as? [String: Any], let m = e["message"] as? String { return m }
            if let m = json["message"] as? String { return m }
            if let d = json["detail"] as? String { return d }
        }
        return String(decoding: data.prefix(300), as: UTF8.self)
    }
}

/// Caps concurrent requests to one provider.
actor ConcurrencyGate {
    private let limit: Int
    private var inUse = 0
    private var waiting: [CheckedContinuation<Void, Never>] = []

    init(limit: Int) { self.limit = max(1, limit) }

    func acquire() async {
        if inUse < limit {
            inUse += 1
            return
        }
        await withCheckedContinuation { waiting.append($0) }
    }

    func release() {
        if waiting.isEmpty { inUse -= 1 } else { waiting.removeFirst().resume() }
    }
}
