#if canImport(Glibc)
import Glibc
#endif
import Foundation
import HiveTLS
import NATSTestSupport
import Testing
@testable import NATSClient

/// The client over TLS against a real nats-server (`--tls`, `--tlsverify`): the upgrade after INFO, certificate
/// checks that say which one failed, client certificates, big messages and bursts through the non-blocking TLS
/// socket, and reconnects that do the handshake again.
@Suite struct TLSClientTests {
    func tlsOptions(_ url: String, ca: String?, cert: (certificate: String, key: String)? = nil,
                    configure: (inout NATSClientOptions) -> Void = { _ in }) throws -> NATSClientOptions {
        try testOptions(url) { o in
            o.tls = TLSFiles(certificate: cert?.certificate, key: cert?.key, ca: ca)
            configure(&o)
        }
    }

    /// The connect error, or a recorded issue when it connected.
    func connectError(_ options: NATSClientOptions) async -> NATSClientError? {
        do {
            let nc = try await NATSClient.connect(options)
            nc.close()
            Issue.record("connected to \(options.servers)")
            return nil
        } catch let e as NATSClientError {
            return e
        } catch {
            Issue.record("unexpected error \(error)")
            return nil
        }
    }

    @Test func publishSubscribeAndRequestOverTLS() async throws {
        let ca = try TestAuthority()
        let server = try TLSNATSServer(certificate: ca.made.certificate, key: ca.made.key)
        let nc = try await NATSClient.connect(tlsOptions("tls://127.0.0.1:\(server.port)", ca: ca.ca))
        #expect(nc.negotiatedTLS?.hasPrefix("TLSv1.") == true, "\(String(describing: nc.negotiatedTLS))")
        let sub = try nc.subscribe("greet.*")
        let service = try nc.subscribe("echo")
        let echo = Task {
            for await m in service { try? nc.publish(m.reply!, "echo: " + m.string) }
        }
        try await nc.flush()
        try nc.publish("greet.joe", "hello", headers: ["X-Trace": "1"])
        let got = try await collect(sub, 1)
        #expect(got[0].subject == "greet.joe" && got[0].string == "hello" && got[0].headers?["X-Trace"] == "1")
        #expect(try await nc.request("echo", "ping").string == "echo: ping")
        // A second client by name: the certificate names localhost too.
        let other = try await NATSClient.connect(tlsOptions("tls://localhost:\(server.port)", ca: ca.ca))
        try other.publish("greet.ann", "from localhost")
        #expect(try await collect(sub, 1)[0].string == "from localhost")
        other.close()
        try await nc.drain()
        _ = await echo.result
    }

    @Test func megabyteMessagesAndBurstsArriveWholeAndInOrder() async throws {
        let ca = try TestAuthority()
        let server = try TLSNATSServer(certificate: ca.made.certificate, key: ca.made.key)
        let options = try tlsOptions("tls://127.0.0.1:\(server.port)", ca: ca.ca)
        let receiver = try await NATSClient.connect(options)
        let sender = try await NATSClient.connect(options)
        #expect(sender.maxPayload == 1 << 20)
        let big = try receiver.subscribe("big")
        let burst = try receiver.subscribe("burst")
        try await receiver.flush()
        // 1 MiB payloads (the server's max_payload): many TLS records each, through one parse per read buffer.
        let payloads = (0..<8).map { i in (0..<(1 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ i) } }
        for p in payloads { try sender.publish("big", p) }
        let bigs = try await collect(big, payloads.count, timeout: 20)
        #expect(bigs.map(\.payload) == payloads)
        // A burst of small messages, queued faster than the writer sends them.
        let count = 50_000
        for i in 0..<count { try sender.publish("burst", "\(i)") }
        let small = try await collect(burst, count, timeout: 30)
        #expect(small.map(\.string) == (0..<count).map { "\($0)" })
        // A request whose reply is 1 MiB.
        let service = try receiver.subscribe("fetch")
        let answer = Task { for await m in service { try? receiver.publish(m.reply!, payloads[3]) } }
        try await receiver.flush()
        #expect(try await sender.request("fetch", "3", timeout: 10).payload == payloads[3])
        sender.close()
        receiver.close()
        _ = await answer.result
    }

    @Test func aServerSignedByAnotherCAIsRefusedSayingItIsNotTrusted() async throws {
        let ca = try TestAuthority(), other = try TestAuthority()
        let server = try TLSNATSServer(certificate: ca.made.certificate, key: ca.made.key)
        let error = await connectError(try tlsOptions("tls://127.0.0.1:\(server.port)", ca: other.ca))
        guard case .tls(.untrusted(_, let reason))? = error else { Issue.record("got \(String(describing: error))"); return }
        #expect(reason.contains("not signed by a trusted CA") && reason.contains("--tls-ca"), "\(reason)")
        #expect(error!.description.contains("certificate is not trusted"), "\(error!)")
    }

    @Test func aCertificateForAnotherHostIsRefusedNamingBoth() async throws {
        let ca = try TestAuthority()
        let (cert, key) = try ca.serverCertificate("elsewhere", san: "DNS:elsewhere.test")
        let server = try TLSNATSServer(certificate: cert, key: key)
        let error = await connectError(try tlsOptions("tls://127.0.0.1:\(server.port)", ca: ca.ca))
        guard case .tls(.untrusted(_, let reason))? = error else { Issue.record("got \(String(describing: error))"); return }
        #expect(reason.contains("elsewhere.test") && reason.contains("not 127.0.0.1"), "\(reason)")
        // By a DNS name the certificate lacks too: the name dialed is the one checked.
        let byName = await connectError(try tlsOptions("tls://localhost:\(server.port)", ca: ca.ca))
        #expect(byName?.description.contains("not localhost") == true, "\(String(describing: byName))")
    }

    @Test func anExpiredCertificateIsRefusedSayingSo() async throws {
        let ca = try TestAuthority()
        let (cert, key) = try ca.serverCertificate("stale", san: "IP:127.0.0.1", days: -2)
        let server = try TLSNATSServer(certificate: cert, key: key)
        let error = await connectError(try tlsOptions("tls://127.0.0.1:\(server.port)", ca: ca.ca))
        #expect(error?.description.contains("expired") == true, "\(String(describing: error))")
    }

    @Test func mutualTLSPresentsTheClientCertificateAndIsRefusedWithout() async throws {
        let ca = try TestAuthority()
        let server = try TLSNATSServer(certificate: ca.made.certificate, key: ca.made.key, verifyClientsWith: ca.ca)
        let url = "tls://127.0.0.1:\(server.port)"
        let nc = try await NATSClient.connect(tlsOptions(url, ca: ca.ca, cert: try ca.client("d1")))
        let sub = try nc.subscribe("m")
        try nc.publish("m", "with a certificate")
        #expect(try await collect(sub, 1)[0].string == "with a certificate")
        nc.close()
        let error = await connectError(try tlsOptions(url, ca: ca.ca))
        #expect(error?.description.contains("client certificate") == true, "\(String(describing: error))")
        // A certificate from another CA is refused by the server.
        let stranger = try TestAuthority()
        let refused = await connectError(try tlsOptions(url, ca: ca.ca, cert: try stranger.client("d1")))
        #expect(refused != nil)
    }

    @Test func reconnectsOverTLSAfterTheServerRestarts() async throws {
        let ca = try TestAuthority()
        let port = try freePort()
        var server: TLSNATSServer? = try TLSNATSServer(certificate: ca.made.certificate, key: ca.made.key, port: port)
        let nc = try await NATSClient.connect(tlsOptions("tls://127.0.0.1:\(port)", ca: ca.ca) { $0.maxReconnectAttempts = -1 })
        let sub = try nc.subscribe("after.restart")
        try await nc.flush()
        server!.stop()
        _ = try await awaitEvent(nc) { if case .disconnected = $0 { return true } else { return false } }
        for i in 0..<3 { try nc.publish("after.restart", "buffered-\(i)") }
        server = try TLSNATSServer(certificate: ca.made.certificate, key: ca.made.key, port: port)
        _ = try await awaitEvent(nc) { if case .reconnected = $0 { return true } else { return false } }
        #expect(nc.negotiatedTLS != nil)
        #expect(try await collect(sub, 3).map(\.string) == ["buffered-0", "buffered-1", "buffered-2"])
        try nc.publish("after.restart", "fresh")
        #expect(try await collect(sub, 1)[0].string == "fresh")
        nc.close()
        _ = server
    }

    @Test func aTLSURLToAPlainServerIsRefusedSayingTLSIsNotOffered() async throws {
        let plain = try RunningBroker(.natsServer)
        let error = await connectError(try testOptions("tls://127.0.0.1:\(plain.port)"))
        #expect(error?.description.contains("does not offer TLS") == true, "\(String(describing: error))")
        // TLS options on a nats:// URL ask for TLS just as much.
        let ca = try TestAuthority()
        let withCA = await connectError(try tlsOptions("nats://127.0.0.1:\(plain.port)", ca: ca.ca))
        #expect(withCA?.description.contains("does not offer TLS") == true, "\(String(describing: withCA))")
    }

    @Test func aServerRequiringTLSIsUpgradedToAndSaysSoWhenItsCertificateFails() async throws {
        let ca = try TestAuthority()
        let server = try TLSNATSServer(certificate: ca.made.certificate, key: ca.made.key)
        // nats:// with the CA: INFO says tls_required, the client upgrades.
        let nc = try await NATSClient.connect(tlsOptions("nats://127.0.0.1:\(server.port)", ca: ca.ca))
        #expect(nc.negotiatedTLS != nil)
        nc.close()
        // nats:// without anything: upgraded against the system's CAs, which do not know the private CA.
        let error = await connectError(try testOptions("nats://127.0.0.1:\(server.port)"))
        guard case .tlsRequired(_, .untrusted)? = error else { Issue.record("got \(String(describing: error))"); return }
        #expect(error!.description.contains("requires TLS") && error!.description.contains("not signed by a trusted CA"), "\(error!)")
    }

    @Test func unreadableTLSFilesFailTheConnectAtOnceEvenWhenRetrying() async throws {
        let missing = NSTemporaryDirectory() + "no-such-ca-\(UUID().uuidString).pem"
        let started = Date()
        let error = await connectError(try tlsOptions("tls://127.0.0.1:1", ca: missing) { $0.retryOnFailedConnect = true })
        guard case .tls(.cannotLoad(let what, let path, _))? = error else { Issue.record("got \(String(describing: error))"); return }
        #expect(what == "CA" && path == missing)
        #expect(Date().timeIntervalSince(started) < 5)
        let half = await connectError(try testOptions("tls://127.0.0.1:1") { $0.tls = TLSFiles(certificate: missing) })
        #expect(half?.description.contains("--tls-key") == true, "\(String(describing: half))")
    }

    @Test func urlsAndDiscoveredServersKeepTheirScheme() throws {
        let a = try ServerAddress.parse("tls://tok@hive.example:4443")
        #expect(a.tls && a.host == "hive.example" && a.port == 4443 && a.token == "tok")
        #expect(a.url == "tls://hive.example:4443")
        #expect(try !ServerAddress.parse("nats://h:1").tls && !ServerAddress.parse("h:1").tls)
        #expect(throws: NATSClientError.self) { try ServerAddress.parse("https://h:1") }
        var pool = ServerPool([a], randomize: false, user: nil, password: nil, token: nil)
        #expect(pool.add(discovered: ["10.0.0.2:4443"]) == ["10.0.0.2:4443"])
        // Each discovered server is dialed (and its certificate checked) by its own host, over TLS.
        let discovered = pool.rotation().first { $0.host == "10.0.0.2" }
        #expect(discovered?.tls == true && discovered?.discovered == true)
        var plainPool = ServerPool([try ServerAddress.parse("nats://h:1")], randomize: false, user: nil, password: nil, token: nil)
        _ = plainPool.add(discovered: ["10.0.0.2:4222"])
        #expect(plainPool.rotation().allSatisfy { !$0.tls })
    }

    /// A TLS cluster: the client knows node 0 by name, learns node 1 from connect_urls (an IP address), and after
    /// node 0 dies reconnects to node 1 over TLS, its certificate checked against that address.
    @Test func failsOverToADiscoveredNodeOverTLS() async throws {
        let ca = try TestAuthority()
        let routes = [try freePort(), try freePort()]
        let routeList = routes.map { "nats://127.0.0.1:\($0)" }.joined(separator: ",")
        let nodes = try (0..<2).map { i in
            try TLSNATSServer(certificate: ca.made.certificate, key: ca.made.key,
                              extra: ["--cluster_name", "hive-tls", "--cluster", "nats://127.0.0.1:\(routes[i])", "--routes", routeList])
        }
        let nc = try await NATSClient.connect(tlsOptions("tls://localhost:\(nodes[0].port)", ca: ca.ca) { $0.maxReconnectAttempts = -1 })
        let second = "127.0.0.1:\(nodes[1].port)"
        _ = try await awaitEvent(nc) { if case .discoveredServers(let s) = $0 { return s.contains(second) } else { return false } }
        #expect(nc.knownServers.contains(second))
        nodes[0].kill()
        _ = try await awaitEvent(nc, timeout: 20) { if case .reconnected = $0 { return true } else { return false } }
        #expect(nc.connectedServer == second)
        #expect(nc.negotiatedTLS != nil)
        try await nc.flush()
        nc.close()
    }
}
