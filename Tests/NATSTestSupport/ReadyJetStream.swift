import Foundation
import JetStream
import NATSClient

/// Connects to `urls` and waits (bounded) until JetStream answers `STREAM.INFO` — a cluster's meta leader is
/// elected a moment after the routes form.
public func readyJetStream(_ urls: String, timeout: Double = 20) async throws -> JetStreamAPI {
    let client = try await NATSClient.connect(urls: urls)
    let js = JetStreamAPI(client: client, timeout: 2)
    let deadline = Date().addingTimeInterval(timeout)
    while true {
        do {
            _ = try await js.streamInfo("READY")
            return js
        } catch {
            if Date() > deadline { throw error }
            try await Task.sleep(for: .milliseconds(100))  // polling for the meta leader, bounded by the deadline above
        }
    }
}
