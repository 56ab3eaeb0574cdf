import Foundation
import JetStream
import NATSClient
import NATSTestSupport
import Testing

/// Key-value buckets against a real nats-server: compare-and-set on the revision, and a TTL that makes a key lapse
/// (the leader lease's mechanics).
@Suite(.serialized) struct KeyValueTests {
    @Test func compareAndSetOnTheRevisionAndTheTTL() async throws {
        let servers = try NATSServerCluster(size: 1, jetStream: true)
        let js = try await readyJetStream(servers.urls)
        let info = try await js.createKeyValueBucket("lease", ttl: 1)
        #expect(info.config.name == "KV_lease" && info.config.maxMsgsPerSubject == 1 && info.config.maxAge == 1_000_000_000)
        #expect(try await js.keyValue("lease", "leader") == nil)
        let first = try await js.updateKeyValue("lease", "leader", Array("a".utf8), revision: 0)
        // Someone else's create of the same key loses: the key exists now.
        do {
            _ = try await js.updateKeyValue("lease", "leader", Array("b".utf8), revision: 0)
            Issue.record("a second create of the key succeeded")
        } catch {
            #expect(error.errCode == JetStreamErrorCode.wrongLastSequence, "\(error)")
        }
        let renewed = try await js.updateKeyValue("lease", "leader", Array("a".utf8), revision: first)
        #expect(renewed > first)
        // A stale revision loses.
        await #expect(throws: JetStreamError.self) { _ = try await js.updateKeyValue("lease", "leader", Array("a".utf8), revision: first) }
        let entry = try #require(try await js.keyValue("lease", "leader"))
        #expect(entry.value == Array("a".utf8) && entry.revision == renewed)
        // Not renewed within the TTL: the key lapses and another holder can create it.
        let deadline = Date().addingTimeInterval(10)
        var lapsed = false
        while !lapsed && Date() < deadline {
            lapsed = try await js.keyValue("lease", "leader") == nil
            if !lapsed { try await Task.sleep(for: .milliseconds(100)) }  // polling for the TTL, bounded by the deadline
        }
        #expect(lapsed)
        do {
            _ = try await js.updateKeyValue("lease", "leader", Array("a".utf8), revision: renewed)
            Issue.record("the old holder renewed a lapsed lease")
        } catch {
            #expect(error.errCode == JetStreamErrorCode.wrongLastSequence, "\(error)")
        }
        #expect(try await js.updateKeyValue("lease", "leader", Array("b".utf8), revision: 0) > renewed)
        js.client.close()
    }
}
