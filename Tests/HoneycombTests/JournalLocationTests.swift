import Foundation
import Honeycomb
import Testing

/// `--journal jetstream://STREAM[?replicas=N]` and its companions, from flags or the config file.
@Suite struct JournalLocationTests {
    func load(_ args: [String], files: [String: String] = [:]) throws(HoneycombConfigError) -> HoneycombConfig {
        try HoneycombConfig.from(arguments: args) { path in
            guard let text = files[path] else { throw CocoaError(.fileNoSuchFile) }
            return Data(text.utf8)
        }
    }

    func refusal(_ args: [String]) -> String {
        do {
            _ = try load(args)
            return "accepted"
        } catch {
            return error.description
        }
    }

    @Test func aStreamWithReplicasCreateAndTimeoutFromFlagsInAnyOrder() throws {
        let c = try load(["--journal-create", "--nats", "nats://a:4222", "--journal-ack-timeout-ms", "1500", "--journal", "jetstream://HIVE?replicas=3"])
        #expect(c.jetStreamJournal == JetStreamJournalSettings(stream: "HIVE", replicas: 3, create: true, ackTimeout: 1.5))
        #expect(c.jetStreamJournal?.recordsSubject == "HIVE.records" && c.jetStreamJournal?.snapshotSubject == "HIVE.snapshot")
        let file = try load(["--config", "h.json"], files: ["h.json": #"{"nats": "nats://a:4222", "journal": "jetstream://J", "journal_create": true, "journal_ack_timeout_ms": 250}"#])
        #expect(file.jetStreamJournal == JetStreamJournalSettings(stream: "J", replicas: nil, create: true, ackTimeout: 0.25))
        #expect(try load([]).jetStreamJournal == nil)
    }

    @Test func badJournalLocationsAreRefusedWithTheReason() {
        #expect(refusal(["--journal", "jetstream://J"]).contains("needs --nats"))
        #expect(refusal(["--nats", "nats://a:4222", "--journal", "file:///tmp/x"]).contains("not a journal location"))
        #expect(refusal(["--nats", "nats://a:4222", "--journal", "jetstream://a.b"]).contains("not a usable stream name"))
        #expect(refusal(["--nats", "nats://a:4222", "--journal", "jetstream://"]).contains("not a usable stream name"))
        #expect(refusal(["--nats", "nats://a:4222", "--journal", "jetstream://J?replicas=9"]).contains("must be 1 to 5"))
        #expect(refusal(["--nats", "nats://a:4222", "--journal", "jetstream://J?copies=2"]).contains("unknown journal parameter"))
        #expect(refusal(["--nats", "nats://a:4222", "--journal", "jetstream://J", "--journal-ack-timeout-ms", "10"]).contains("journal_ack_timeout_ms"))
        #expect(refusal(["--journal-ack-timeout-ms", "0"]).contains("--journal-ack-timeout-ms"))
    }

    @Test func theLeaderHeartbeatComesFromTheFlagOrTheFileWithinItsLimits() throws {
        #expect(try load(["--nats", "nats://a:4222", "--journal", "jetstream://J"]).jetStreamJournal?.leaderHeartbeat == 1)
        let flag = try load(["--nats", "nats://a:4222", "--journal", "jetstream://J", "--leader-heartbeat-ms", "250"])
        #expect(flag.jetStreamJournal?.leaderHeartbeat == 0.25)
        let file = try load(["--config", "h.json"], files: ["h.json": #"{"nats": "nats://a:4222", "journal": "jetstream://J", "leader_heartbeat_ms": 3000}"#])
        #expect(file.jetStreamJournal?.leaderHeartbeat == 3)
        #expect(refusal(["--nats", "nats://a:4222", "--journal", "jetstream://J", "--leader-heartbeat-ms", "20"]).contains("leader_heartbeat_ms"))
        #expect(refusal(["--nats", "nats://a:4222", "--journal", "jetstream://J", "--leader-heartbeat-ms", "61000"]).contains("100 to 60000"))
        #expect(refusal(["--leader-heartbeat-ms", "0"]).contains("--leader-heartbeat-ms"))
    }
}
