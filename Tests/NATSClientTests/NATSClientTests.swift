import Foundation
import NATSClient
import NATSTestSupport
import NATSWire
import Testing

/// The client against the embedded broker and a real nats-server: the same behaviour from both.
@Suite struct NATSClientTests {
    @Test(arguments: BrokerKind.allCases)
    func publishSubscribeRoundTrip(kind: BrokerKind) async throws {
        let broker = try RunningBroker(kind)
        let nc = try await connect(broker.port)
        let sub = try nc.subscribe("greet.*")
        try await nc.flush()
        try nc.publish("greet.joe", "hello")
        try nc.publish("greet.ann", [0, 13, 10, 255], reply: "back.here")
        let got = try await collect(sub, 2)
        #expect(got[0] == NATSMessage(subject: "greet.joe", reply: nil, headers: nil, payload: Array("hello".utf8)))
        #expect(got[1] == NATSMessage(subject: "greet.ann", reply: "back.here", headers: nil, payload: [0, 13, 10, 255]))
        #expect(nc.maxPayload == 1_048_576)
        nc.close()
    }

    @Test(arguments: BrokerKind.allCases)
    func queueGroupSharesAndWildcardsMatch(kind: BrokerKind) async throws {
        let broker = try RunningBroker(kind)
        let nc = try await connect(broker.port)
        let a = try nc.subscribe("jobs.>", queue: "workers")
        let b = try nc.subscribe("jobs.>", queue: "workers")
        let all = try nc.subscribe("jobs.*")
        try await nc.flush()
        for i in 0..<200 { try nc.publish("jobs.\(i)", "\(i)") }
        try await nc.flush()
        #expect(try await collect(all, 200).count == 200)
        try a.unsubscribe()
        try b.unsubscribe()
        var shared = 0
        for await _ in a { shared += 1 }
        for await _ in b { shared += 1 }
        #expect(shared == 200)
        #expect(a.deliveredCount > 40 && b.deliveredCount > 40, "spread \(a.deliveredCount)/\(b.deliveredCount)")
    }

    @Test(arguments: BrokerKind.allCases)
    func headersRoundTrip(kind: BrokerKind) async throws {
        let broker = try RunningBroker(kind)
        let nc = try await connect(broker.port)
        let sub = try nc.subscribe("h")
        try await nc.flush()
        var headers: NATSHeaders = ["Trace": "abc", "Hive-Task": "t-1"]
        headers.append("Trace", "def")
        try nc.publish("h", "body", headers: headers)
        let m = try await collect(sub, 1)[0]
        #expect(m.headers == headers)
        #expect(m.headers?.values("Trace") == ["abc", "def"])
        #expect(m.string == "body")
        #expect(throws: NATSClientError.invalidHeader("bad name")) { try nc.publish("h", "x", headers: ["bad name": "v"]) }
        #expect(throws: NATSClientError.invalidHeader("a\r\nForged: yes")) { try nc.publish("h", "x", headers: ["X": "a\r\nForged: yes"]) }
    }

    @Test(arguments: BrokerKind.allCases)
    func requestsMultiplexOverOneInbox(kind: BrokerKind) async throws {
        let broker = try RunningBroker(kind)
        let service = try await connect(broker.port)
        let requests = try service.subscribe("math.double")
        let server = Task {
            for await req in requests {
                let n = Int(req.string)!
                try service.publish(req.reply!, "\(n * 2)")
            }
        }
        try await service.flush()
        let nc = try await connect(broker.port)
        let answers = try await withThrowingTaskGroup(of: (Int, Int).self) { group in
            for i in 0..<200 {
                group.addTask { (i, Int(try await nc.request("math.double", "\(i)", timeout: 5).string)!) }
            }
            var out: [Int: Int] = [:]
            for try await (i, a) in group { out[i] = a }
            return out
        }
        #expect(answers.count == 200)
        #expect(answers.allSatisfy { $0.value == $0.key * 2 })
        service.close()
        _ = await server.result
    }

    @Test(arguments: BrokerKind.allCases)
    func requestWithoutRespondersFailsFast(kind: BrokerKind) async throws {
        let broker = try RunningBroker(kind)
        let nc = try await connect(broker.port)
        let start = Date()
        await #expect(throws: NATSClientError.noResponders(subject: "nobody.home")) {
            _ = try await nc.request("nobody.home", "?", timeout: 5)
        }
        #expect(Date().timeIntervalSince(start) < 1)
    }

    @Test(arguments: BrokerKind.allCases)
    func requestToSilentResponderTimesOut(kind: BrokerKind) async throws {
        let broker = try RunningBroker(kind)
        let nc = try await connect(broker.port)
        let silent = try nc.subscribe("silent")
        try await nc.flush()
        let start = Date()
        await #expect(throws: NATSClientError.timeout(seconds: 0.3)) { _ = try await nc.request("silent", "?", timeout: 0.3) }
        let took = Date().timeIntervalSince(start)
        #expect(took >= 0.25 && took < 2, "took \(took)")
        #expect(silent.deliveredCount == 1)
    }

    @Test(arguments: BrokerKind.allCases)
    func unsubscribeAfterDeliversExactlyThatMany(kind: BrokerKind) async throws {
        let broker = try RunningBroker(kind)
        let nc = try await connect(broker.port)
        let sub = try nc.subscribe("count")
        try sub.unsubscribe(after: 3)
        try await nc.flush()
        let pub = try await connect(broker.port)
        for i in 0..<10 { try pub.publish("count", "\(i)") }
        try await pub.flush()
        var got: [String] = []
        for await m in sub { got.append(m.string) }  // the stream ends after the third
        #expect(got == ["0", "1", "2"])
    }

    @Test(arguments: BrokerKind.allCases)
    func drainDeliversEverythingInFlightThenCloses(kind: BrokerKind) async throws {
        let broker = try RunningBroker(kind)
        let consumer = try await connect(broker.port)
        let sub = try consumer.subscribe("work")
        try await consumer.flush()
        let producer = try await connect(broker.port)
        for i in 0..<1000 { try producer.publish("work", "\(i)") }
        try await producer.drain()  // every publish reaches the server before the close
        #expect(producer.status == .closed)
        try await consumer.flush()
        try await consumer.drain()
        var count = 0
        for await _ in sub { count += 1 }
        #expect(count == 1000)
        #expect(throws: NATSClientError.closed) { try consumer.publish("work", "late") }
    }

    @Test(arguments: BrokerKind.allCases)
    func oversizedPublishIsRefusedBeforeSending(kind: BrokerKind) async throws {
        let broker = try RunningBroker(kind) { $0.maxPayload = 1024 }
        let nc = try await connect(broker.port)
        #expect(nc.maxPayload == 1024)
        #expect(throws: NATSClientError.maxPayloadExceeded(size: 1025, max: 1024)) {
            try nc.publish("big", [UInt8](repeating: 1, count: 1025))
        }
        try nc.publish("big", [UInt8](repeating: 1, count: 1024))
        try await nc.flush()
    }

    @Test(arguments: BrokerKind.allCases)
    func credentialsFromTheURL(kind: BrokerKind) async throws {
        let tokenBroker = try RunningBroker(kind) { $0.auth = .token("s3cret") }
        let ok = try await NATSClient.connect(testOptions("nats://s3cret@127.0.0.1:\(tokenBroker.port)"))
        try await ok.flush()
        await #expect(throws: NATSClientError.authorizationViolation(server: "127.0.0.1:\(tokenBroker.port)")) {
            _ = try await NATSClient.connect(testOptions("nats://wrong@127.0.0.1:\(tokenBroker.port)"))
        }
        let userBroker = try RunningBroker(kind) { $0.auth = .userPassword(user: "drone", password: "p@ss") }
        let user = try await NATSClient.connect(testOptions("nats://drone:p%40ss@127.0.0.1:\(userBroker.port)"))
        try await user.flush()
    }

    @Test func unreachableServerFailsWithTheReason() async throws {
        let port = try freePort()
        do {
            _ = try await connect(port)
            Issue.record("connected to a closed port")
        } catch let error as NATSClientError {
            guard case .connectionFailed(let server, let reason) = error else { Issue.record("\(error)"); return }
            #expect(server == "127.0.0.1:\(port)")
            #expect(reason.contains("refused"))
        }
    }

    @Test func invalidSubjectsAreRefusedLocally() async throws {
        let broker = try RunningBroker(.embedded)
        let nc = try await connect(broker.port)
        #expect(throws: NATSClientError.invalidSubject("a..b")) { try nc.publish("a..b", "x") }
        #expect(throws: NATSClientError.invalidSubject("a.*")) { try nc.publish("a.*", "x") }
        #expect(throws: NATSClientError.invalidSubject("a.>.b")) { _ = try nc.subscribe("a.>.b") }
    }
}

/// How long a subscription lives: as long as its handle or an iterator over it.
@Suite struct SubscriptionLifetimeTests {
    @Test func iteratingATemporarySubscriptionKeepsItAlive() async throws {
        let broker = try RunningBroker(.embedded)
        let nc = try await connect(broker.port)
        let started = AsyncStream.makeStream(of: Void.self)
        let reader = Task { () -> [String] in
            var got: [String] = []
            let sub = try nc.subscribe("temp")
            try await nc.flush()
            started.continuation.yield()
            for await m in sub {
                got.append(m.string)
                if got.count == 3 { break }
            }
            return got
        }
        for await _ in started.stream { break }
        for i in 0..<3 { try nc.publish("temp", "\(i)") }
        #expect(try await reader.value == ["0", "1", "2"])
    }

    @Test func droppingTheHandleUnsubscribes() async throws {
        let broker = try RunningBroker(.embedded)
        let nc = try await connect(broker.port)
        do {
            let sub = try nc.subscribe("dropped")
            try await nc.flush()
            #expect(broker.embedded!.stats().subscriptions == 1)
            _ = sub
        }
        try await nc.flush()  // the UNSUB queued by the release is processed before this PONG
        #expect(broker.embedded!.stats().subscriptions == 0)
    }
}
