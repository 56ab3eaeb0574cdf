#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing
@testable import NATSServer
import NATSTestSupport

/// Timeouts, slow consumers, scale and hostile input: embedded broker only (short timers, internal counters).
@Suite struct LimitsAndFaultsTests {
    @Test func publishToWildcardSubjectIsRefusedAndNotDelivered() throws {
        // Deliberate deviation from nats-server, which routes it as a literal subject.
        let broker = try RunningBroker(.embedded)
        let sub = try RawClient.connected(port: broker.port)
        sub.send("SUB foo.* 1\r\nSUB foo.> 2\r\n")
        _ = try sub.framesUntilPong()
        let pub = try RawClient.connected(port: broker.port)
        for subject in ["foo.*", "foo.>", "foo..bar", "foo."] {
            pub.send("PUB \(subject) 1\r\nx\r\n")
            #expect(try pub.framesUntilPong().map(\.line) == ["-ERR 'Invalid Publish Subject'"], "\(subject)")
        }
        #expect(try sub.framesUntilPong().isEmpty)
    }

    @Test func argumentErrorsCloseWithAnErrorLine() throws {
        // nats-server closes these silently; Hive says why first (deliberate deviation).
        let broker = try RunningBroker(.embedded)
        for bad in ["PUB foo\r\n", "PUB foo x\r\n", "SUB foo\r\n", "HPUB foo 2 2\r\nab\r\n", "CONNECT {nope\r\n"] {
            let c = try RawClient.connected(port: broker.port)
            c.send(bad)
            #expect(try c.framesUntilClosed().map(\.line) == ["-ERR 'Unknown Protocol Operation'"], "\(bad)")
        }
    }

    @Test func authenticationTimeoutClosesSilentClients() throws {
        let broker = try RunningBroker(.embedded) {
            $0.auth = .token("t")
            $0.authTimeoutMillis = 300
        }
        let c = try RawClient.connected(port: broker.port, connect: nil)
        let start = Date()
        #expect(try c.framesUntilClosed(timeout: 3).map(\.line) == ["-ERR 'Authentication Timeout'"])
        #expect(Date().timeIntervalSince(start) >= 0.25)
    }

    @Test func unansweredPingsEndInStaleConnection() throws {
        let broker = try RunningBroker(.embedded) {
            $0.pingIntervalMillis = 150
            $0.pingMax = 2
        }
        let c = try RawClient.connected(port: broker.port)
        #expect(try c.framesUntilClosed(timeout: 5).map(\.line) == ["PING", "PING", "-ERR 'Stale Connection'"])
    }

    @Test func answeredPingsKeepTheConnection() throws {
        let broker = try RunningBroker(.embedded) { $0.pingIntervalMillis = 100 }
        let c = try RawClient.connected(port: broker.port)
        for _ in 0..<4 {
            try c.expect("PING", timeout: 2)
            c.send("PONG\r\n")
        }
        #expect(try c.framesUntilPong().allSatisfy { $0.line == "PING" })
    }

    /// A subscriber that never reads, a publisher that never stops: the subscriber is cut off once its
    /// queue passes max_pending; the publisher and a healthy subscriber carry on unaffected.
    @Test func slowConsumerOverMaxPendingIsDisconnectedAlone() throws {
        let broker = try RunningBroker(.embedded) {
            $0.maxPending = 512 * 1024
            $0.maxPayload = 64 * 1024
        }
        let stuck = try RawClient.connected(port: broker.port, receiveBuffer: 4096)
        stuck.send("SUB firehose 1\r\n")
        _ = try stuck.framesUntilPong()
        let healthy = try RawClient.connected(port: broker.port)
        healthy.send("SUB firehose 1\r\n")
        _ = try healthy.framesUntilPong()
        let pub = try RawClient.connected(port: broker.port)
        let payload = String(repeating: "z", count: 16 * 1024)
        let total = 1000  // 16 MB: past what the kernel buffers plus the 512 KiB allowance can hold
        var received = 0
        for _ in 0..<total {
            pub.send("PUB firehose \(payload.utf8.count)\r\n\(payload)\r\n")
            received += try healthy.framesUntilPong().count  // keep the healthy one drained as we go
        }
        #expect(try pub.framesUntilPong().isEmpty)
        received += try healthy.framesUntilPong().count
        #expect(received == total)
        #expect(stuck.drainUntilClosed())
        #expect(broker.embedded!.stats().slowConsumers == 1)
    }

    /// A subscriber whose socket stays full past the write deadline is a slow consumer even under max_pending.
    @Test func slowConsumerPastWriteDeadlineIsDisconnected() throws {
        let broker = try RunningBroker(.embedded) {
            $0.writeDeadlineMillis = 200
            $0.maxPending = 64 << 20
        }
        let stuck = try RawClient.connected(port: broker.port, receiveBuffer: 4096)
        stuck.send("SUB firehose 1\r\n")
        _ = try stuck.framesUntilPong()
        let pub = try RawClient.connected(port: broker.port)
        let payload = String(repeating: "z", count: 32 * 1024)
        for _ in 0..<100 { pub.send("PUB firehose \(payload.utf8.count)\r\n\(payload)\r\n") }
        #expect(try pub.framesUntilPong().isEmpty)
        #expect(eventually(timeout: 5) { broker.embedded!.stats().slowConsumers == 1 })
        #expect(stuck.drainUntilClosed())
        #expect(try pub.framesUntilPong().isEmpty)
    }

    @Test func connectionLimitRefusesTheExtraClient() throws {
        let broker = try RunningBroker(.embedded) { $0.maxConnections = 2 }
        let a = try RawClient.connected(port: broker.port)
        let b = try RawClient.connected(port: broker.port)
        let c = try RawClient(port: broker.port)
        #expect(try c.framesUntilClosed().map(\.line) == ["-ERR 'maximum connections exceeded'"])
        _ = try a.framesUntilPong()
        _ = try b.framesUntilPong()
    }

    @Test func subscriptionLimitRefusesButKeepsTheConnection() throws {
        let broker = try RunningBroker(.embedded) { $0.maxSubscriptions = 2 }
        let c = try RawClient.connected(port: broker.port)
        c.send("SUB a 1\r\nSUB b 2\r\nSUB c 3\r\n")
        #expect(try c.framesUntilPong().map(\.line) == ["-ERR 'maximum subscriptions exceeded'"])
    }

    @Test func oneThousandConcurrentClients() throws {
        let broker = try RunningBroker(.embedded)
        let count = 1000
        var clients: [RawClient] = []
        for _ in 0..<count { clients.append(try RawClient(port: broker.port)) }
        for (i, c) in clients.enumerated() {
            _ = try c.next()
            c.send("CONNECT {\"verbose\":false}\r\nSUB client.\(i) 1\r\nPING\r\n")
        }
        for c in clients { try c.expect("PONG") }
        #expect(broker.embedded!.stats().connections == count)
        let pub = try RawClient.connected(port: broker.port)
        var batch = ""
        for i in 0..<count { batch += "PUB client.\(i) \(String(i).utf8.count)\r\n\(i)\r\n" }
        pub.send(batch)
        _ = try pub.framesUntilPong()
        for (i, c) in clients.enumerated() {
            let f = try c.next()
            #expect(f.line == "MSG client.\(i) 1 \(String(i).utf8.count)" && f.payloadString == String(i))
        }
    }

    /// Random bytes and truncated ops on many connections at once: each bad connection gets an error or a
    /// close, a well-behaved client keeps its request/reply loop going throughout, and nothing piles up.
    @Test func garbageOnManyConnectionsLeavesGoodClientsServed() throws {
        let broker = try RunningBroker(.embedded)
        let service = try RawClient.connected(port: broker.port)
        service.send("SUB svc 1\r\n")
        _ = try service.framesUntilPong()
        let requester = try RawClient.connected(port: broker.port)
        requester.send("SUB _INBOX.good.* 1\r\n")
        _ = try requester.framesUntilPong()

        var rng = SystemRandomNumberGenerator()
        let truncated = ["PUB foo 100\r\nabc", "SUB", "CONNECT {\"verbose\":", "HPUB foo 10 20\r\nNATS", "PUB foo 5\r\nhel"]
        var bad: [RawClient] = []
        for round in 0..<10 {
            for i in 0..<20 {
                let c = try RawClient(port: broker.port)
                if i % 2 == 0 {
                    var bytes = [UInt8](repeating: 0, count: Int(rng.next() % 4096) + 1)
                    for j in bytes.indices { bytes[j] = UInt8(truncatingIfNeeded: rng.next()) }
                    // Random bytes can spell the start of a real op ("S", "pi", "+O") and then wait, like a
                    // truncated op, instead of failing: start with a byte that begins no op.
                    if bytes[0] < 0x80 && (Character(UnicodeScalar(bytes[0])).isLetter || bytes[0] == UInt8(ascii: "+")
                                           || bytes[0] == UInt8(ascii: "-")) { bytes[0] = 0 }
                    c.send(bytes)
                } else {
                    c.send(truncated[i % truncated.count])
                }
                bad.append(c)
            }
            // The good client's round trip still works while the garbage is being processed.
            requester.send("PUB svc _INBOX.good.\(round) 2\r\nhi\r\n")
            let req = try service.next()
            #expect(req.line == "MSG svc 1 _INBOX.good.\(round) 2")
            service.send("PUB _INBOX.good.\(round) 2\r\nok\r\n")
            #expect(try requester.next().line == "MSG _INBOX.good.\(round) 1 2")
        }
        // Random garbage is refused with an error and a close; truncated ops are held until their senders go.
        for (i, c) in bad.enumerated() where i % 2 == 0 {
            let frames = try c.framesUntilClosed()
            #expect(frames.last?.line.hasPrefix("-ERR ") == true)
        }
        bad.removeAll()  // closes the truncated senders' sockets
        #expect(eventually { broker.embedded!.stats().connections == 2 })
        #expect(broker.embedded!.stats().subscriptions == 2)
    }
}
