import FoundationEssentials
import HiveCore
import Honeycomb
import NATSClient
import NATSTestSupport
import Testing

extension BrokerKind: CustomTestStringConvertible {
    public var testDescription: String { rawValue }
}

@Suite struct ControlPlaneTests {
    @Test(arguments: BrokerKind.allCases)
    func answersStatusOnTheBus(kind: BrokerKind) async throws {
        let broker = try RunningBroker(kind)
        let url = "nats://127.0.0.1:\(broker.port)"
        let plane = try await ControlPlane.start(options: try NATSClientOptions(urls: url),
                                                 mode: kind == .embedded ? .embedded : .external)
        let nc = try await NATSClient.connect(urls: url)
        let reply = try await nc.request(APISubject.status, timeout: 2)
        let status = try JSONDecoder().decode(StatusReply.self, from: Data(reply.payload))
        #expect(status.service == "honeycombd")
        #expect(status.version == HiveVersion.current)
        #expect(status.broker == (kind == .embedded ? "embedded" : "external"))
        #expect(status.busServer == "127.0.0.1:\(broker.port)")
        await plane.stop()
        await #expect(throws: NATSClientError.noResponders(subject: APISubject.status)) {
            _ = try await nc.request(APISubject.status, timeout: 2)
        }
    }
}
