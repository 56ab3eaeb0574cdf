import Foundation
import HiveCore
import Testing

/// W3C `traceparent` reading, span IDs, and a drone's run span read back from a result's headers.
@Suite struct TraceContextTests {
    @Test func aValidTraceparentGivesTheTraceAndTheCallersSpan() throws {
        let c = try #require(TraceContext(traceparent: " 00-0AF7651916CD43DD8448EB211C80319C-b7ad6b7169203331-01 "))
        #expect(c.traceID == "0af7651916cd43dd8448eb211c80319c" && c.parentSpanID == "b7ad6b7169203331" && c.isValid)
        #expect(c.traceparent(span: "00f067aa0ba902b7") == "00-0af7651916cd43dd8448eb211c80319c-00f067aa0ba902b7-01")
        // A later version may add fields after the flags.
        #expect(TraceContext(traceparent: "01-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-extra") != nil)
    }

    @Test(arguments: [
        "", "garbage", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331",  // too few fields
        "00-00000000000000000000000000000000-b7ad6b7169203331-01",  // all-zero trace
        "00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01",  // all-zero span
        "ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",  // forbidden version
        "00-0af7651916cd43dd8448eb211c80319-b7ad6b7169203331-01",  // short trace
        "00-0af7651916cd43dd8448eb211c80319g-b7ad6b7169203331-01",  // not hex
    ])
    func malformedTraceparentsAreIgnored(text: String) {
        #expect(TraceContext(traceparent: text) == nil)
    }

    @Test func spanIDsAreStablePerNameAndDistinctAcrossNames() {
        let c = TraceContext(traceID: "0af7651916cd43dd8448eb211c80319c")
        #expect(c.spanID("task", "g1.1") == c.spanID("task", "g1.1"))
        var seen = Set<String>()
        for i in 0..<10_000 { seen.insert(c.spanID("attempt", "g1.\(i)", 1)) }
        seen.insert(c.spanID("goal"))
        #expect(seen.count == 10_001)
        #expect(seen.allSatisfy { $0.count == 16 && $0.allSatisfy(\.isHexDigit) })
        #expect(TraceContext(traceID: "1af7651916cd43dd8448eb211c80319c").spanID("goal") != c.spanID("goal"))
    }

    @Test func randomTracesAreValidAndDiffer() {
        var rng = SystemRandomNumberGenerator()
        let a = TraceContext.random(using: &rng), b = TraceContext.random(using: &rng)
        #expect(a.isValid && b.isValid && a.traceID != b.traceID && a.parentSpanID == nil)
        #expect(!TraceContext(traceID: "xyz").isValid)
    }

    @Test func aRunsReportIsReadFromTheResultsHeaders() throws {
        let tp = "00-0af7651916cd43dd8448eb211c80319c-00f067aa0ba902b7-01"
        let r = try #require(SpanReport(traceparent: tp, time: "1700000000000000000 1700000000012000000"))
        #expect(r.spanID == "00f067aa0ba902b7" && r.endUnixNano - r.startUnixNano == 12_000_000)
        #expect(SpanReport(traceparent: tp, time: "5 4") == nil)  // ends before it starts
        #expect(SpanReport(traceparent: tp, time: "x") == nil)
        #expect(SpanReport(traceparent: "bad", time: "1 2") == nil)
        #expect(SpanReport(traceparent: tp, time: nil) == nil)
        #expect(SpanReport(traceparent: tp, time: r.timeHeader) == r)
    }
}
