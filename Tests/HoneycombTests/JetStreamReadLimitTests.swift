import Foundation
import JetStream
import Testing
@testable import Honeycomb

/// `jetstream://STREAM?max_read=N`: how many stream sequences recovery reads at most, and the spans that stop it
/// (numbers from `$JS.API` answers, which anyone allowed to answer there can make up).
@Suite struct JetStreamReadLimitTests {
    /// A state as `STREAM.INFO` answers it (decoded: the type has no public initializer).
    func state(first: UInt64, last: UInt64, messages: UInt64 = 0) -> StreamState {
        let json = #"{"messages":\#(messages),"bytes":0,"first_seq":\#(first),"last_seq":\#(last)}"#
        return try! JSONDecoder().decode(StreamState.self, from: Data(json.utf8))
    }

    @Test func maxReadIsParsedWithADefaultAndRefusedWhenNotANumber() throws {
        #expect(try JetStreamJournalSettings.parse("jetstream://J").get().maxReadSequences == 1 << 24)
        #expect(try JetStreamJournalSettings.parse("jetstream://J?replicas=3&max_read=100").get().maxReadSequences == 100)
        for bad in ["0", "-1", "x", "18446744073709551616"] {
            #expect(throws: JournalLocationError.badMaxRead(bad)) { try JetStreamJournalSettings.parse("jetstream://J?max_read=\(bad)").get() }
        }
        #expect(JournalLocationError.unknownParameter("copies=2").description.contains("max_read=N"))
    }

    @Test func spansNeverOverflow() {
        #expect(JetStreamJournal.span(state(first: 0, last: 0)) == 0)
        #expect(JetStreamJournal.span(state(first: 5, last: 4)) == 0, "a purged, empty stream")
        #expect(JetStreamJournal.span(state(first: 0, last: .max)) == .max)
        #expect(JetStreamJournal.span(state(first: .max, last: .max)) == 1)
        #expect(JetStreamJournal.span(state(first: .max - 10, last: .max)) == 11)
    }

    @Test func aSpanOverTheLimitIsRefusedNamingTheNumbersAndTheParameter() throws {
        let s = try JetStreamJournalSettings.parse("jetstream://J?max_read=10").get()
        #expect(JetStreamJournal.unreadableSpan(state(first: 1, last: 10), s) == nil)
        let why = JetStreamJournal.unreadableSpan(state(first: 1, last: 11, messages: 3), s) ?? "read"
        #expect(why.contains("spans 11 sequences (first_seq 1, last_seq 11, messages 3)") && why.contains("at most 10")
                && why.contains("jetstream://J?max_read=N"), "\(why)")
    }
}
