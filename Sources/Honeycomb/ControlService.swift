#if canImport(Glibc)
import Glibc
#endif
import FoundationEssentials
import HiveCore
import HiveHTTP
import HiveLog
import HiveSystem
import NATSClient
import NATSWire

/// The control loop: owns the `ControlState` and the journal, and speaks the drone and API protocols on the bus.
///
/// An actor, so every state change is serialized. Drone traffic (results, heartbeats) and API requests arrive
/// on subscriptions whose consumer tasks decode JSON outside the actor and call in. Dispatch never waits for the
/// disk: a lease that is lost in a crash is voided on restart anyway. Replies that tell a client something
/// happened (a goal accepted, a goal's state) are sent only once the journal holds it.
public actor ControlService {
    private let state: ControlState
    private let journal: Journal?
    private let client: NATSClient
    private let log = Log("scheduler")
    private let encoder: JSONEncoder
    /// The state machine's clock: wall-clock milliseconds since the Unix epoch, read once at start and then
    /// advanced by the monotonic clock (so within a run it never jumps, and times persisted in the journal mean
    /// the same thing after a restart). Never earlier than any time recovered from the journal.
    private let clock: ControlClock
    private var lastSeq: UInt64 = 0
    private var rng = SystemRandomNumberGenerator()
    private var consumers: [Task<Void, Never>] = []
    /// Journal size that triggers compaction.
    private let compactAtBytes: Int
    /// Builds the `hive.v1.api.status` answer (the control plane knows the broker mode and start time).
    private let status: @Sendable () -> StatusReply
    /// Role frames filled into submitted plans.
    private let prompts: PromptLibrary
    /// WebAssembly modules by SHA-256.
    private let modules: ModuleStore
    /// Drone credentials issued at run time (`drone_add`/`drone_revoke`); nil without principals.
    private let credentials: DroneCredentials?
    /// Live changes for event-stream subscribers, and what changed since the last tick (only while subscribed).
    nonisolated let feed = EventFeed()
    private var dirtyTasks: Set<TaskID> = []
    private var dirtyGoals: Set<GoalID> = []
    /// One log throttle per kind of refused drone message (bounded: reasons are a handful of kinds).
    private var rejectionLogs: [String: LogThrottle] = [:]
    /// Shared by every kind past the first 64 (there are a handful; a bound all the same).
    private let otherRejections = LogThrottle(intervalMillis: 1_000)
    /// Counters and histograms for `/metrics` (since this process started).
    private var counters = ServiceCounters()
    nonisolated let dispatchLatency = Histogram()
    /// Attempt timings and drones' run spans for traces.
    private var traces = TraceLog()
    /// Where finished goals' traces go (OTLP/HTTP JSON), if anywhere.
    private let exporter: OTLPExporter?

    /// An assignment to send: its subject, and the `traceparent` header naming its attempt's span.
    struct Outgoing {
        var subject: String
        var assignment: Assignment
        var traceparent: String?
    }

    init(client: NATSClient, journal: Journal?, recovery: JournalRecovery?, config: ControlConfig, compactAtBytes: Int,
         prompts: PromptLibrary, exporter: OTLPExporter?, moduleQuota: ModuleQuota = ModuleQuota(),
         credentials: DroneCredentials? = nil, status: @escaping @Sendable () -> StatusReply) {
        self.credentials = credentials
        self.client = client
        self.exporter = exporter
        self.prompts = prompts
        modules = ModuleStore(dataDirectory: journal?.directory, quota: moduleQuota)
        self.status = status
        self.journal = journal
        self.compactAtBytes = compactAtBytes
        state = ControlState(config: config)
        encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        if let recovery {
            if let s = recovery.snapshot { state.restore(s) }
            for e in recovery.events { state.apply(e) }
            state.outbox = Outbox()
        }
        clock = ControlClock(notBefore: state.latestTime)
    }

    /// The state machine's clock (see `clock`).
    private var now: Int64 { clock.now() }

    /// Recovers, subscribes and starts the timers.
    static func start(client: NATSClient, journal: Journal?, recovery: JournalRecovery?, config: ControlConfig,
                      compactAtBytes: Int = 64 << 20, prompts: PromptLibrary = PromptLibrary(), exporter: OTLPExporter? = nil,
                      moduleQuota: ModuleQuota = ModuleQuota(), credentials: DroneCredentials? = nil,
                      status: @escaping @Sendable () -> StatusReply) async throws -> ControlService {
        let service = ControlService(client: client, journal: journal, recovery: recovery, config: config,
                                     compactAtBytes: compactAtBytes, prompts: prompts, exporter: exporter,
                                     moduleQuota: moduleQuota, credentials: credentials, status: status)
        await service.recover(recovery)
        try await service.subscribe()
        return service
    }

    private func recover(_ recovery: JournalRecovery?) {
        guard let recovery else { return }
        if let why = recovery.truncationReason {
            log.warn("journal_tail_cut", ["bytes": recovery.truncatedBytes, "reason": why])
        }
        for d in recovery.damage {
            log.error("journal_damage_skipped", ["offset": d.offset, "bytes": d.length, "reason": d.reason,
                                                 "goals": d.goals.isEmpty ? "-" : d.goals.joined(separator: ","),
                                                 "tasks": d.tasks.isEmpty ? "-" : d.tasks.joined(separator: ",")])
        }
        // Goal ids are never handed out twice: after a loss (damaged records, or a state that does not reach the
        // last reservation's floor, e.g. a snapshot moved away), numbering resumes past the reservation on disk.
        let before = state.nextGoalNumber
        if let problem = recovery.reservationProblem {
            log.error("goal_ids_unreadable", ["reason": problem, "effect": "ids are kept unique from the journal alone"])
        }
        if recovery.lostRecords || before < recovery.reservationFloor {
            state.skipGoalNumbers(to: recovery.reservedGoalNumbers)
            state.skipGoalNumbers(to: recovery.highestGoalNumberSeenInLoss &+ 1)
        }
        if !recovery.damage.isEmpty {
            log.error("journal_damaged", ["regions": recovery.damage.count,
                                          "bytes": recovery.damage.reduce(0) { $0 + $1.length },
                                          "kept_aside": recovery.keptAside ?? "-",
                                          "goals": Set(recovery.damage.flatMap(\.goals)).sorted().joined(separator: ","),
                                          "next_goal": "g\(state.nextGoalNumber)"])
        }
        let voided = state.voidLeases(now: now)
        record(voided)
        log.info("recovered", ["goals": state.goals.count, "tasks": state.tasks.count,
                               "running_goals": state.goals.values.filter { !$0.state.isFinal }.count,
                               "requeued": voided.count, "from_snapshot": recovery.snapshot != nil,
                               "events": recovery.events.count])
    }

    private func subscribe() throws {
        let hello = try client.subscribe(APISubject.hellos, queue: "honeycombd")
        let heartbeats = try client.subscribe(APISubject.heartbeats, queue: "honeycombd")
        let byes = try client.subscribe(APISubject.byes, queue: "honeycombd")
        let results = try client.subscribe(APISubject.results, queue: "honeycombd")
        let api = try client.subscribe("hive.v1.api.*", queue: "honeycombd")
        let c = client
        // These loops inherit the actor (a plain Task in an actor method does), so each handler call is a
        // synchronous step, not a hop. Detaching them to overlap decoding/publishing with decisions was
        // measured slower on a 2-core box (21.7k vs 23.0k tasks/s, p50 448 vs 359 µs; control_bench, 3 runs).
        consumers = [
            Task { for await m in hello { self.handleHello(m) } },
            Task { for await m in heartbeats { self.handleHeartbeat(m) } },
            Task {
                for await m in byes {
                    let id = m.subject.split(separator: ".").dropFirst(3).first.map(String.init) ?? ""
                    self.draining(id)
                }
            },
            Task {
                let decoder = JSONDecoder()
                for await m in results {
                    guard let r = try? decoder.decode(TaskResult.self, from: Data(m.payload)) else {
                        self.rejected("unreadable result", ["subject": m.subject, "bytes": m.payload.count])
                        continue
                    }
                    // The sender is the drone whose subject it came on (only it may publish there), never the payload.
                    guard APISubject.drone(in: m.subject) == r.drone else {
                        self.rejected("result from another drone's subject", ["task": r.task, "drone": r.drone, "subject": m.subject])
                        continue
                    }
                    // The hot path: decide, then encode and send the next assignments without re-entering.
                    let run = SpanReport(traceparent: m.headers?["traceparent"], time: m.headers?[SpanReport.timeHeader])
                    for out in self.handleResult(r, run: run) {
                        try? c.publish(out.subject, out.assignment.fastJSON, headers: out.traceparent.map { NATSHeaders("traceparent", $0) })
                    }
                }
            },
            Task { for await m in api { await self.handleAPI(m, client: c) } },
            Task {
                while !Task.isCancelled {
                    try? await Task.sleep(for: .milliseconds(50))
                    self.tick()
                }
            },
        ]
    }

    /// Stops consuming (the caller drains the bus connection) and ends event streams.
    func stop() {
        for t in consumers { t.cancel() }
        feed.closeAll()
    }

    // MARK: Effects

    /// Journals events (without waiting) and remembers the sequence to wait on before telling clients.
    private func record(_ events: [JournalEvent]) {
        guard !events.isEmpty else { return }
        observe(events)
        guard let journal else { return }
        if case .goalSubmitted = events[0], let e = journal.reserveGoalNumber(state.nextGoalNumber) {
            log.error("goal_ids_unreserved", ["reason": e])
        }
        lastSeq = journal.append(events)
    }

    /// Counts what the events say for `/metrics`, and marks what changed for event-stream subscribers.
    private func observe(_ events: [JournalEvent]) {
        let watching = feed.isActive
        for e in events {
            // The task an event is about, and its goal: looked up once (this runs for every journaled event).
            var changed: (task: TaskID, goal: GoalID)?
            func about(_ task: TaskID) -> GoalID? {
                guard let goal = state.tasks[task]?.goal else { return nil }
                changed = (task, goal)
                return goal
            }
            switch e {
            case .taskLeased(let task, let attempt, let drone, _, _, let at, _, _):
                if let goal = about(task) {
                    traces.leased(goal: goal, task: task, attempt: attempt, drone: drone, at: WallClock.unixNanos())
                }
                if attempt > 1 {
                    counters.retries += 1
                } else if let t = state.tasks[task] {
                    dispatchLatency.observe(Double(Swift.max(0, at - t.createdAt)) / 1000)
                }
            case .taskFinished(let task, let attempt, let succeeded, let output, _):
                if let goal = about(task) {
                    traces.ended(goal: goal, task: task, attempt: attempt, outcome: succeeded ? "succeeded" : "failed", at: WallClock.unixNanos())
                }
                counters.finished[succeeded ? "succeeded" : "failed", default: 0] += 1
                if let usage = output.usage {
                    let tier = output.tier?.rawValue ?? "unknown"
                    counters.promptTokens[tier, default: 0] += usage.promptTokens
                    counters.generatedTokens[tier, default: 0] += usage.generatedTokens
                }
            case .taskExpired(let task, let attempt, let reason, _, _):
                if let goal = about(task) {
                    traces.ended(goal: goal, task: task, attempt: attempt, outcome: "expired: \(reason)", at: WallClock.unixNanos())
                }
                counters.leasesExpired += 1
            case .taskForked(let task, let children, _, _):
                counters.forks += 1
                let made = state.tasks[task]?.children.suffix(children.count) ?? []
                if made.contains(where: { (state.tasks[$0]?.round ?? 0) > 0 }) { counters.reforks += 1 }
                if let goal = about(task), watching, feed.wantsTasks(of: goal) { dirtyTasks.formUnion(made) }
            case .taskAwaitingApproval(let task, let request, _):
                if let goal = about(task) {
                    log.info("task_awaiting_approval", ["goal": goal, "task": task, "runs": request.runs,
                                                        "drone": request.drone ?? "-", "proposed_by": request.proposedBy, "why": request.why])
                }
            case .taskApproved(let task, let by, _):
                if let goal = about(task) { log.info("task_approved", ["goal": goal, "task": task, "by": by]) }
            case .taskDenied(let task, let by, let reason, _):
                if let goal = about(task) { log.info("task_denied", ["goal": goal, "task": task, "by": by, "reason": reason]) }
            case .goalSubmitted(let goal, _, _), .goalCancelled(let goal, _, _), .goalFailed(let goal, _, _):
                guard watching else { continue }
                dirtyGoals.insert(goal)
                if case .goalSubmitted = e, feed.wantsTasks(of: goal) { dirtyTasks.formUnion(state.tasks(of: goal).map(\.id)) }
            }
            if watching, let changed {
                dirtyGoals.insert(changed.goal)
                if feed.wantsTasks(of: changed.goal) { dirtyTasks.insert(changed.task) }
            }
        }
    }

    /// Sends what changed since the last tick to event-stream subscribers, parents before children.
    private func flushFeed() {
        guard !dirtyTasks.isEmpty || !dirtyGoals.isEmpty else { return }
        var goals = dirtyGoals
        // A join settles inside `apply` when a child finishes: the forks above a changed task may have changed too.
        var changed = dirtyTasks
        for id in dirtyTasks {
            var parent = state.tasks[id]?.parent
            while let p = parent, changed.insert(p).inserted { parent = state.tasks[p]?.parent }
        }
        let tasks = changed.compactMap { state.tasks[$0] }.sorted { ($0.depth, $0.index) < ($1.depth, $1.index) }
        dirtyTasks.removeAll(keepingCapacity: true)
        dirtyGoals.removeAll(keepingCapacity: true)
        guard feed.isActive else { return }
        var frames: [(goal: GoalID, event: String, data: String)] = []
        for t in tasks {
            frames.append((t.goal, "task", FeedJSON.task(t)))
            goals.insert(t.goal)
        }
        for g in goals.sorted() { if let r = state.goals[g] { frames.append((g, "goal", FeedJSON.goal(r, root: state.tasks[r.root]))) } }
        feed.publish(frames)
    }

    /// A goal's spans: the goal, every node of its task tree, each attempt (as leased here) and each drone's run
    /// (as the drone timed it). Nil for goals from before tracing.
    func trace(of goal: GoalID) -> TraceView? {
        guard let g = state.goals[goal], let ctx = g.trace else { return nil }
        func wall(_ ms: Int64) -> Int64 { ms.multipliedReportingOverflow(by: 1_000_000).partialValue }
        let goalSpan = ctx.spanID("goal")
        var spans = [SpanView(spanID: goalSpan, parentSpanID: ctx.parentSpanID, name: "goal \(g.name ?? g.id)", kind: .goal,
                              startUnixNano: wall(g.createdAt), endUnixNano: g.finishedAt.map(wall),
                              error: g.state == .failed, attributes: ["hive.goal": g.id, "hive.state": g.state.rawValue])]
        let attempts = traces.goals[goal] ?? [:]
        let byTask = Dictionary(grouping: attempts, by: { $0.key.task })
        for t in state.tasks(of: goal) {
            let taskSpan = ctx.spanID("task", t.id)
            var attributes = ["hive.task": t.id, "hive.kind": t.kind, "hive.state": t.state.rawValue, "hive.attempts": String(t.attempts)]
            if let role = t.role { attributes["hive.role"] = role.rawValue }
            if let round = t.round { attributes["hive.round"] = String(round) }
            spans.append(SpanView(spanID: taskSpan, parentSpanID: t.parent.map { ctx.spanID("task", $0) } ?? goalSpan,
                                  name: "\(t.kind) \(t.id)", kind: .task, startUnixNano: wall(t.createdAt),
                                  endUnixNano: t.finishedAt.map(wall), error: t.state == .dead,
                                  attributes: attributes))
            for (key, a) in (byTask[t.id] ?? []).sorted(by: { $0.key.attempt < $1.key.attempt }) {
                let attemptSpan = ctx.spanID("attempt", t.id, key.attempt)
                var attrs = ["hive.drone": a.drone, "hive.attempt": String(key.attempt)]
                if let o = a.outcome { attrs["hive.outcome"] = o }
                spans.append(SpanView(spanID: attemptSpan, parentSpanID: taskSpan, name: "attempt \(key.attempt) @\(a.drone)",
                                      kind: .attempt, startUnixNano: a.start, endUnixNano: a.end,
                                      error: a.outcome.map { $0 != "succeeded" } ?? false, attributes: attrs))
                if let run = a.run {
                    spans.append(SpanView(spanID: run.spanID, parentSpanID: attemptSpan,
                                          name: "\(t.kind) on \(state.drones[a.drone]?.name ?? a.drone)", kind: .run,
                                          startUnixNano: run.startUnixNano, endUnixNano: run.endUnixNano,
                                          attributes: ["hive.drone": a.drone]))
                }
            }
        }
        return TraceView(goal: goal, traceID: ctx.traceID, spans: spans)
    }

    /// The control plane's metrics in the Prometheus text format (the broker's are added by the caller).
    func metrics() -> String {
        var p = PrometheusText()
        var tasks: [String: Int] = [:]
        for t in state.tasks.values where !t.isStructural { tasks[t.state.rawValue, default: 0] += 1 }
        p.family("hive_tasks", "gauge", "Work tasks by state (forks and plan nodes excluded).")
        for (k, v) in tasks.sorted(by: { $0.key < $1.key }) { p.sample("hive_tasks", [("state", k)], Double(v)) }
        var goals: [String: Int] = [:]
        for g in state.goals.values { goals[g.state.rawValue, default: 0] += 1 }
        p.family("hive_goals", "gauge", "Goals by state.")
        for (k, v) in goals.sorted(by: { $0.key < $1.key }) { p.sample("hive_goals", [("state", k)], Double(v)) }
        var drones: [String: Int] = [:], slots: [String: Int] = [:], busy: [String: Int] = [:]
        for d in state.drones.values {
            drones["\(d.tier.rawValue)|\(d.state.rawValue)", default: 0] += 1
            if d.state == .active { slots[d.tier.rawValue, default: 0] += d.slots }
            busy[d.tier.rawValue, default: 0] += d.running.count
        }
        p.family("hive_drones", "gauge", "Drones by tier and state.")
        for (k, v) in drones.sorted(by: { $0.key < $1.key }) {
            let parts = k.split(separator: "|").map(String.init)
            p.sample("hive_drones", [("tier", parts[0]), ("state", parts[1])], Double(v))
        }
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
        p.histogram("hive_dispatch_latency_seconds", "From a task's creation to its first lease.", dispatchLatency.snapshot)
        if let journal {
            p.single("hive_journal_bytes", "gauge", "Journal size since the last compaction.", Double(journal.size))
            p.histogram("hive_journal_sync_seconds", "Each group commit's fdatasync.", journal.syncLatency.snapshot)
        }
        p.single("hive_event_stream_subscribers", "gauge", "Open event streams (dashboards).", Double(feed.subscriberCount))
        return p.text
    }

    /// A new event stream for `goal` (nil: every goal, and every task too with `allTasks`), starting with a
    /// snapshot: the goal and all its tasks, or the latest 500 goals. Nil when the goal is unknown.
    func events(goal: GoalID?, allTasks: Bool = false) -> EventStream? {
        if let goal, state.goals[goal] == nil { return nil }
        let stream = feed.subscribe(goal: goal, tasks: allTasks)
        if let goal, let g = state.goals[goal] {
            stream.send(event: "goal", data: FeedJSON.goal(g, root: state.tasks[g.root]))
            for t in state.tasks(of: goal).sorted(by: { ($0.depth, $0.index) < ($1.depth, $1.index) }) {
                stream.send(event: "task", data: FeedJSON.task(t))
            }
        } else {
            for g in state.goals.values.sorted(by: { ($0.createdAt, $0.id) < ($1.createdAt, $1.id) }).suffix(500) {
                stream.send(event: "goal", data: FeedJSON.goal(g, root: state.tasks[g.root]))
            }
        }
        stream.send(event: "synced", data: "{}")
        return stream
    }

    private func durable() async {
        if let journal { await journal.waitDurable(lastSeq) }
    }

    private func token() -> String { String(rng.next(), radix: 16) }

    private func publish<T: Encodable>(_ subject: String, _ value: T) {
        guard let data = try? encoder.encode(value) else { return }
        do { try client.publish(subject, Array(data)) } catch {
            log.warn("publish_failed", ["subject": subject, "reason": "\(error)"])
        }
    }

    /// Leases what can run, sends the assignments, and carries out the outbox.
    private func dispatch() {
        for out in lease() {
            do { try client.publish(out.subject, out.assignment.fastJSON, headers: out.traceparent.map { NATSHeaders("traceparent", $0) }) } catch {
                log.warn("publish_failed", ["subject": out.subject, "reason": "\(error)"])
            }
        }
    }

    /// Leases what can run and carries out the outbox; returns the assignments to send.
    private func lease() -> [Outgoing] {
        let leased = state.schedule(now: now) { token() }
        let parked = state.outbox.events
        if !parked.isEmpty { state.outbox.events = [] }
        if !leased.isEmpty || !parked.isEmpty { record(parked + leased.map(\.event)) }
        flushOutbox()
        return leased.map { l in
            let trace = state.goals[l.assignment.goal]?.trace
            let span = trace.map { $0.traceparent(span: $0.spanID("attempt", l.assignment.task, l.assignment.attempt)) }
            return Outgoing(subject: APISubject.assign(l.drone), assignment: l.assignment, traceparent: span)
        }
    }

    private func flushOutbox() {
        guard !state.outbox.isEmpty else { return }
        let out = state.outbox
        state.outbox = Outbox()
        for c in out.cancellations { publish(APISubject.cancelTask(c.drone), CancelTask(task: c.task)) }
        guard !out.finishedGoals.isEmpty else { return }
        let finished = out.finishedGoals.compactMap { state.goals[$0] }
        for g in finished {
            log.info("goal_finished", ["goal": g.id, "state": g.state.rawValue, "tasks": g.taskCount,
                                       "reason": g.reason ?? "-"])
            if let exporter, let view = trace(of: g.id) { exporter.export(view) }
        }
        // Watchers hear of a goal's end only once it is on disk.
        let seq = lastSeq
        let journal = self.journal
        let client = self.client
        let encoder = self.encoder
        Task {
            if let journal { await journal.waitDurable(seq) }
            for g in finished {
                if let data = try? encoder.encode(GoalEvent(goal: g.id, state: g.state, reason: g.reason)) {
                    try? client.publish(APISubject.events(g.id), Array(data))
                }
            }
        }
    }

    // MARK: Drone traffic

    private func handleHello(_ m: NATSMessage) {
        guard let reply = m.reply else { return }
        guard let h = try? JSONDecoder().decode(DroneHello.self, from: Data(m.payload)) else {
            publish(reply, HelloReply(accepted: false, reason: "unreadable hello", heartbeatMillis: state.config.heartbeatMillis))
            return
        }
        guard APISubject.drone(in: m.subject) == h.drone, APISubject.isValidDroneID(h.drone) else {
            rejected("hello from another drone's subject", ["drone": h.drone, "subject": m.subject])
            publish(reply, HelloReply(accepted: false, reason: "a drone says hello on its own subject (hive.v1.drone.<its id>.hello) with an id of letters, digits, - and _",
                                      heartbeatMillis: state.config.heartbeatMillis))
            return
        }
        // A drone issued a credential for one tier announces that tier (a worker's credential is no core drone).
        if let tier = credentials?.tier(of: h.drone), tier != h.tier {
            rejected("hello with another tier than its credential's", ["drone": h.drone, "tier": h.tier.rawValue])
            publish(reply, HelloReply(accepted: false, reason: "this drone's credential was issued for tier \(tier.rawValue); start it with --tier \(tier.rawValue)",
                                      heartbeatMillis: state.config.heartbeatMillis))
            return
        }
        let (answer, events) = state.hello(h, now: now)
        record(events)
        publish(reply, answer)
        log.info("drone_joined", ["drone": h.drone, "name": h.name, "tier": h.tier.rawValue, "slots": h.slots,
                                  "accepted": answer.accepted])
        dispatch()
    }

    private func handleHeartbeat(_ m: NATSMessage) {
        guard let hb = try? JSONDecoder().decode(Heartbeat.self, from: Data(m.payload)) else { return }
        guard APISubject.drone(in: m.subject) == hb.drone else {
            rejected("heartbeat from another drone's subject", ["drone": hb.drone, "subject": m.subject])
            return
        }
        let known = state.heartbeat(hb, now: now)
        if let reply = m.reply { publish(reply, HeartbeatReply(known: known)) }
    }

    private func draining(_ drone: DroneID) {
        // Logged only for a drone that was active: a goodbye naming anything else is ignored, silently.
        if state.draining(drone) { log.info("drone_draining", ["drone": drone]) }
    }

    /// Applies a result; returns the assignments it freed a slot for (the caller sends them).
    func handleResult(_ r: TaskResult, run: SpanReport? = nil) -> [Outgoing] {
        switch state.receive(r, now: now) {
        case .success(let events):
            if let report = run, let goal = state.tasks[r.task]?.goal {
                traces.ran(goal: goal, task: r.task, attempt: r.attempt, report)
            }
            // A refused fork proposal is a failed attempt; the operator hears of it (a drone proposing work it
            // could not run itself is worth a look).
            if r.fork != nil, case .taskFinished(_, _, false, let output, _)? = events.first, let why = output.error {
                rejected("fork refused", ["task": r.task, "drone": r.drone, "why": why])
            }
            record(events)
            return lease()
        case .failure(let why):
            rejected(why.description, kind: why.kind, ["task": r.task, "drone": r.drone, "attempt": r.attempt])
            return []
        }
    }

    /// Logs a message from a drone that was refused: a warning the operator sees, at most one line a second per
    /// reason (a hostile or broken drone can send them as fast as it likes).
    /// `kind` keys the throttle when `reason` carries particulars (ids, numbers) a sender could vary at will.
    private func rejected(_ reason: String, kind: String? = nil, _ fields: KeyValuePairs<String, Any>) {
        let key = kind ?? reason
        let throttle = rejectionLogs[key] ?? {
            guard rejectionLogs.count < 64 else { return otherRejections }
            let t = LogThrottle(intervalMillis: 1_000)
            rejectionLogs[key] = t
            return t
        }()
        guard let suppressed = throttle.admit(now: Monotonic.now()) else { return }
        log.emit(.warn, "drone_message_rejected", fields.map { ($0.key, $0.value) } + [("reason", reason), ("suppressed", suppressed)])
    }

    private func tick() {
        flushFeed()
        let events = state.tick(now: now)
        if !events.isEmpty {
            record(events)
            for e in events {
                if case .taskExpired(let task, let attempt, let reason, _, _) = e {
                    log.warn("task_expired", ["task": task, "attempt": attempt, "reason": reason])
                }
            }
        }
        dispatch()
        if let journal, journal.size > compactAtBytes, !journal.compactionQueued {
            if let e = journal.markGoalNumbersIssued(below: state.nextGoalNumber) { log.error("goal_ids_unreserved", ["reason": e]) }
            journal.compact(state.snapshot())
        }
    }

    // MARK: API

    /// An API call's reply: the body, the status an HTTP client gets, and headers for the bus (module parts).
    struct APIAnswer: Sendable {
        var body: [UInt8]
        var status: Int
        var headers: NATSHeaders? = nil
    }

    private func handleAPI(_ m: NATSMessage, client: NATSClient) async {
        guard let reply = m.reply else { return }
        let verb = m.subject.split(separator: ".").last.map(String.init) ?? ""
        var answer = await api(verb, payload: m.payload, headers: m.headers)
        // A reply the bus cannot carry would be dropped and leave the caller waiting: send why instead.
        let limit = client.maxPayload - Paging.headroom
        if answer.body.count > limit {
            log.warn("reply_too_large", ["verb": verb, "bytes": answer.body.count, "max_payload": client.maxPayload])
            answer = APIAnswer(body: Array((try? encoder.encode(APIError(
                "the \(verb) reply is \(answer.body.count) bytes, more than one bus message carries (max_payload \(client.maxPayload) less \(Paging.headroom))"
            ))) ?? Data()), status: 413)
        }
        do { try client.publish(reply, answer.body, headers: answer.headers) } catch {
            log.warn("publish_failed", ["subject": reply, "reason": "\(error)"])
            if let why = try? encoder.encode(APIError("the \(verb) reply could not be sent: \(error)")) {
                try? client.publish(reply, Array(why))
            }
        }
    }

    /// Bytes one reply may take (the bus's `max_payload` less room for headers); HTTP replies page the same.
    private var replyBudget: Int { Swift.max(client.maxPayload - Paging.headroom, 1024) }

    /// A page of a list as the reply, with the next page's cursor in a header.
    private func paged(_ page: Result<ReplyPage, APIError>) -> APIAnswer {
        switch page {
        case .failure(let e): return APIAnswer(body: Array((try? encoder.encode(e)) ?? Data()), status: 413)
        case .success(let p): return APIAnswer(body: p.body, status: 200, headers: p.next.map { [Paging.cursorHeader: $0] })
        }
    }

    /// One API call (`hive.v1.api.VERB`, or its HTTP route): the reply body, and the status an HTTP client gets
    /// (200, or 400/404 with an `APIError` body).
    /// `principal`: who calls over HTTP (recorded as the approver); nil on the bus.
    func api(_ verb: String, payload: [UInt8], headers: NATSHeaders? = nil, principal: String? = nil) async -> APIAnswer {
        let decoder = JSONDecoder()
        func ref() -> GoalRef? { try? decoder.decode(GoalRef.self, from: Data(payload)) }
        func answer<T: Encodable>(_ value: T, status: Int = 200) -> APIAnswer {
            APIAnswer(body: (try? Array(encoder.encode(value))) ?? [], status: value is APIError && status == 200 ? 400 : status)
        }
        switch verb {
        case "submit":
            // Bounded before decoding: the size, and the nesting a recursive decoder would follow.
            if payload.count > state.config.maxSpecBytes {
                return answer(APIError(SubmitError.violation(.tooLarge(bytes: payload.count, limit: state.config.maxSpecBytes)).description), status: 413)
            }
            if JSONNesting.exceeds(payload, limit: SpecLimits.jsonNesting) {
                return answer(APIError(SubmitError.violation(.nestedTooDeep(limit: SpecLimits.jsonNesting)).description))
            }
            var spec: GoalSpec
            do { spec = prompts.filling(try decoder.decode(GoalSpec.self, from: Data(payload))) } catch {
                return answer(APIError("unreadable goal: \(error)"))
            }
            // The submitter's trace (its `traceparent` header, or one named in the spec) or a new one.
            if let header = headers?["traceparent"], let context = TraceContext(traceparent: header) {
                spec.trace = context
            } else if spec.trace?.isValid != true {
                spec.trace = TraceContext.random(using: &rng)
            }
            do {
                let (id, event) = try state.submit(spec, now: now)
                record([event])
                log.info("goal_accepted", ["goal": id, "tasks": state.goals[id]?.taskCount ?? 0, "priority": spec.priority])
                dispatch()
                // Accepted all the same (a drone may join later), but the submitter hears what no live drone can run.
                let unrunnable = state.waits(of: id, unrunnableOnly: true)
                if let first = unrunnable.first {
                    log.warn("goal_unrunnable", ["goal": id, "task": first.task, "blocker": first.blocker, "reason": first.reason])
                }
                await durable()
                return answer(GoalRef(goal: id, unrunnable: unrunnable))
            } catch {
                return answer(APIError(error.description))
            }
        case "goals":
            guard let request = page(payload) else { return answer(APIError("unreadable page request: send {\"limit\": N, \"cursor\": C}")) }
            let all = state.goals.values.sorted { $0.createdAt == $1.createdAt ? $0.id < $1.id : $0.createdAt < $1.createdAt }
            await durable()
            return list(all, request) { self.summary($0) }
        case "goal", "tasks", "result", "trace", "cancel":
            guard let r = ref(), state.goals[r.goal] != nil else {
                return answer(APIError("unknown goal '\(ref()?.goal ?? "")'"), status: 404)
            }
            if verb == "cancel", let e = state.cancel(goal: r.goal, now: now) {
                record([e])
                dispatch()
            }
            await durable()
            guard let g = state.goals[r.goal] else { return answer(APIError("unknown goal '\(r.goal)'"), status: 404) }
            switch verb {
            case "tasks":
                let memo = BlockerMemo(state)
                return list(state.tasks(of: g.id), PageRequest(limit: r.limit, cursor: r.cursor), memo.view)
            case "trace":
                guard let view = trace(of: g.id) else {
                    return answer(APIError("goal '\(g.id)' has no trace (it was submitted before tracing)"), status: 404)
                }
                return answer(view)
            case "result":
                let all = state.tasks(of: g.id)
                var head = summary(g, tasks: all)
                if g.state == .running { head.waiting = state.waits(of: g.id) }
                head.votes = state.voteViews(of: g.id)  // the answer is the result's own, whole
                let base = GoalResult(goal: head, answer: state.tasks[g.root]?.result?.output,
                                      ledger: GoalLedger(goal: g, tasks: all, now: now), steps: state.stepViews(of: g.id), tasks: [])
                let work = all.filter { !$0.isStructural }
                let offset: Int, limit: Int
                switch (Paging.offset(r.cursor, count: work.count), Paging.limit(r.limit)) {
                case (.success(let o), .success(let l)): (offset, limit) = (o, l)
                case (.failure(let e), _), (_, .failure(let e)): return answer(e)
                }
                let memo = BlockerMemo(state)
                return paged(ReplyPage.result(base, tasks: work[offset...].lazy.map(memo.view), offset: offset, total: work.count,
                                              limit: limit, budget: replyBudget, encoder: encoder))
            default:
                var head = summary(g)
                if g.state == .running { head.waiting = state.waits(of: g.id) }
                (head.answer, head.votes) = (state.tasks[g.root]?.result?.output.map(GoalSummary.clipAnswer), state.voteViews(of: g.id))
                return answer(head)
            }
        case "approve", "deny":
            // Who decided: the HTTP principal, or `operator` on the bus (only operators may publish these verbs).
            guard let d = try? decoder.decode(ApprovalDecision.self, from: Data(payload)) else {
                return answer(APIError("unreadable \(verb) request: send {\"goal\": ID, \"tasks\": [TASK…], \"reason\": TEXT}"))
            }
            let by = principal ?? "operator"
            let result = verb == "approve"
                ? state.approve(goal: d.goal, tasks: d.tasks ?? [], by: by, now: now)
                : state.deny(goal: d.goal, tasks: d.tasks ?? [], by: by, reason: d.reason ?? "", now: now)
            switch result {
            case .failure(let e):
                if case .unknownGoal = e { return answer(APIError(e.description), status: 404) }
                return answer(APIError(e.description), status: 409)
            case .success(let events):
                record(events)
                dispatch()
                await durable()
                let decided = events.compactMap { e -> TaskID? in
                    switch e {
                    case .taskApproved(let t, _, _), .taskDenied(let t, _, _, _): return t
                    default: return nil
                    }
                }
                return answer(ApprovalReply(goal: d.goal, tasks: decided))
            }
        case "module_add":
            let result: Result<ModuleRef, ModuleStoreError>
            if let h = headers, let hash = h[ModuleTransfer.hashHeader] {
                guard let offset = h[ModuleTransfer.offsetHeader].flatMap(Int.init), let size = h[ModuleTransfer.sizeHeader].flatMap(Int.init) else {
                    return answer(APIError("module part: needs integer \(ModuleTransfer.offsetHeader) and \(ModuleTransfer.sizeHeader) headers"))
                }
                result = modules.addPart(hash: hash, offset: offset, size: size, bytes: payload)
            } else {
                result = modules.add(payload)
            }
            switch result {
            case .success(let ref) where ref.received != nil: return answer(ref)
            case .success(let ref):
                log.info("module_added", ["module": ref.module, "bytes": ref.size ?? 0])
                return answer(ref)
            case .failure(let e):
                if e.status == 507 { log.warn("module_refused", ["reason": e.description]) }
                return answer(APIError(e.description), status: e.status)
            }
        case "module_get":
            guard let r = try? decoder.decode(ModuleRef.self, from: Data(payload)), let bytes = modules.get(r.module) else {
                return answer(APIError("unknown module (add it with hive module add FILE.wasm)"), status: 404)
            }
            let offset = Swift.min(Swift.max(r.offset ?? 0, 0), bytes.count)
            let part = bytes[offset..<Swift.min(bytes.count, offset + ModuleTransfer.partSize(maxPayload: client.maxPayload))]
            return APIAnswer(body: Array(part), status: 200, headers: [ModuleTransfer.sizeHeader: String(bytes.count)])
        case "module_rm":
            guard let r = try? decoder.decode(ModuleRef.self, from: Data(payload)) else {
                return answer(APIError("module_rm: send {\"module\": SHA256}"))
            }
            // A running goal that names the module would fail on drones that have not fetched it yet: refuse.
            if let goal = goalNaming(module: r.module) {
                let e = ModuleStoreError.inUse(module: r.module, goal: goal)
                return answer(APIError(e.description), status: e.status)
            }
            switch modules.remove(r.module) {
            case .success(let ref):
                log.info("module_removed", ["module": ref.module, "bytes": ref.size ?? 0])
                return answer(ref)
            case .failure(let e): return answer(APIError(e.description), status: e.status)
            }
        case "modules":
            return answer(modules.list())
        case "drone_add", "drone_revoke":
            guard let credentials else { return answer(APIError(DroneCredentialError.noPrincipals.description), status: 409) }
            guard let r = try? decoder.decode(DroneAdd.self, from: Data(payload)) else {
                return answer(APIError("send {\"name\": NAME, \"tier\": \"edge|worker|core\"}"))
            }
            do throws(DroneCredentialError) {
                if verb == "drone_add" {
                    let issued = try credentials.add(name: r.name, tier: r.tier ?? .worker)
                    log.info("drone_credential_issued", ["drone": issued.name, "tier": issued.tier.rawValue])
                    return answer(DroneCredential(name: issued.name, token: issued.token, tier: issued.tier))
                }
                let gone = try credentials.revoke(name: r.name)
                record(state.revoke(drone: gone.name, now: now))
                dispatch()
                log.warn("drone_credential_revoked", ["drone": gone.name])
                return answer(DroneCredential(name: gone.name, token: "", tier: gone.tier))
            } catch {
                return answer(APIError(error.description), status: 409)
            }
        case "drones":
            guard let request = page(payload) else { return answer(APIError("unreadable page request: send {\"limit\": N, \"cursor\": C}")) }
            let t = now
            return list(state.drones.values.sorted { ($0.tier, $0.name, $0.id) < ($1.tier, $1.name, $1.id) }, request) { DroneView($0, now: t) }
        case "status":
            return answer(status())
        default:
            return answer(APIError("unknown API '\(verb)'"), status: 404)
        }
    }

    /// A running goal that names `module` (a wasm task, or a plan step's verify check), if any.
    private func goalNaming(module: String) -> GoalID? {
        for g in state.goals.values where g.state == .running {
            if g.plan?.steps.contains(where: { $0.spec.verify?.module?.lowercased() == module }) == true { return g.id }
            if state.tasks(of: g.id).contains(where: { $0.input?.module?.lowercased() == module }) { return g.id }
        }
        return nil
    }

    /// A list verb's request: empty or `{}` for the first page.
    private func page(_ payload: [UInt8]) -> PageRequest? {
        payload.allSatisfy({ $0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09 }) ? PageRequest()
            : try? JSONDecoder().decode(PageRequest.self, from: Data(payload))
    }

    /// One page of `all` (as `view` shows each), per `request`.
    private func list<Item, View: Encodable>(_ all: [Item], _ request: PageRequest, _ view: (Item) -> View) -> APIAnswer {
        let offset: Int, limit: Int
        switch (Paging.offset(request.cursor, count: all.count), Paging.limit(request.limit)) {
        case (.success(let o), .success(let l)): (offset, limit) = (o, l)
        case (.failure(let e), _), (_, .failure(let e)):
            return APIAnswer(body: Array((try? encoder.encode(e)) ?? Data()), status: 400)
        }
        return paged(ReplyPage.array(all[offset...].lazy.map(view), offset: offset, total: all.count, limit: limit,
                                     budget: replyBudget, encoder: encoder, what: "item").map(\.page))
    }

    private func summary(_ g: GoalRecord, tasks: [TaskRecord]? = nil) -> GoalSummary {
        var counts: [String: Int] = [:]
        for t in tasks ?? state.tasks(of: g.id) where !t.isStructural { counts[t.state.rawValue, default: 0] += 1 }
        return GoalSummary(g, counts: counts)
    }
}
