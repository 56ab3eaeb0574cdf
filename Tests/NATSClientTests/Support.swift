import Foundation
import NATSClient
import NATSTestSupport
import Testing

extension BrokerKind: CustomTestStringConvertible {
    public var testDescription: String { rawValue }
}

/// Options for tests: fast reconnects, no shuffling (deterministic server order).
func testOptions(_ urls: String, configure: (inout NATSClientOptions) -> Void = { _ in }) throws -> NATSClientOptions {
    var o = try NATSClientOptions(urls: urls)
    o.reconnectWaitMillis = 50
    o.maxReconnectWaitMillis = 200
    o.randomizeServers = false
    o.connectTimeoutMillis = 1_000
    configure(&o)
    return o
}

func connect(_ port: Int, configure: (inout NATSClientOptions) -> Void = { _ in }) async throws -> NATSClient {
    try await NATSClient.connect(testOptions("nats://127.0.0.1:\(port)", configure: configure))
}

/// Collects the next `count` messages of a subscription, failing after `timeout` seconds.
func collect(_ sub: NATSSubscription, _ count: Int, timeout: Double = 5) async throws -> [NATSMessage] {
    try await withThrowingTaskGroup(of: [NATSMessage].self) { group in
        group.addTask {
            var out: [NATSMessage] = []
            for await m in sub {
                out.append(m)
                if out.count == count { break }
            }
            return out
        }
        group.addTask {
            try await Task.sleep(for: .seconds(timeout))
            throw NATSClientError.timeout(seconds: timeout)
        }
        let first = try await group.next()!
        group.cancelAll()
        return first
    }
}

/// Waits for an event matching `predicate` on the client's event stream (bounded).
func awaitEvent(_ client: NATSClient, timeout: Double = 10, _ predicate: @escaping @Sendable (NATSClientEvent) -> Bool) async throws -> NATSClientEvent {
    try await withThrowingTaskGroup(of: NATSClientEvent?.self) { group in
        group.addTask {
            for await e in client.events where predicate(e) { return e }
            return nil
        }
        group.addTask {
            try await Task.sleep(for: .seconds(timeout))
            return nil
        }
        let first = try await group.next()!
        group.cancelAll()
        guard let event = first else { throw NATSClientError.timeout(seconds: timeout) }
        return event
    }
}
