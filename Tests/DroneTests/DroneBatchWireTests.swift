@testable import Drone
import Foundation
import HiveCore
import NATSClient
import NATSWire
import NATSTestSupport
import Testing

/// A real drone (`DroneRuntime`, noop backend) on a real broker, against a stand-in honeycombd: it takes assignment
/// lists, and sends its results in lists only when the hello reply allows them, each entry with its run's span.
@Suite struct DroneBatchWireTests {
    /// The stand-in: answers the drone's hello with `reply` and its heartbeats as known; returns the results subscription.
    static func standIn(_ nc: NATSClient, drone: DroneID, reply: HelloReply) throws -> (NATSSubscription, [Task<Void, Never>]) {
        let hellos = try nc.subscribe(APISubject.hello(drone))
        let beats = try nc.subscribe(APISubject.heartbeat(drone))
        let results = try nc.subscribe(APISubject.result(drone))
        let answer = Array(try JSONEncoder().encode(reply))
        return (results, [
            Task { for await m in hellos { if let r = m.reply { try? nc.publish(r, answer) } } },
            Task { for await m in beats { if let r = m.reply { try? nc.publish(r, HeartbeatReply(known: true).fastJSON) } } },
        ])
    }

    static func assignments(_ n: Int, goal: String) -> [Assignment] {
        (0..<n).map { i in
            Assignment(task: "\(goal).\(i)", goal: goal, attempt: 1, token: "t\(i)", kind: "noop", input: TaskInput(text: "out-\(i)"),
                       index: i, timeoutMillis: 10_000, traceparent: "00-0af7651916cd43dd8448eb211c80319c-00f067aa0ba902b\(i % 10)-01")
        }
    }

    /// Reads result messages until `count` results came; returns them and how many messages carried them.
    static func collect(_ results: NATSSubscription, count: Int) async throws -> (results: [TaskResult], messages: [NATSMessage]) {
        var got: [TaskResult] = [], messages: [NATSMessage] = []
        var it = results.makeAsyncIterator()
        while got.count < count {
            let m = try #require(await it.next())
            messages.append(m)
            got += DroneBatch.results(m.payload, limit: 4096).entries
        }
        return (got, messages)
    }

    @Test(arguments: [16, nil] as [Int?])
    func listsInAndOutOnlyAsAgreed(replyBatch: Int?) async throws {
        let broker = try RunningBroker(.embedded)
        let url = "nats://127.0.0.1:\(broker.port)"
        let nc = try await NATSClient.connect(urls: url)
        let drone: DroneID = "lister"
        let (results, standIn) = try Self.standIn(nc, drone: drone, reply: HelloReply(accepted: true, heartbeatMillis: 1_000, batch: replyBatch))
        try await nc.flush()
        var options = DroneOptions(bus: try NATSClientOptions(urls: url), name: drone, tier: .worker, slots: 64, backends: [NoopBackend()])
        options.id = drone
        options.batch = 32
        let runtime = try await DroneRuntime.start(options)
        // 40 assignments in one list: 32 are read (the drone's --batch), 8 refused unread.
        let sent = Self.assignments(40, goal: "g1")
        try nc.publish(APISubject.assign(drone), DroneBatch.json(sent))
        let (got, messages) = try await Self.collect(results, count: 32)
        #expect(got.map(\.task).sorted() == sent.prefix(32).map(\.task).sorted())
        #expect(got.allSatisfy { r in r.outcome == .succeeded && r.output == "out-" + r.task.dropFirst(3) && r.drone == drone })
        if let replyBatch {
            // Lists of at most the agreed size; each entry names its run's span (a child of the attempt's trace).
            #expect(messages.count < 32 && messages.allSatisfy { $0.headers == nil })
            #expect(messages.allSatisfy { DroneBatch.results($0.payload, limit: 4096).entries.count <= min(32, replyBatch) })
            #expect(got.allSatisfy { $0.traceparent?.hasPrefix("00-0af7651916cd43dd8448eb211c80319c-") == true && $0.spanTime != nil })
        } else {
            // An older honeycombd: one result per message, the span in headers, no list fields.
            #expect(messages.count == 32)
            #expect(messages.allSatisfy { $0.payload.first != UInt8(ascii: "[") && $0.headers?["traceparent"] != nil && $0.headers?[SpanReport.timeHeader] != nil })
            #expect(got.allSatisfy { $0.traceparent == nil && $0.spanTime == nil })
        }
        // A single assignment (its trace parent in the header) still works beside lists.
        var one = Self.assignments(1, goal: "g2")[0]
        let parent = one.traceparent
        one.traceparent = nil
        try nc.publish(APISubject.assign(drone), one.fastJSON, headers: NATSHeaders("traceparent", parent!))
        let (single, _) = try await Self.collect(results, count: 1)
        #expect(single.map(\.task) == ["g2.0"])
        await runtime.shutdown()
        for t in standIn { t.cancel() }
        nc.close()
    }
}
