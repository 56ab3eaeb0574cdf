import HiveSystem
import NATSClient
import Synchronization

/// The same scenarios as `BrokerBenchmark`, driven through `NATSClient`: what an application built on our
/// client gets. Compared with the raw-socket figures, it shows the client's own overhead.
public struct ClientBenchmark: Sendable {
    public var url: String
    public var messages: Int
    public var payloadSize: Int
    public var requests: Int

    public init(url: String, messages: Int, payloadSize: Int, requests: Int) {
        self.url = url
        self.messages = messages
        self.payloadSize = payloadSize
        self.requests = requests
    }

    private func client(_ name: String) async throws -> NATSClient {
        var o = try NATSClientOptions(urls: url)
        o.name = name
        o.subscriptionBufferLimit = 1 << 20
        return try await NATSClient.connect(o)
    }

    public func publishOnly() async throws -> BrokerBenchmark.Result {
        let nc = try await client("bench-pub")
        defer { nc.close() }
        let payload = [UInt8](repeating: 120, count: payloadSize)
        let start = Monotonic.seconds()
        for _ in 0..<messages { try nc.publish("bench.nobody", payload) }
        try await nc.flush(timeout: 60)
        let t = Monotonic.seconds() - start
        return .init(name: "pub_only", rate: Double(messages) / t, seconds: t)
    }

    /// One publisher, `subscribers` subscriber connections (plain or one queue group), with the same in-flight
    /// window as the raw benchmark.
    public func fanOut(name: String, subscribers: Int, queue: Bool) async throws -> BrokerBenchmark.Result {
        let subject = "bench.client.\(name)"
        let received = Counter()
        var clients: [NATSClient] = []
        var readers: [Task<Void, Never>] = []
        for i in 0..<subscribers {
            let c = try await client("bench-sub-\(i)")
            let sub = try c.subscribe(subject, queue: queue ? "q" : nil)
            try await c.flush()
            clients.append(c)
            readers.append(Task { for await _ in sub { received.add(1) } })
        }
        let pub = try await client("bench-pub")
        let perMessage = queue ? 1 : subscribers
        let expected = messages * perMessage
        let payload = [UInt8](repeating: 120, count: payloadSize)
        let window = 200_000
        let start = Monotonic.seconds()
        for i in 0..<messages {
            if i % 1000 == 0 {
                while i * perMessage - received.value > window * perMessage { await Task.yield() }
            }
            try pub.publish(subject, payload)
        }
        let deadline = start + 120
        while received.value < expected {
            if Monotonic.seconds() > deadline { throw BenchError.timeout("received \(received.value) of \(expected)") }
            try await Task.sleep(for: .microseconds(200))
        }
        let t = Monotonic.seconds() - start
        pub.close()
        for c in clients { c.close() }
        for r in readers { await r.value }
        return .init(name: name, rate: Double(expected) / t, seconds: t)
    }

    public func requestReply() async throws -> BrokerBenchmark.Result {
        let responder = try await client("bench-responder")
        let requests = try responder.subscribe("bench.client.rpc")
        let serving = Task { for await r in requests { if let reply = r.reply { try? responder.publish(reply, r.payload) } } }
        try await responder.flush()
        let requester = try await client("bench-requester")
        let payload = [UInt8](repeating: 120, count: payloadSize)
        var latencies: [Double] = []
        latencies.reserveCapacity(self.requests)
        let start = Monotonic.seconds()
        for _ in 0..<self.requests {
            let t0 = Monotonic.seconds()
            _ = try await requester.request("bench.client.rpc", payload, timeout: 5)
            latencies.append((Monotonic.seconds() - t0) * 1e6)
        }
        let t = Monotonic.seconds() - start
        requester.close()
        responder.close()
        await serving.value
        latencies.sort()
        return .init(name: "req_reply", rate: Double(self.requests) / t, p50: latencies[latencies.count / 2],
                     p99: latencies[min(latencies.count - 1, latencies.count * 99 / 100)], seconds: t)
    }

    public func runAll() async throws -> [BrokerBenchmark.Result] {
        [try await publishOnly(),
         try await fanOut(name: "pubsub_1to1", subscribers: 1, queue: false),
         try await fanOut(name: "fanout_1to8", subscribers: 8, queue: false),
         try await fanOut(name: "queue_1to4", subscribers: 4, queue: true),
         try await requestReply()]
    }
}

/// A counter shared by the benchmark's tasks.
final class Counter: Sendable {
    private let n = Atomic<Int>(0)
    func add(_ k: Int) { n.add(k, ordering: .relaxed) }
    var value: Int { n.load(ordering: .relaxed) }
}
