#if canImport(Glibc)
import Glibc
#endif
import Foundation
import NATSClient
import NATSTestSupport
import Testing

/// Lost connections: restarts, a cluster node killed with SIGKILL, garbage from a server.
@Suite struct ReconnectTests {
    @Test func resubscribesAndFlushesBufferedPublishesAfterARestart() async throws {
        let port = try freePort()
        var broker: RunningBroker? = try RunningBroker(.embedded, port: port)
        let nc = try await connect(port)
        let sub = try nc.subscribe("after.restart")
        try await nc.flush()
        broker!.stop()
        _ = try await awaitEvent(nc) { if case .disconnected = $0 { return true } else { return false } }
        // Published while disconnected: kept in the reconnect buffer, sent after the SUBs on the new connection.
        for i in 0..<5 { try nc.publish("after.restart", "buffered-\(i)") }
        #expect(nc.status == .reconnecting)
        await #expect(throws: NATSClientError.notConnected) { try await nc.flush() }
        broker = try RunningBroker(.embedded, port: port)
        _ = try await awaitEvent(nc) { if case .reconnected = $0 { return true } else { return false } }
        let got = try await collect(sub, 5)
        #expect(got.map(\.string) == (0..<5).map { "buffered-\($0)" })
        let other = try await connect(port)
        try other.publish("after.restart", "fresh")
        #expect(try await collect(sub, 1)[0].string == "fresh")
        _ = broker
    }

    @Test func reconnectBufferIsBounded() async throws {
        let broker = try RunningBroker(.embedded)
        let nc = try await connect(broker.port) { $0.reconnectBufferBytes = 4096; $0.maxReconnectAttempts = -1 }
        broker.stop()
        _ = try await awaitEvent(nc) { if case .disconnected = $0 { return true } else { return false } }
        var accepted = 0
        do {
            for _ in 0..<100 {
                try nc.publish("x", [UInt8](repeating: 7, count: 200))
                accepted += 1
            }
            Issue.record("100 publishes of 200 bytes fit a 4 KiB buffer")
        } catch let e as NATSClientError {
            #expect(e == .reconnectBufferFull(limit: 4096))
        }
        #expect(accepted > 10 && accepted < 20)
        nc.close()
    }

    @Test func givesUpAfterMaxReconnectAttemptsAndCloses() async throws {
        let broker = try RunningBroker(.embedded)
        let nc = try await connect(broker.port) { $0.maxReconnectAttempts = 2 }
        let sub = try nc.subscribe("x")
        broker.stop()
        _ = try await awaitEvent(nc) { $0 == .closed }
        #expect(nc.status == .closed)
        var count = 0
        for await _ in sub { count += 1 }  // the stream ended with the client
        #expect(count == 0)
    }

    /// The scale-out path: three routed nats-servers; a subscriber's node is killed with SIGKILL mid-stream.
    @Test func clusterFailoverAfterSigkillKeepsTheFlowGoing() async throws {
        let cluster = try NATSServerCluster(size: 3)
        // The subscriber is told only about node 0 and must learn the others from INFO connect_urls.
        let subscriber = try await NATSClient.connect(testOptions(cluster.url(0)))
        #expect(subscriber.knownServers.count == 3)
        let sub = try subscriber.subscribe("telemetry")
        try await subscriber.flush()
        let publisher = try await NATSClient.connect(testOptions(cluster.url(2)))
        // Interest propagates between routed servers asynchronously: publish until the first message arrives.
        var primed = false
        for _ in 0..<100 where !primed {
            try publisher.publish("telemetry", "-1")
            try await publisher.flush()
            primed = (try? await collect(sub, 1, timeout: 0.1)) != nil
        }
        #expect(primed)

        let reconnected = Task { try await awaitEvent(subscriber, timeout: 20) { if case .reconnected = $0 { return true } else { return false } } }
        let received = Task { () -> [Int] in
            var seen: [Int] = []
            for await m in sub {
                if let n = Int(m.string), n >= 0 { seen.append(n) }
                if seen.last == 1999 { break }
            }
            return seen
        }
        for i in 0..<2000 {
            if i == 500 { cluster.kill(0) }
            if i == 1000 { _ = try await reconnected.value }
            try publisher.publish("telemetry", "\(i)")
            if i % 100 == 99 {
                try await publisher.flush()
                try await Task.sleep(for: .milliseconds(20))  // pace the stream: it spans the failover
            }
        }
        let seen = try await withThrowingTaskGroup(of: [Int].self) { group in
            group.addTask { await received.value }
            group.addTask {
                try await Task.sleep(for: .seconds(10))
                received.cancel()
                return []
            }
            let r = try await group.next()!
            group.cancelAll()
            return r
        }
        // At-most-once across the cut: some messages may be lost, none duplicated, order kept, and the flow
        // resumes after the reconnect (everything from the 1,000th on arrives).
        let lost = 2000 - seen.count
        #expect(seen == seen.sorted())
        #expect(Set(seen).count == seen.count)
        #expect(seen.contains(1999))
        #expect(Array(1000..<2000).allSatisfy { Set(seen).contains($0) })
        #expect(lost < 600, "lost \(lost) of 2000 across the failover")
        print("cluster failover: lost \(lost) of 2000 messages across the SIGKILL")
    }

    @Test func malformedServerInputIsReportedAndReconnected() async throws {
        let fake = try FakeServer(script: [
            "INFO {\"server_id\":\"fake\",\"headers\":true,\"max_payload\":1024}\r\n",
            "PONG\r\n",
            "MSG this is not\r\nvalid at all\r\n",
        ], then: ["INFO {\"server_id\":\"fake\",\"headers\":true,\"max_payload\":1024}\r\n", "PONG\r\n"])
        let nc = try await connect(fake.port)
        let sawError = Task { try await awaitEvent(nc) { if case .error(let e) = $0 { return e.contains("unparseable") } else { return false } } }
        try nc.publish("poke", "x")  // the fake server answers our next bytes with garbage
        _ = try await sawError.value
        _ = try await awaitEvent(nc) { if case .reconnected = $0 { return true } else { return false } }
        #expect(nc.status == .connected)
        #expect(fake.connections >= 2)
        nc.close()
    }

    @Test func requestsInFlightDuringARestartFailCleanlyAndLaterOnesSucceed() async throws {
        let port = try freePort()
        var broker: RunningBroker? = try RunningBroker(.embedded, port: port)
        let service = try await connect(port) { $0.maxReconnectAttempts = -1 }
        let requests = try service.subscribe("slow.echo")
        let server = Task {
            for await req in requests {
                try await Task.sleep(for: .milliseconds(50))
                try? service.publish(req.reply!, req.payload)
            }
        }
        try await service.flush()
        let nc = try await connect(port) { $0.maxReconnectAttempts = -1 }
        let inFlight = (0..<20).map { i in
            Task { () -> Result<String, Error> in
                do { return .success(try await nc.request("slow.echo", "\(i)", timeout: 1).string) } catch { return .failure(error) }
            }
        }
        try await Task.sleep(for: .milliseconds(30))
        broker!.stop()
        broker = try RunningBroker(.embedded, port: port)
        var failures = 0
        for (i, t) in inFlight.enumerated() {
            switch await t.value {
            case .success(let s): #expect(s == "\(i)")
            case .failure(let e):
                failures += 1
                #expect(e as? NATSClientError == .timeout(seconds: 1), "\(e)")
            }
        }
        #expect(failures > 0, "the restart should have cut some requests")
        // Both sides reconnect and resubscribe; new requests go through.
        var answered = false
        for _ in 0..<50 where !answered {
            answered = (try? await nc.request("slow.echo", "again", timeout: 0.5).string) == "again"
        }
        #expect(answered)
        service.close()
        _ = await server.result
        _ = broker
    }

    /// A request's timeout holds while no server can be reached: the reader, busy reconnecting, still expires it
    /// (a `hive submit --wait` counted honeycombd's silence by its requests' timeouts, and hung with the bus down).
    @Test func aRequestTimesOutWhileNoServerCanBeReached() async throws {
        let broker = try RunningBroker(.embedded)
        let nc = try await connect(broker.port) { $0.maxReconnectAttempts = -1; $0.maxReconnectWaitMillis = 4_000 }
        broker.stop()
        _ = try await awaitEvent(nc) { if case .disconnected = $0 { return true } else { return false } }
        // The reader now alternates failed connects and backoffs (up to 4 s): it used to run no timers meanwhile.
        let began = ContinuousClock.now
        let outcome = try await withThrowingTaskGroup(of: String.self) { group in
            group.addTask {
                do {
                    _ = try await nc.request("nobody.home", "?", timeout: 0.3)
                    return "answered"
                } catch let e as NATSClientError {
                    return "\(e)"
                }
            }
            group.addTask {
                try await Task.sleep(for: .seconds(10))
                return "no outcome within 10 s"
            }
            let first = try await group.next()!
            group.cancelAll()
            return first
        }
        #expect(outcome == "\(NATSClientError.timeout(seconds: 0.3))")
        #expect(ContinuousClock.now - began < .seconds(3), "expired at its deadline, not at a reconnect")
        #expect(nc.status == .reconnecting)
        nc.close()
    }
}

/// A TCP server that plays a fixed script of server bytes to its first client, then `then` to later ones.
/// Used where no real server can misbehave on demand (garbage after the handshake).
final class FakeServer: @unchecked Sendable {
    let port: Int
    private let fd: Int32
    private let lock = NSLock()
    private var accepted = 0
    var connections: Int { lock.withLock { accepted } }

    init(script: [String], then later: [String]) throws {
        let sock = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        fd = sock
        var one: Int32 = 1
        setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &one, 4)
        port = LoopbackSocket.bindEphemeral(sock, listenBacklog: 8)
        let listener = fd
        Thread.detachNewThread { [self] in
            while true {
                let c = accept(listener, nil, nil)
                if c < 0 { return }
                let n = lock.withLock { () -> Int in accepted += 1; return accepted }
                let lines = n == 1 ? script : later
                Thread.detachNewThread {
                    // INFO first; the rest after the client's CONNECT+PING arrives.
                    var buf = [UInt8](repeating: 0, count: 4096)
                    for (i, line) in lines.enumerated() {
                        if i > 0 { _ = buf.withUnsafeMutableBytes { recv(c, $0.baseAddress, $0.count, 0) } }
                        _ = line.withCString { send(c, $0, strlen($0), Int32(MSG_NOSIGNAL)) }
                    }
                    // Keep answering PINGs until the client goes.
                    while true {
                        let r = buf.withUnsafeMutableBytes { recv(c, $0.baseAddress, $0.count, 0) }
                        if r <= 0 { break }
                        if String(decoding: buf[0..<r], as: UTF8.self).contains("PING") {
                            _ = "PONG\r\n".withCString { send(c, $0, 6, Int32(MSG_NOSIGNAL)) }
                        }
                    }
                    close(c)
                }
            }
        }
    }

    deinit { shutdown(fd, Int32(SHUT_RDWR)); close(fd) }
}
