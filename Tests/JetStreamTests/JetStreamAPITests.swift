import Foundation
import JetStream
import NATSClient
import NATSTestSupport
import NATSWire
import Testing

/// The JetStream client against a real nats-server (2.9, `-js`): the server is the oracle for the API's shapes.
@Suite(.serialized) struct JetStreamAPITests {
    @Test func createPublishReadPurgeAndFence() async throws {
        let servers = try NATSServerCluster(size: 1, jetStream: true)
        let js = try await readyJetStream(servers.urls)
        #expect(try await js.streamInfo("J1") == nil, "a missing stream is nil, not an error")
        let info = try await js.createStream(StreamConfig(name: "J1", subjects: ["J1.>"], maxMsgSize: 4096))
        #expect(info.config.subjects == ["J1.>"] && info.config.storage == "file" && info.config.maxMsgSize == 4096)
        #expect(info.state.lastSeq == 0)

        let a = try await js.publish("J1.records", Array("one".utf8), headers: NATSHeaders(JetStreamHeader.expectedLastSequence, "0"))
        #expect(a.stream == "J1" && a.seq == 1)
        let b = try await js.publish("J1.records", Array("two".utf8), headers: [JetStreamHeader.expectedLastSequence: "1", JetStreamHeader.msgID: "w-2"])
        #expect(b.seq == 2)
        // A retried publish (same Nats-Msg-Id) is stored once.
        let again = try await js.publish("J1.records", Array("two".utf8), headers: [JetStreamHeader.expectedLastSequence: "1", JetStreamHeader.msgID: "w-2"])
        #expect(again.seq == 2 && again.duplicate == true)
        // A writer that does not know the stream's end is fenced out.
        await #expect(throws: JetStreamError.self) {
            _ = try await js.publish("J1.records", Array("stale".utf8), headers: NATSHeaders(JetStreamHeader.expectedLastSequence, "1"))
        }
        do {
            _ = try await js.publish("J1.records", [1], headers: NATSHeaders(JetStreamHeader.expectedLastSequence, "1"))
        } catch {
            #expect(error.errCode == JetStreamErrorCode.wrongLastSequence, "\(error)")
            #expect(!error.isTransient)
        }
        _ = try await js.publish("J1.snapshot", Array("snap".utf8), headers: ["Hive-Covers": "2"])

        let m = try #require(try await js.message("J1", seq: 2))
        #expect(m.subject == "J1.records" && m.data == Array("two".utf8) && m.headers[JetStreamHeader.msgID] == "w-2")
        let last = try #require(try await js.lastMessage("J1", subject: "J1.snapshot"))
        #expect(last.seq == 3 && last.headers["Hive-Covers"] == "2")
        #expect(try await js.message("J1", seq: 99) == nil)

        // Too large for the stream's max_msg_size: a typed refusal, not a timeout.
        do {
            _ = try await js.publish("J1.records", [UInt8](repeating: 7, count: 8000))
            Issue.record("an oversized message was stored")
        } catch {
            #expect(error.errCode != nil && !error.isTransient, "\(error)")
        }

        #expect(try await js.purge("J1", subject: "J1.records", below: 2) == 1)
        #expect(try await js.message("J1", seq: 1) == nil)
        #expect(try await js.message("J1", seq: 2) != nil)
        let after = try #require(try await js.streamInfo("J1"))
        #expect(after.state.firstSeq == 2 && after.state.lastSeq == 3 && after.state.messages == 2)

        // Same name, other configuration: refused with the reason.
        do {
            _ = try await js.createStream(StreamConfig(name: "J1", subjects: ["other.>"]))
            Issue.record("a conflicting stream was created")
        } catch {
            #expect(error.errCode == JetStreamErrorCode.streamNameInUse, "\(error)")
        }
        try await js.deleteStream("J1")
        #expect(try await js.streamInfo("J1") == nil)
        js.client.close()
    }

    @Test func withoutJetStreamTheAPIHasNoResponders() async throws {
        let broker = try RunningBroker(.natsServer)
        let client = try await NATSClient.connect(urls: "nats://127.0.0.1:\(broker.port)")
        let js = JetStreamAPI(client: client, timeout: 2)
        do {
            _ = try await js.streamInfo("J")
            Issue.record("STREAM.INFO answered without JetStream")
        } catch {
            #expect(error == .noResponders(subject: "$JS.API.STREAM.INFO.J"), "\(error)")
            #expect(error.description.contains("nats-server -js"))
        }
        client.close()
    }

    @Test func replicatedStreamOnAThreeNodeCluster() async throws {
        let servers = try NATSServerCluster(size: 3, jetStream: true)
        let js = try await readyJetStream(servers.urls)
        let info = try await js.createStream(StreamConfig(name: "R3", subjects: ["R3.>"], replicas: 3))
        #expect(info.config.numReplicas == 3)
        let ack = try await js.publish("R3.records", Array("x".utf8))
        #expect(ack.seq == 1)
        let stored = try #require(try await js.streamInfo("R3"))
        #expect(stored.cluster?.leader != nil && stored.state.messages == 1)
        js.client.close()
    }
}
