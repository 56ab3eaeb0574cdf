import Foundation
import Testing
@testable import NATSServer
import NATSTestSupport

/// Client-protocol behaviour over real sockets, run against the embedded broker and nats-server alike.
@Suite struct WireProtocolTests {
    @Test(arguments: BrokerKind.allCases)
    func infoAdvertisesHeadersProtoAndMaxPayload(kind: BrokerKind) throws {
        let broker = try RunningBroker(kind)
        let c = try RawClient(port: broker.port)
        let info = try c.next()
        #expect(info.line.hasPrefix("INFO {"))
        #expect(info.line.contains("\"headers\":true"))
        #expect(info.line.contains("\"proto\":1"))
        #expect(info.line.contains("\"max_payload\":1048576"))
        #expect(info.line.contains("\"client_id\":"))
        #expect(!info.line.contains("auth_required"))
    }

    @Test(arguments: BrokerKind.allCases)
    func pongIsTheFirstReplyToConnectAndPing(kind: BrokerKind) throws {
        let broker = try RunningBroker(kind)
        let c = try RawClient(port: broker.port)
        _ = try c.next()
        c.send("CONNECT {\"verbose\":false,\"pedantic\":false,\"headers\":true,\"no_responders\":true,\"protocol\":1}\r\nPING\r\n")
        #expect(try c.next().line == "PONG")
    }

    @Test(arguments: BrokerKind.allCases)
    func publishedMessageReachesSubscriberWithSubjectSidAndPayload(kind: BrokerKind) throws {
        let broker = try RunningBroker(kind)
        let sub = try RawClient.connected(port: broker.port)
        sub.send("SUB foo 7\r\n")
        _ = try sub.framesUntilPong()
        let pub = try RawClient.connected(port: broker.port)
        pub.send("PUB foo 11\r\nhello\r\nworl\r\nPUB foo reply.to 0\r\n\r\n")
        _ = try pub.framesUntilPong()
        let first = try sub.next()
        #expect(first.line == "MSG foo 7 11")
        #expect(first.payloadString == "hello\r\nworl")
        #expect(try sub.next() == Frame(line: "MSG foo 7 reply.to 0", payload: []))
    }

    @Test(arguments: BrokerKind.allCases)
    func pongComesAfterEveryMessageTheConnectionCausedItself(kind: BrokerKind) throws {
        let broker = try RunningBroker(kind)
        let c = try RawClient.connected(port: broker.port)
        c.send("SUB foo 1\r\nPUB foo 1\r\na\r\nPUB foo 1\r\nb\r\nPUB foo 1\r\nc\r\n")
        let frames = try c.framesUntilPong()
        #expect(frames.map(\.payloadString) == ["a", "b", "c"])
    }

    @Test(arguments: BrokerKind.allCases)
    func wildcardsMatchWholeTokensOnly(kind: BrokerKind) throws {
        let broker = try RunningBroker(kind)
        let sub = try RawClient.connected(port: broker.port)
        sub.send("SUB foo.* 1\r\nSUB foo.> 2\r\nSUB > 3\r\nSUB * 4\r\nSUB foo* 5\r\n")
        _ = try sub.framesUntilPong()
        let pub = try RawClient.connected(port: broker.port)
        for subject in ["foo", "foo.bar", "foo.bar.baz", "Foo.bar", "foo*"] { pub.send("PUB \(subject) 0\r\n\r\n") }
        _ = try pub.framesUntilPong()
        let got = try sub.framesUntilPong().map(\.line)
        var bySubject: [String: Set<String>] = [:]
        for line in got {
            let f = line.split(separator: " ")
            bySubject[String(f[1]), default: []].insert(String(f[2]))
        }
        #expect(bySubject["foo"] == ["3", "4"])
        #expect(bySubject["foo.bar"] == ["1", "2", "3"])
        #expect(bySubject["foo.bar.baz"] == ["2", "3"])
        #expect(bySubject["Foo.bar"] == ["3"])
        #expect(bySubject["foo*"] == ["3", "4", "5"])
    }

    @Test(arguments: BrokerKind.allCases)
    func eachQueueGroupGetsOneCopyAndPlainSubscribersGetAll(kind: BrokerKind) throws {
        let broker = try RunningBroker(kind)
        let members = try (0..<2).map { i in
            let c = try RawClient.connected(port: broker.port)
            c.send(i == 0 ? "SUB work.* q 1\r\n" : "SUB work.job q 1\r\n")  // one group across patterns
            _ = try c.framesUntilPong()
            return c
        }
        let plain = try RawClient.connected(port: broker.port)
        plain.send("SUB work.job 1\r\n")
        _ = try plain.framesUntilPong()
        let pub = try RawClient.connected(port: broker.port)
        let total = 1000
        pub.send(String(repeating: "PUB work.job 1\r\nx\r\n", count: total))
        _ = try pub.framesUntilPong()
        let counts = try members.map { try $0.framesUntilPong().count }
        #expect(counts.reduce(0, +) == total)
        for n in counts { #expect(n > 350, "random member choice should spread \(counts)") }
        #expect(try plain.framesUntilPong().count == total)
    }

    @Test(arguments: BrokerKind.allCases)
    func headersReachHeaderSubscribersAndAreStrippedForOthers(kind: BrokerKind) throws {
        let broker = try RunningBroker(kind)
        let withHeaders = try RawClient.connected(port: broker.port, connect: #"{"verbose":false,"headers":true}"#)
        withHeaders.send("SUB h 1\r\n")
        _ = try withHeaders.framesUntilPong()
        let without = try RawClient.connected(port: broker.port)
        without.send("SUB h 2\r\n")
        _ = try without.framesUntilPong()
        let pub = try RawClient.connected(port: broker.port, connect: #"{"verbose":false,"headers":true}"#)
        pub.send("HPUB h 22 33\r\nNATS/1.0\r\nBar: Baz\r\n\r\nHello NATS!\r\n")
        _ = try pub.framesUntilPong()
        let h = try withHeaders.next()
        #expect(h.line == "HMSG h 1 22 33")
        #expect(h.payloadString == "NATS/1.0\r\nBar: Baz\r\n\r\nHello NATS!")
        #expect(try without.next() == Frame(line: "MSG h 2 11", payload: Array("Hello NATS!".utf8)))
    }

    @Test(arguments: BrokerKind.allCases)
    func requestReplyThroughAWildcardInbox(kind: BrokerKind) throws {
        let broker = try RunningBroker(kind)
        let service = try RawClient.connected(port: broker.port)
        service.send("SUB svc.echo 1\r\n")
        _ = try service.framesUntilPong()
        let requester = try RawClient.connected(port: broker.port)
        requester.send("SUB _INBOX.abc.* 9\r\n")
        for i in 0..<5 { requester.send("PUB svc.echo _INBOX.abc.\(i) 4\r\nq-\(i)x\r\n") }
        for i in 0..<5 {
            let req = try service.next()
            #expect(req.line == "MSG svc.echo 1 _INBOX.abc.\(i) 4")
            service.send("PUB _INBOX.abc.\(i) 4\r\nr-\(i)x\r\n")
            let reply = try requester.next()
            #expect(reply.line == "MSG _INBOX.abc.\(i) 9 4")
            #expect(reply.payloadString == "r-\(i)x")
        }
    }

    @Test(arguments: BrokerKind.allCases)
    func requestWithNoSubscribersGets503WhenAskedFor(kind: BrokerKind) throws {
        let broker = try RunningBroker(kind)
        let c = try RawClient.connected(port: broker.port,
                                        connect: #"{"verbose":false,"headers":true,"no_responders":true}"#)
        c.send("SUB _INBOX.x.* 3\r\nPUB nobody.home _INBOX.x.1 2\r\nhi\r\n")
        let frames = try c.framesUntilPong()
        #expect(frames == [Frame(line: "HMSG _INBOX.x.1 3 16 16", payload: Array("NATS/1.0 503\r\n\r\n".utf8))])
        // Without no_responders the request simply goes nowhere.
        let plain = try RawClient.connected(port: broker.port, connect: #"{"verbose":false,"headers":true}"#)
        plain.send("SUB _INBOX.y.* 3\r\nPUB nobody.home _INBOX.y.1 2\r\nhi\r\n")
        #expect(try plain.framesUntilPong().isEmpty)
    }

    @Test(arguments: BrokerKind.allCases)
    func unsubWithMaxDeliversExactlyMax(kind: BrokerKind) throws {
        let broker = try RunningBroker(kind)
        let sub = try RawClient.connected(port: broker.port)
        sub.send("SUB foo 1\r\nUNSUB 1 2\r\n")
        _ = try sub.framesUntilPong()
        let pub = try RawClient.connected(port: broker.port)
        pub.send(String(repeating: "PUB foo 1\r\nx\r\n", count: 10))
        _ = try pub.framesUntilPong()
        #expect(try sub.framesUntilPong().count == 2)
        // The sid is free again: a new subscription with it works.
        sub.send("SUB foo 1\r\n")
        _ = try sub.framesUntilPong()
        pub.send("PUB foo 1\r\ny\r\n")
        _ = try pub.framesUntilPong()
        #expect(try sub.framesUntilPong().map(\.payloadString) == ["y"])
    }

    @Test(arguments: BrokerKind.allCases)
    func unsubWithMaxAtOrBelowDeliveredRemovesAtOnce(kind: BrokerKind) throws {
        let broker = try RunningBroker(kind)
        let c = try RawClient.connected(port: broker.port)
        c.send("SUB foo 1\r\nPUB foo 1\r\na\r\nPUB foo 1\r\nb\r\n")
        #expect(try c.framesUntilPong().count == 2)
        c.send("UNSUB 1 2\r\nPUB foo 1\r\nc\r\n")
        #expect(try c.framesUntilPong().isEmpty)
    }

    @Test(arguments: BrokerKind.allCases)
    func verboseAcknowledgesEverythingButPing(kind: BrokerKind) throws {
        let broker = try RunningBroker(kind)
        let c = try RawClient(port: broker.port)
        _ = try c.next()
        c.send("CONNECT {\"verbose\":true}\r\n")
        try c.expect("+OK")
        c.send("SUB foo 1\r\n")
        try c.expect("+OK")
        c.send("PUB bar 0\r\n\r\n")
        try c.expect("+OK")
        c.send("UNSUB 1\r\n")
        try c.expect("+OK")
        c.send("PING\r\n")
        try c.expect("PONG")
    }

    @Test(arguments: BrokerKind.allCases)
    func opsBeforeConnectUseVerboseDefaults(kind: BrokerKind) throws {
        let broker = try RunningBroker(kind)
        let c = try RawClient(port: broker.port)
        _ = try c.next()
        c.send("SUB foo 1\r\nPUB foo 2\r\nok\r\n")
        try c.expect("+OK")
        try c.expect("+OK")
        #expect(try c.next().line == "MSG foo 1 2")
    }

    @Test(arguments: BrokerKind.allCases)
    func echoFalseSuppressesOwnMessagesOnly(kind: BrokerKind) throws {
        let broker = try RunningBroker(kind)
        let quiet = try RawClient.connected(port: broker.port, connect: #"{"verbose":false,"echo":false,"protocol":1}"#)
        quiet.send("SUB foo 1\r\n")
        _ = try quiet.framesUntilPong()
        let other = try RawClient.connected(port: broker.port)
        other.send("SUB foo 1\r\n")
        _ = try other.framesUntilPong()
        quiet.send("PUB foo 1\r\nx\r\n")
        #expect(try quiet.framesUntilPong().isEmpty)
        #expect(try other.framesUntilPong().count == 1)
    }

    @Test(arguments: BrokerKind.allCases)
    func duplicateSidIsIgnored(kind: BrokerKind) throws {
        let broker = try RunningBroker(kind)
        let c = try RawClient.connected(port: broker.port)
        c.send("SUB foo 1\r\nSUB bar 1\r\nPUB foo 1\r\nx\r\nPUB bar 1\r\ny\r\n")
        #expect(try c.framesUntilPong().map(\.line) == ["MSG foo 1 1"])
    }

    @Test(arguments: BrokerKind.allCases)
    func invalidSubscriptionSubjectIsRefusedButConnectionStays(kind: BrokerKind) throws {
        let broker = try RunningBroker(kind)
        let c = try RawClient.connected(port: broker.port)
        for bad in ["foo..bar", "foo.", ".foo", "foo.>.bar"] {
            c.send("SUB \(bad) 1\r\n")
            try c.expect("-ERR 'Invalid Subject'")
        }
        #expect(try c.framesUntilPong().isEmpty)
    }

    @Test(arguments: BrokerKind.allCases)
    func oversizedPayloadIsRefusedOnTheControlLineAndCloses(kind: BrokerKind) throws {
        let broker = try RunningBroker(kind) { $0.maxPayload = 1024 }
        let c = try RawClient.connected(port: broker.port)
        c.send("PUB foo 1024\r\n" + String(repeating: "x", count: 1024) + "\r\n")
        #expect(try c.framesUntilPong().isEmpty)
        c.send("PUB foo 1025\r\n")
        #expect(try c.framesUntilClosed().map(\.line) == ["-ERR 'Maximum Payload Violation'"])
    }

    @Test(arguments: BrokerKind.allCases)
    func controlLineOver4096Closes(kind: BrokerKind) throws {
        let broker = try RunningBroker(kind)
        let ok = try RawClient.connected(port: broker.port)
        ok.send("SUB " + String(repeating: "a", count: 4094) + " 1\r\n")
        #expect(try ok.framesUntilPong().isEmpty)
        let c = try RawClient.connected(port: broker.port)
        c.send("SUB " + String(repeating: "a", count: 4095) + " 1\r\n")
        #expect(try c.framesUntilClosed().map(\.line) == ["-ERR 'maximum control line exceeded'"])
    }

    @Test(arguments: BrokerKind.allCases)
    func unknownOperationClosesWithError(kind: BrokerKind) throws {
        let broker = try RunningBroker(kind)
        for garbage in ["FOO bar\r\n", "PUBS foo 1\r\n", "MSG foo 1 0\r\n\r\n", "UNSUB\r\n", "PUB foo 2\r\nabc\r\n"] {
            let c = try RawClient.connected(port: broker.port)
            c.send(garbage)
            #expect(try c.framesUntilClosed().map(\.line) == ["-ERR 'Unknown Protocol Operation'"], "\(garbage)")
        }
    }

    @Test(arguments: BrokerKind.allCases)
    func invalidProtocolVersionAndNoRespondersWithoutHeadersClose(kind: BrokerKind) throws {
        let broker = try RunningBroker(kind)
        let a = try RawClient.connected(port: broker.port, connect: nil)
        a.send("CONNECT {\"protocol\":2}\r\n")
        #expect(try a.framesUntilClosed().map(\.line) == ["-ERR 'invalid client protocol'"])
        let b = try RawClient.connected(port: broker.port, connect: nil)
        b.send("CONNECT {\"no_responders\":true}\r\n")
        #expect(try b.framesUntilClosed().map(\.line) == ["-ERR 'no responders requires headers support'"])
    }

    @Test(arguments: BrokerKind.allCases)
    func tokenAuth(kind: BrokerKind) throws {
        let broker = try RunningBroker(kind) { $0.auth = .token("s3cret") }
        let info = try RawClient(port: broker.port).next()
        #expect(info.line.contains("\"auth_required\":true"))
        _ = try RawClient.connected(port: broker.port, connect: #"{"verbose":false,"auth_token":"s3cret"}"#)
        let bad = try RawClient.connected(port: broker.port, connect: nil)
        bad.send("CONNECT {\"verbose\":false,\"auth_token\":\"nope\"}\r\nPING\r\n")
        #expect(try bad.framesUntilClosed().map(\.line) == ["-ERR 'Authorization Violation'"])
        let early = try RawClient.connected(port: broker.port, connect: nil)
        early.send("SUB foo 1\r\n")
        #expect(try early.framesUntilClosed().map(\.line) == ["-ERR 'Authorization Violation'"])
    }

    @Test(arguments: BrokerKind.allCases)
    func userPasswordAuth(kind: BrokerKind) throws {
        let broker = try RunningBroker(kind) { $0.auth = .userPassword(user: "drone", password: "pw") }
        _ = try RawClient.connected(port: broker.port, connect: #"{"verbose":false,"user":"drone","pass":"pw"}"#)
        for creds in [#""user":"drone","pass":"bad""#, #""user":"x","pass":"pw""#, #""user":"drone""#] {
            let c = try RawClient.connected(port: broker.port, connect: nil)
            c.send("CONNECT {\"verbose\":false,\(creds)}\r\nPING\r\n")
            #expect(try c.framesUntilClosed().map(\.line) == ["-ERR 'Authorization Violation'"])
        }
    }

    @Test(arguments: BrokerKind.allCases)
    func disconnectRemovesSubscriptions(kind: BrokerKind) throws {
        let broker = try RunningBroker(kind)
        do {
            let c = try RawClient.connected(port: broker.port)
            c.send("SUB foo 1\r\nSUB foo q 2\r\n")
            _ = try c.framesUntilPong()
        }
        let req = try RawClient.connected(port: broker.port, connect: #"{"verbose":false,"headers":true,"no_responders":true}"#)
        req.send("SUB _INBOX.z.* 1\r\n")
        _ = try req.framesUntilPong()
        // Once the subscriber's close is processed, a request to foo meets nobody: the broker answers 503.
        var sawNoResponders = false
        for attempt in 0..<200 where !sawNoResponders {
            req.send("PUB foo _INBOX.z.\(attempt) 0\r\n\r\n")
            sawNoResponders = try req.framesUntilPong().contains { $0.line.hasPrefix("HMSG _INBOX.z.\(attempt) 1 16 16") }
            if !sawNoResponders { usleep(10_000) }
        }
        #expect(sawNoResponders)
        if let embedded = broker.embedded { #expect(embedded.stats().subscriptions == 1) }
    }
}
