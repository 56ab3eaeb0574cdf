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
/// One actor, its jobs in files of their own: this one holds the state, recovery and journaling (`record`); drone
/// traffic, the tick and dispatch (the hot path) are in `ControlService+Drones`; the API verbs in
/// `ControlService+API` (`handle`, whichever transport asked) and their bus edge in `ControlService+BusAPI`;
/// what `/metrics` shows in `ControlMetrics`; event streams in `FeedChanges` and `EventFeed`; traces in
/// `TraceAssembler` (HiveCore).
///
/// An actor, so every state change is serialized. Drone traffic (results, heartbeats) and API requests arrive
/// on subscriptions whose consumer tasks decode JSON outside the actor and call in. Dispatch never waits for the
/// disk: a lease that is lost in a crash is voided on restart anyway. Replies that tell a client something
/// happened (a goal accepted, a goal's state) are sent only once the journal holds it.
public actor ControlService {
    let state: ControlState
    let journal: (any JournalStore)?
    let client: NATSClient
    let log = Log("scheduler")
    let encoder: JSONEncoder
    /// The state machine's clock: wall-clock milliseconds since the Unix epoch, read once at start and then
    /// advanced by the monotonic clock (so within a run it never jumps, and times persisted in the journal mean
    /// the same thing after a restart). Never earlier than any time recovered from the journal.
    let clock: ControlClock
    var lastSeq: UInt64 = 0
    var rng = SystemRandomNumberGenerator()
    var consumers: [Task<Void, Never>] = []
    /// Journal size that triggers compaction.
    let compactAtBytes: Int
    /// The largest goal spec accepted (`max_spec_bytes`): each transport's edge checks it before decoding a spec.
    nonisolated let maxSpecBytes: Int
    /// Builds the `hive.v1.api.status` answer (the control plane knows the broker mode and start time).
    let status: @Sendable () -> StatusReply
    /// Role frames filled into submitted plans.
    let prompts: PromptLibrary
    /// WebAssembly modules by SHA-256.
    let modules: ModuleStore
    /// Task inputs and outputs too large for one message, by SHA-256.
    let blobs: BlobStore
    /// Drone credentials issued at run time (`drone_add`/`drone_revoke`); nil without principals.
    let credentials: DroneCredentials?
    /// Live changes for event-stream subscribers, and what changed since the last tick (only while subscribed).
    nonisolated let feed = EventFeed()
    var changes = FeedChanges()
    /// One log throttle per kind of refused drone message (bounded: reasons are a handful of kinds).
    var rejectionLogs: [String: LogThrottle] = [:]
    /// When the last tick ran (`Monotonic`), and whether it left lost drones unjudged (see `tick`).
    var lastTickAt = Monotonic.now()
    var skippedDroneJudgement = false
    /// Shared by every kind past the first 64 (there are a handful; a bound all the same).
    let otherRejections = LogThrottle(intervalMillis: 1_000)
    /// Counters and histograms for `/metrics` (since this process started).
    var counters = ServiceCounters()
    nonisolated let dispatchLatency = Histogram()
    /// Attempt timings and drones' run spans for traces.
    var traces = TraceLog()
    /// Where finished goals' traces go (OTLP/HTTP JSON), if anywhere.
    let exporter: OTLPExporter?

    /// An assignment to send: its subject, and the `traceparent` header naming its attempt's span.
    struct Outgoing {
        var subject: String
        var assignment: Assignment
        var traceparent: String?
    }

    init(client: NATSClient, journal: (any JournalStore)?, dataDirectory: String? = nil, recovery: JournalRecovery?, config: ControlConfig, compactAtBytes: Int,
         prompts: PromptLibrary, exporter: OTLPExporter?, moduleQuota: ModuleQuota = ModuleQuota(),
         blobQuota: BlobQuota = BlobQuota(), credentials: DroneCredentials? = nil, status: @escaping @Sendable () -> StatusReply) {
        self.credentials = credentials
        self.client = client
        self.exporter = exporter
        self.prompts = prompts
        modules = ModuleStore(dataDirectory: dataDirectory, quota: moduleQuota)
        blobs = BlobStore(dataDirectory: dataDirectory, quota: blobQuota)
        self.status = status
        self.journal = journal
        self.compactAtBytes = compactAtBytes
        maxSpecBytes = config.maxSpecBytes
        state = recovery?.replayed?.state ?? ControlState(config: config)
        encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        if let recovery, recovery.replayed == nil {
            if let s = recovery.snapshot { state.restore(s) }
            for e in recovery.events { state.apply(e) }  // a replay: what the events once had carried out is done
        }
        clock = ControlClock(notBefore: state.latestTime)
    }

    /// The state machine's clock (see `clock`).
    var now: Int64 { clock.now() }

    /// Recovers, subscribes and starts the timers.
    static func start(client: NATSClient, journal: (any JournalStore)?, dataDirectory: String? = nil, recovery: JournalRecovery?, config: ControlConfig,
                      compactAtBytes: Int = 64 << 20, prompts: PromptLibrary = PromptLibrary(), exporter: OTLPExporter? = nil,
                      moduleQuota: ModuleQuota = ModuleQuota(), blobQuota: BlobQuota = BlobQuota(), credentials: DroneCredentials? = nil,
                      status: @escaping @Sendable () -> StatusReply) async throws -> ControlService {
        let service = ControlService(client: client, journal: journal, dataDirectory: dataDirectory, recovery: recovery, config: config,
                                     compactAtBytes: compactAtBytes, prompts: prompts, exporter: exporter,
                                     moduleQuota: moduleQuota, blobQuota: blobQuota, credentials: credentials, status: status)
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
        carryOut(voided)
        log.info("recovered", ["goals": state.goals.count, "tasks": state.tasks.count,
                               "running_goals": state.goals.values.filter { !$0.state.isFinal }.count,
                               "requeued": voided.events.count, "from_snapshot": recovery.replayed?.fromSnapshot ?? (recovery.snapshot != nil),
                               "events": recovery.replayed?.events ?? recovery.events.count])
    }

    /// Stops consuming (the caller drains the bus connection) and ends event streams.
    func stop() {
        for t in consumers { t.cancel() }
        feed.closeAll()
    }

    // MARK: Effects

    /// Journals events (without waiting) and remembers the sequence to wait on before telling clients.
    func record(_ events: [JournalEvent]) {
        guard !events.isEmpty else { return }
        observe(events)
        guard let journal else { return }
        if case .goalSubmitted = events[0], let e = journal.reserveGoalNumber(state.nextGoalNumber, block: Journal.goalNumberBlock) {
            log.error("goal_ids_unreserved", ["reason": e])
        }
        lastSeq = journal.append(events)
    }

    /// Counts what the events say for `/metrics`, times attempts for traces, logs approval decisions, and marks
    /// what changed for event-stream subscribers. Runs for every journaled event: each event's task and goal are
    /// looked up once.
    private func observe(_ events: [JournalEvent]) {
        let watching = feed.isActive
        for e in events {
            var about: (task: TaskID, goal: GoalID)?
            if let task = e.aboutTask, let goal = state.tasks[task]?.goal { about = (task, goal) }
            counters.count(e, state: state, dispatchLatency: dispatchLatency)
            if let about { traces.observe(e, goal: about.goal) }
            logApproval(e, goal: about?.goal)
            if watching { changes.mark(e, about: about, state: state, feed: feed) }
        }
    }

    /// A line for each task that waits for approval, and for each decision.
    private func logApproval(_ e: JournalEvent, goal: GoalID?) {
        guard let goal else { return }
        switch e {
        case .taskAwaitingApproval(let task, let request, _):
            log.info("task_awaiting_approval", ["goal": goal, "task": task, "runs": request.runs,
                                                "drone": request.drone ?? "-", "proposed_by": request.proposedBy, "why": request.why])
        case .taskApproved(let task, let by, _): log.info("task_approved", ["goal": goal, "task": task, "by": by])
        case .taskDenied(let task, let by, let reason, _): log.info("task_denied", ["goal": goal, "task": task, "by": by, "reason": reason])
        default: break
        }
    }

    /// Waits until everything journaled so far is durable (a reply that says something happened waits for it):
    /// false when the journal could not make it so in time (a JetStream stream without quorum).
    @discardableResult
    func durable() async -> Bool {
        guard let journal else { return true }
        return await journal.waitDurable(lastSeq)
    }

    /// A goal's spans (`TraceAssembler`), or nil for goals from before tracing.
    func trace(of goal: GoalID) -> TraceView? {
        guard let g = state.goals[goal] else { return nil }
        return TraceAssembler.trace(of: g, tasks: state.tasks(of: goal), attempts: traces.timings(of: goal),
                                    droneName: { self.state.drones[$0]?.name })
    }

    /// The control plane's metrics in the Prometheus text format (the broker's are added by the caller).
    func metrics() -> String {
        ControlMetrics.text(state: state, counters: counters, dispatchLatency: dispatchLatency.snapshot, journal: journal,
                            eventStreams: feed.subscriberCount)
    }

    /// A new event stream for `goal` (nil: every goal, and every task too with `allTasks`), starting with a
    /// snapshot (`EventFeed.open`). Nil when the goal is unknown.
    func events(goal: GoalID?, allTasks: Bool = false) -> EventStream? {
        feed.open(goal: goal, allTasks: allTasks, state: state)
    }
}
