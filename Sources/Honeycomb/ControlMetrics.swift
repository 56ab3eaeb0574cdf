import HiveCore

/// The control plane's `/metrics` in the Prometheus text format: gauges read from the state (tasks, goals, drones
/// and their slots), the counters kept since start (`ServiceCounters`), the dispatch latency, the journal's size and
/// sync times, and the open event streams. Pure: the same inputs give the same text (the broker's metrics are
/// appended by the caller).
enum ControlMetrics {
    static func text(state: ControlState, counters: ServiceCounters, dispatchLatency: Histogram.Snapshot, journal: (any JournalStore)?,
                     eventStreams: Int) -> String {
        var p = PrometheusText()
        var tasks: [String: Int] = [:]
        for t in state.tasks.values where !t.isStructural { tasks[t.state.rawValue, default: 0] += 1 }
        p.family("hive_tasks", "gauge", "Work tasks by state (forks and plan nodes excluded).")
        for (k, v) in tasks.sorted(by: { $0.key < $1.key }) { p.sample("hive_tasks", [("state", k)], Double(v)) }
        var goals: [String: Int] = [:]
        for g in state.goals.values { goals[g.state.rawValue, default: 0] += 1 }
        p.family("hive_goals", "gauge", "Goals by state.")
        for (k, v) in goals.sorted(by: { $0.key < $1.key }) { p.sample("hive_goals", [("state", k)], Double(v)) }
        struct TierState: Hashable, Comparable {
            var tier: String, state: String
            static func < (a: Self, b: Self) -> Bool { (a.tier, a.state) < (b.tier, b.state) }
        }
        var drones: [TierState: Int] = [:], slots: [String: Int] = [:], busy: [String: Int] = [:]
        for d in state.drones.values {
            drones[TierState(tier: d.tier.rawValue, state: d.state.rawValue), default: 0] += 1
            if d.state == .active { slots[d.tier.rawValue, default: 0] += d.slots }
            busy[d.tier.rawValue, default: 0] += d.running.count
        }
        p.family("hive_drones", "gauge", "Drones by tier and state.")
        for (k, v) in drones.sorted(by: { $0.key < $1.key }) { p.sample("hive_drones", [("tier", k.tier), ("state", k.state)], Double(v)) }
        p.family("hive_drone_slots", "gauge", "Task slots of active drones, by tier.")
        for (k, v) in slots.sorted(by: { $0.key < $1.key }) { p.sample("hive_drone_slots", [("tier", k)], Double(v)) }
        p.family("hive_drone_slots_busy", "gauge", "Tasks running on drones, by tier.")
        for (k, v) in busy.sorted(by: { $0.key < $1.key }) { p.sample("hive_drone_slots_busy", [("tier", k)], Double(v)) }
        p.family("hive_tasks_finished_total", "counter", "Work results by outcome.")
        for (k, v) in counters.finished.sorted(by: { $0.key < $1.key }) { p.sample("hive_tasks_finished_total", [("outcome", k)], Double(v)) }
        p.single("hive_task_retries_total", "counter", "Leases after a task's first attempt.", Double(counters.retries))
        p.single("hive_leases_expired_total", "counter", "Leases that ran past their deadline or lost their drone.", Double(counters.leasesExpired))
        p.single("hive_forks_total", "counter", "Forks (a task split into children).", Double(counters.forks))
        p.single("hive_reforks_total", "counter", "Plan steps re-forked after a failed round.", Double(counters.reforks))
        p.family("hive_tokens_total", "counter", "Model tokens by the tier of the drone that spent them.")
        for (k, v) in counters.promptTokens.sorted(by: { $0.key < $1.key }) { p.sample("hive_tokens_total", [("tier", k), ("kind", "prompt")], Double(v)) }
        for (k, v) in counters.generatedTokens.sorted(by: { $0.key < $1.key }) { p.sample("hive_tokens_total", [("tier", k), ("kind", "generated")], Double(v)) }
        p.histogram("hive_dispatch_latency_seconds", "From a task's creation to its first lease.", dispatchLatency)
        if let journal {
            p.single("hive_journal_bytes", "gauge", "Journal size since the last compaction.", Double(journal.size))
            p.histogram("hive_journal_sync_seconds", "Each group commit's fdatasync (file journal) or publish acknowledgement (JetStream journal).", journal.syncLatency.snapshot)
        }
        p.single("hive_event_stream_subscribers", "gauge", "Open event streams (dashboards).", Double(eventStreams))
        return p.text
    }
}
