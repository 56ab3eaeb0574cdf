#if canImport(Glibc)
import Glibc
#endif
import Foundation
import HiveTLS
import NATSServer
import NATSTestSupport
import Testing

/// An embedded broker on a TLS port, with a private CA made the way `honeycombd tls init` makes it.
final class TLSBroker {
    let dir: String
    let made: TLSAuthority.Made
    let identity: TLSServerIdentity
    let broker: RunningBroker
    /// A client that trusts the private CA and presents no certificate.
    let client: TLSContext

    init(verifyClients: Bool = false, requestClientCertificates: Bool = false,
         configure: (inout BrokerConfig) -> Void = { _ in }) throws {
        dir = NSTemporaryDirectory() + "hive-broker-tls-\(UUID().uuidString)"
        made = try TLSAuthority.initialize(directory: dir, hosts: ["hive.test"])
        let files = TLSFiles(certificate: made.certificate, key: made.key,
                             ca: verifyClients || requestClientCertificates ? made.ca : nil, verifyClients: verifyClients)
        let identity = try TLSServerIdentity(files)
        self.identity = identity
        broker = try RunningBroker(.embedded) {
            $0.tls = BrokerTLS(identity: identity)
            configure(&$0)
        }
        client = try TLSContext.client(TLSFiles(ca: made.ca))
    }

    deinit {
        broker.stop()
        try? FileManager.default.removeItem(atPath: dir)
    }

    var port: Int { broker.port }
    var stats: BrokerStats.Snapshot { broker.embedded!.stats() }

    /// A client context presenting a certificate named `name`, signed by this CA.
    func clientWithCertificate(_ name: String) throws -> TLSContext {
        let (cert, key) = try TLSAuthority.issueClient(directory: dir, name: name)
        return try TLSContext.client(TLSFiles(certificate: cert, key: key, ca: made.ca))
    }

    func connected(_ context: TLSContext? = nil, connect: String? = #"{"verbose":false,"pedantic":false}"#) throws -> RawClient {
        try RawClient.connectedTLS(port: port, context: context ?? client, connect: connect)
    }
}

@Suite(.serialized) struct TLSTests {
    @Test func infoRequiresTLSThenPingPongIsEncrypted() throws {
        let b = try TLSBroker()
        let c = try RawClient(port: b.port)
        let info = try c.next()
        #expect(info.line.contains(#""tls_required":true"#), "\(info)")
        #expect(!info.line.contains("tls_verify"), "\(info)")
        #expect(c.startTLS(context: b.client, host: "127.0.0.1") == nil)
        #expect(c.session?.negotiated.hasPrefix("TLSv1.3") == true)
        #expect(c.session?.peerIdentity?.dnsNames.contains("hive.test") == true)
        c.send("CONNECT {\"verbose\":true}\r\n")
        try c.expect("+OK")
        #expect(try c.framesUntilPong().isEmpty)
    }

    @Test func pubSubRequestAndHeadersRoundTripOverTLS() throws {
        let b = try TLSBroker()
        let sub = try b.connected(connect: #"{"verbose":false,"headers":true}"#)
        sub.send("SUB greet 1\r\nSUB svc 2\r\n")
        _ = try sub.framesUntilPong()
        let pub = try b.connected(connect: #"{"verbose":false,"headers":true}"#)
        pub.send("SUB _INBOX.1 9\r\nPUB greet 5\r\nhello\r\nHPUB greet 18 20\r\nNATS/1.0\r\nA: b\r\n\r\nhi\r\n")
        _ = try pub.framesUntilPong()
        let plain = try sub.expect("MSG greet 1 5")
        #expect(plain.payloadString == "hello")
        let headed = try sub.expect("HMSG greet 1 18 20")
        #expect(headed.payloadString == "NATS/1.0\r\nA: b\r\n\r\nhi")
        pub.send("PUB svc _INBOX.1 4\r\nping\r\n")
        let request = try sub.expect("MSG svc 2 _INBOX.1 4")
        #expect(request.payloadString == "ping")
        sub.send("PUB _INBOX.1 4\r\npong\r\n")
        #expect(try pub.expect("MSG _INBOX.1 9 4").payloadString == "pong")
    }

    @Test func aPlainTextClientIsToldTLSIsRequiredWhileTLSClientsCarryOn() throws {
        let b = try TLSBroker()
        let good = try b.connected()
        good.send("SUB news 1\r\n")
        _ = try good.framesUntilPong()
        let plain = try RawClient(port: b.port)
        #expect(try plain.next().line.contains(#""tls_required":true"#))
        plain.send("CONNECT {\"verbose\":false}\r\nPUB news 3\r\nbad\r\n")
        #expect(try plain.framesUntilClosed().map(\.line) == ["-ERR 'Secure Connection - TLS Required'"])
        let pub = try b.connected()
        pub.send("PUB news 4\r\ngood\r\n")
        _ = try pub.framesUntilPong()
        #expect(try good.framesUntilPong().map(\.payloadString) == ["good"])
        #expect(eventually { b.stats.tlsHandshakeFailures == 1 })
    }

    @Test func aStalledHandshakeIsCutAfterTheTLSTimeout() throws {
        let b = try TLSBroker { $0.tls?.handshakeTimeoutMillis = 300 }
        let stalled = try RawClient(port: b.port)
        let start = Date()
        #expect(try stalled.next().line.hasPrefix("INFO "))
        // Nothing more is sent: no ClientHello. The broker must close it on its own, and say nothing in plain text.
        #expect(try stalled.framesUntilClosed(timeout: 5).isEmpty)
        let elapsed = Date().timeIntervalSince(start)
        #expect(elapsed >= 0.25 && elapsed < 3, "\(elapsed)")
        #expect(eventually { b.stats.tlsHandshakeFailures == 1 && b.stats.connections == 0 })
        // A half-done handshake (a ClientHello's first bytes, then silence) is cut the same way.
        let half = try RawClient(port: b.port)
        _ = try half.next()
        half.send([0x16, 0x03, 0x01, 0x02, 0x00, 0x01])
        #expect(try half.framesUntilClosed(timeout: 5).isEmpty)
        #expect(eventually { b.stats.tlsHandshakeFailures == 2 })
    }

    @Test func garbageAfterATLSRecordHeaderFailsTheHandshakeAlone() throws {
        let b = try TLSBroker()
        let good = try b.connected()
        let bad = try RawClient(port: b.port)
        _ = try bad.next()
        bad.send([0x16, 0x03, 0x01, 0x00, 0x05] + Array("hello".utf8) + Array(repeating: 0x41, count: 64))
        #expect(bad.drainUntilClosed(timeout: 5))
        #expect(eventually { b.stats.tlsHandshakeFailures == 1 })
        #expect(try good.framesUntilPong().isEmpty)
    }

    @Test func aClientCertificateIsTheIdentityOfACertificatePrincipal() throws {
        let onlyDrones = Permissions(publish: SubjectRules(allow: ["drone.d1.>"]), subscribe: SubjectRules(allow: ["drone.d1.>"]))
        let b = try TLSBroker(requestClientCertificates: true) {
            $0.auth = .principals([Principal(name: "d1", credential: .certificate("d1"), permissions: onlyDrones)])
        }
        let d1 = try b.connected(b.clientWithCertificate("d1"), connect: #"{"verbose":false}"#)
        d1.send("SUB drone.d1.tasks 1\r\nPUB drone.d1.tasks 2\r\nok\r\nPUB hive.goals 2\r\nno\r\n")
        let frames = try d1.framesUntilPong()
        #expect(frames.map(\.line) == ["MSG drone.d1.tasks 1 2", "-ERR 'Permissions Violation for Publish to \"hive.goals\"'"])
        // Another name signed by the same CA is not d1; no certificate at all is nobody.
        for context in [try b.clientWithCertificate("d2"), b.client] {
            let other = try b.connected(context, connect: nil)
            other.send("CONNECT {\"verbose\":false}\r\nPING\r\n")
            #expect(try other.framesUntilClosed().map(\.line) == ["-ERR 'Authorization Violation'"])
        }
    }

    @Test func mutualTLSRefusesAClientWithoutACertificateInTheHandshake() throws {
        let b = try TLSBroker(verifyClients: true)
        let c = try RawClient(port: b.port)
        let info = try c.next()
        #expect(info.line.contains(#""tls_required":true"#) && info.line.contains(#""tls_verify":true"#), "\(info)")
        // TLS 1.3: the client finishes first and learns of the refusal from the alert that follows.
        if c.startTLS(context: b.client, host: "127.0.0.1") == nil {
            c.send("CONNECT {}\r\nPING\r\n")
            #expect(try c.framesUntilClosed().isEmpty)
        }
        #expect(eventually { b.stats.tlsHandshakeFailures == 1 })
        let withCert = try b.connected(b.clientWithCertificate("d1"))
        #expect(try withCert.framesUntilPong().isEmpty)
    }

    @Test func megabytePayloadsAndBurstsArriveIntactBothWays() throws {
        let b = try TLSBroker { $0.maxPayload = 2 << 20 }
        let sub = try b.connected()
        sub.send("SUB big 1\r\nSUB small 2\r\n")
        _ = try sub.framesUntilPong()
        let pub = try b.connected()
        let big = (0..<4).map { k in (0..<(1 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ k) } }
        var wire: [UInt8] = []
        for payload in big { wire += Array("PUB big \(payload.count)\r\n".utf8) + payload + [13, 10] }
        for i in 0..<10_000 { wire += Array("PUB small \(String(i).utf8.count)\r\n\(i)\r\n".utf8) }
        pub.send(wire)
        #expect(try pub.framesUntilPong(timeout: 30).isEmpty)
        for payload in big {
            let f = try sub.expect("MSG big 1 \(1 << 20)", timeout: 30)
            #expect(f.payload == payload)
        }
        for i in 0..<10_000 {
            let f = try sub.next(timeout: 30)
            guard f.line == "MSG small 2 \(String(i).utf8.count)", f.payloadString == String(i) else {
                Issue.record("message \(i): \(f)")
                return
            }
        }
        #expect(try sub.framesUntilPong().isEmpty)
    }

    @Test func aSubscriberThatReadsSlowlyStillGetsEverything() throws {
        // A small receive buffer keeps the broker's encrypted writes hitting a full socket: each refused write is
        // retried with the same bytes once the subscriber reads.
        let b = try TLSBroker()
        let sub = try RawClient(port: b.port, receiveBuffer: 4096)
        _ = try sub.next()
        #expect(sub.startTLS(context: b.client, host: "127.0.0.1") == nil)
        sub.send("CONNECT {}\r\nSUB flood 1\r\n")
        _ = try sub.framesUntilPong()
        let pub = try b.connected()
        let payload = [UInt8](repeating: 0x7a, count: 60_000)
        for _ in 0..<100 { pub.send(Array("PUB flood \(payload.count)\r\n".utf8) + payload + [13, 10]) }
        _ = try pub.framesUntilPong()
        for _ in 0..<100 { #expect(try sub.expect("MSG flood 1 60000", timeout: 30).payload == payload) }
    }

    @Test func aReloadedCertificateServesNewConnectionsOnly() throws {
        let b = try TLSBroker()
        let before = try b.connected()
        let newHost = "renewed.test"
        let renewed = try TLSContext.client(TLSFiles(ca: b.made.ca))
        let early = try RawClient(port: b.port)
        _ = try early.next()
        #expect(early.startTLS(context: renewed, host: newHost) != nil, "the old certificate does not name \(newHost)")
        _ = try TLSAuthority.initialize(directory: b.dir, hosts: [newHost])
        try b.identity.reload()
        let after = try RawClient.connectedTLS(port: b.port, context: renewed, host: newHost)
        #expect(after.session?.peerIdentity?.dnsNames.contains(newHost) == true)
        #expect(try before.framesUntilPong().isEmpty)
        #expect(before.session?.peerIdentity?.dnsNames.contains(newHost) == false)
    }

    @Test func inProcessConnectionsStayPlainOnATLSPort() throws {
        let b = try TLSBroker()
        let fd = try b.broker.embedded!.connectInProcess()
        defer { close(fd) }
        var buf = [UInt8](repeating: 0, count: 4096)
        var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        #expect(poll(&p, 1, 5_000) == 1)
        let n = buf.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        let info = String(decoding: buf[0..<max(n, 0)], as: UTF8.self)
        #expect(info.hasPrefix("INFO ") && !info.contains("tls_required"), "\(info)")
        let ping = Array("CONNECT {\"verbose\":false}\r\nPING\r\n".utf8)
        _ = ping.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        #expect(poll(&p, 1, 5_000) == 1)
        let m = buf.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        #expect(String(decoding: buf[0..<max(m, 0)], as: UTF8.self) == "PONG\r\n")
    }
}
