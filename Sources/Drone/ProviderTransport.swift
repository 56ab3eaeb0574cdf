import Foundation
import HiveCore
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import HiveLog

/// The HTTP side every external-brain backend shares: a cap on requests in flight, bounded retries of 429
/// after `Retry-After`, and the split the control plane acts on: timeouts, connection errors, 429 past the
/// retries and 5xx (including Anthropic's 529 "overloaded") are retryable; any other 4xx is permanent and
/// carries the provider's message.
final class ProviderTransport: @unchecked Sendable {
    private let gate: ConcurrencyGate
    private let session: URLSession
    private let log: Log
    let maxRateLimitRetries: Int

    init(name: String, maxConcurrent: Int, timeout: TimeInterval, maxRateLimitRetries: Int = 3) {
        gate = ConcurrencyGate(limit: maxConcurrent)
        let config = URLSessionConfiguration.ephemeral
        config.timeoutIntervalForRequest = timeout
        session = URLSession(configuration: config)
        log = Log(name)
        self.maxRateLimitRetries = maxRateLimitRetries
    }

    /// Sends `request`; on success returns the body and the wall time in milliseconds.
    func send(_ request: URLRequest) async -> Result<(Data, Double), ProviderFailure> {
        await gate.acquire()
        defer { Task { await gate.release() } }
        let start = Date()
        var rateLimited = 0
        while true {
            let data: Data
            let response: URLResponse
            do { (data, response) = try await session.data(for: request) } catch {
                if Task.isCancelled { return .failure(ProviderFailure(message: "cancelled", permanent: false)) }
                return .failure(ProviderFailure(message: "request to \(request.url?.host ?? "?") failed: \(error.localizedDescription)",
                                                permanent: false))
            }
            let http = response as? HTTPURLResponse
            let status = http?.statusCode ?? 0
            switch status {
            case 200..<300:
                return .success((data, Date().timeIntervalSince(start) * 1000))
            case 429 where rateLimited < maxRateLimitRetries:
                rateLimited += 1
                let wait = Self.retryDelaySeconds(http?.value(forHTTPHeaderField: "Retry-After"), attempt: rateLimited)
                log.warn("rate_limited", ["retry_after_s": wait, "attempt": rateLimited])
                try? await Task.sleep(for: .milliseconds(Int(wait * 1000)))
            case 429, 500..<600:
                return .failure(ProviderFailure(message: "provider answered \(status): \(Self.message(data))", permanent: false))
            default:
                return .failure(ProviderFailure(message: "provider refused the request (\(status)): \(Self.message(data))",
                                                permanent: true))
            }
        }
    }

    /// The provider's own error message (`{"error":{"message":…}}` for OpenAI and Anthropic), or the body's start.
    /// Seconds to wait after a 429: the provider's `Retry-After` (seconds) when it is a usable number, else
    /// 2^attempt; always within 0…30 (a NaN, negative or huge header must not trap the conversion to milliseconds).
    static func retryDelaySeconds(_ header: String?, attempt: Int) -> Double {
        let asked = header.flatMap { Double($0.trimmingCharacters(in: .whitespaces)) }
        let wait = asked.flatMap { $0.isFinite ? $0 : nil } ?? pow(2, Double(min(max(0, attempt), 5)))
        return min(max(0, wait), 30)
    }

    /// A task's float settings must be finite before they are encoded for a provider (JSON has no NaN).
    static func checkFinite(_ input: TaskInput) -> String? {
        for (field, v) in [("temperature", input.temperature), ("top_p", input.topP)] {
            if let v, !v.isFinite { return "\(field) must be a finite number, not \(v)" }
        }
        return nil
    }

    /// A request timeout from the task's (untrusted) milliseconds: positive, at most the backend's own.
    static func requestTimeout(_ taskMillis: Int, cap: TimeInterval) -> TimeInterval {
        min(cap, max(0.001, Double(taskMillis) / 1000))
    }

    static func message(_ data: Data) -> String {
        if let json = try? JSONSerialization.jsonObject(with: data) as? [String: Any] {
            if let e = json["error"] as? [String: Any], let m = e["message"] as? String { return m }
            if let m = json["message"] as? String { return m }
            if let d = json["detail"] as? String { return d }
        }
        return String(decoding: data.prefix(300), as: UTF8.self)
    }
}

struct ProviderFailure: Error {
    let message: String
    let permanent: Bool

    var outcome: BackendOutcome { .failure(message, permanent: permanent) }
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
