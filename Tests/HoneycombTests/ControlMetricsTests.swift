import FoundationEssentials
import HiveCore
@testable import Honeycomb
import Testing

/// `/metrics` text from a state and counters, and what the counters make of journaled events.
@Suite struct ControlMetricsTests {
    @Test func gaugesCountersAndHistogramsAreInTheText() throws {
        let state = ControlState()
        let (id, _) = try state.submit(try spec(#"{"root": {"kind": "fork", "children": [{"kind": "noop"}, {"kind": "noop"}]}}"#), now: 1_000)
        var counters = ServiceCounters()
        let latency = Histogram()
        counters.count(.taskLeased(.init(task: "\(id).1", attempt: 1, drone: "d1", token: "t", deadline: 9_000, at: 1_250)), state: state, dispatchLatency: latency)
        counters.count(.taskLeased(.init(task: "\(id).1", attempt: 2, drone: "d1", token: "t", deadline: 9_000, at: 2_000)), state: state, dispatchLatency: latency)
        let usage = Usage(model: "m", promptTokens: 10, generatedTokens: 5, promptMillis: 1, generationMillis: 1)
        counters.count(.taskFinished(.init(task: "\(id).1", attempt: 2, succeeded: true, output: TaskOutput(drone: "d1", usage: usage, tier: .core), at: 3_000)),
                       state: state, dispatchLatency: latency)
        counters.count(.taskExpired(.init(task: "\(id).2", attempt: 1, reason: "lost", countsAttempt: true, at: 3_000)), state: state, dispatchLatency: latency)
        #expect(counters.retries == 1 && counters.leasesExpired == 1 && counters.finished == ["succeeded": 1])
        #expect(latency.snapshot.count == 1)

        let text = ControlMetrics.text(state: state, counters: counters, dispatchLatency: latency.snapshot, journal: nil, eventStreams: 3)
        for line in [#"hive_tasks{state="pending"} 2"#, #"hive_goals{state="running"} 1"#, "hive_task_retries_total 1",
                     "hive_leases_expired_total 1", #"hive_tasks_finished_total{outcome="succeeded"} 1"#,
                     #"hive_tokens_total{tier="core",kind="prompt"} 10"#, #"hive_tokens_total{tier="core",kind="generated"} 5"#,
                     "hive_dispatch_latency_seconds_count 1", "hive_event_stream_subscribers 3", "# TYPE hive_drones gauge"] {
            #expect(text.contains(line + "\n"), "missing \(line)")
        }
        #expect(!text.contains("hive_journal_bytes"))
    }

    @Test func tokenCountsFromDronesSaturateInsteadOfTrapping() throws {
        let state = ControlState()
        var counters = ServiceCounters()
        let huge = Usage(model: "m", promptTokens: Int.max, generatedTokens: Int.max, promptMillis: 1, generationMillis: 1)
        for _ in 0..<2 {
            counters.count(.taskFinished(.init(task: "g1.1", attempt: 1, succeeded: false, output: TaskOutput(drone: "d", usage: huge), at: 1)),
                           state: state, dispatchLatency: Histogram())
        }
        #expect(counters.promptTokens["unknown"] == Int.max && counters.finished["failed"] == 2)
    }
}
