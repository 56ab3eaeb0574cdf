import Foundation
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
                let retryAfter = http?.value(forHTTPHeaderField: "Retry-After").flatMap(Double.init)
                let wait = min(retryAfter ?? pow(2, Double(rateLimited)), 30)
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
