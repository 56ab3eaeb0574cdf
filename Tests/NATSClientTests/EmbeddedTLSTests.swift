import Foundation
import HiveTLS
import NATSClient
import NATSServer
import NATSTestSupport
import Testing

/// The client against honeycombd's own broker serving TLS (OpenSSL on both ends), and the in-process
/// connection that stays plain text on a port that requires TLS. Needs the broker's TLS (branch tls-broker): before
/// it, the broker ignores `BrokerConfig.tls` and these fail with "the server does not offer TLS".
@Suite struct EmbeddedTLSTests {
    func tlsBroker(_ ca: TestAuthority, verifyClients: Bool = false) throws -> RunningBroker {
        var files = TLSFiles(certificate: ca.made.certificate, key: ca.made.key)
        if verifyClients {
            files.ca = ca.ca
            files.verifyClients = true
        }
        let identity = try TLSServerIdentity(files)
        return try RunningBroker(.embedded) { $0.tls = BrokerTLS(identity: identity) }
    }

    @Test func bigMessagesAndRequestsOverTLSToTheEmbeddedBroker() async throws {
        let ca = try TestAuthority()
        let broker = try tlsBroker(ca)
        let options = try testOptions("tls://localhost:\(broker.port)") { $0.tls = TLSFiles(ca: ca.ca) }
        let a = try await NATSClient.connect(options), b = try await NATSClient.connect(options)
        #expect(a.negotiatedTLS != nil)
        let sub = try a.subscribe("big")
        let service = try a.subscribe("echo")
        let echo = Task { for await m in service { try? a.publish(m.reply!, m.payload) } }
        try await a.flush()
        let payload = (0..<(1 << 20) - 64).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        for _ in 0..<4 { try b.publish("big", payload) }
        #expect(try await collect(sub, 4, timeout: 20).allSatisfy { $0.payload == payload })
        #expect(try await b.request("echo", payload, timeout: 10).payload == payload)
        a.close()
        b.close()
        _ = await echo.result
    }

    @Test func theInProcessConnectionStaysPlainOnAPortThatRequiresTLS() async throws {
        let ca = try TestAuthority()
        let broker = try tlsBroker(ca, verifyClients: true)
        let embedded = try #require(broker.embedded)
        var options = try testOptions("nats://127.0.0.1:\(broker.port)")
        options.dial = { _ throws(NATSClientError) -> Int32 in
            do { return try embedded.connectInProcess() } catch {
                throw NATSClientError.connectionFailed(server: "in-process", reason: "\(error)")
            }
        }
        let inside = try await NATSClient.connect(options)
        #expect(inside.negotiatedTLS == nil)
        // A client on the port needs TLS and, here, a certificate.
        let cert = try ca.client("d1")
        let outside = try await NATSClient.connect(testOptions("tls://127.0.0.1:\(broker.port)") {
            $0.tls = TLSFiles(certificate: cert.certificate, key: cert.key, ca: ca.ca)
        })
        let sub = try inside.subscribe("across")
        try await inside.flush()
        try outside.publish("across", "from a TLS client")
        #expect(try await collect(sub, 1)[0].string == "from a TLS client")
        do {
            _ = try await NATSClient.connect(testOptions("tls://127.0.0.1:\(broker.port)") { $0.tls = TLSFiles(ca: ca.ca) })
            Issue.record("connected without the required client certificate")
        } catch {
            #expect("\(error)".contains("certificate"), "\(error)")
        }
        inside.close()
        outside.close()
    }
}
