#if canImport(Glibc)
import Glibc
#endif
import FoundationEssentials
import HiveCore
import HiveLog
import NATSClient

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
    private let clockStart = ContinuousClock.now
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

    init(client: NATSClient, journal: Journal?, recovery: JournalRecovery?, config: ControlConfig, compactAtBytes: Int,
         prompts: PromptLibrary, status: @escaping @Sendable () -> StatusReply) {
        self.client = client
        self.prompts = prompts
        modules = ModuleStore(dataDirectory: journal?.directory)
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
    }

    /// Monotonic milliseconds (the state machine's clock).
    private var now: Int64 {
        let d = ContinuousClock.now - clockStart
        return d.components.seconds * 1000 + d.components.attoseconds / 1_000_000_000_000_000 + 1
    }

    /// Recovers, subscribes and starts the timers.
    static func start(client: NATSClient, journal: Journal?, recovery: JournalRecovery?, config: ControlConfig,
                      compactAtBytes: Int = 64 << 20, prompts: PromptLibrary = PromptLibrary(),
                      status: @escaping @Sendable () -> StatusReply) async throws -> ControlService {
        let service = ControlService(client: client, journal: journal, recovery: recovery, config: config,
                                     compactAtBytes: compactAtBytes, prompts: prompts, status: status)
        await service.recover(recovery)
        try await service.subscribe()
        return service
    }

    private func recover(_ recovery: JournalRecovery?) {
        guard let recovery else { return }
        if let why = recovery.truncationReason {
            log.warn("journal_tail_cut", ["bytes": recovery.truncatedBytes, "reason": why])
        }
        let voided = state.voidLeases(now: now)
        record(voided)
        log.info("recovered", ["goals": state.goals.count, "tasks": state.tasks.count,
                               "running_goals": state.goals.values.filter { !$0.state.isFinal }.count,
                               "requeued": voided.count, "from_snapshot": recovery.snapshot != nil,
                               "events": recovery.events.count])
    }

    private func subscribe() throws {
        let hello = try client.subscribe(APISubject.droneHello, queue: "honeycombd")
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
                        Log("scheduler").warn("result_rejected", ["reason": "unreadable result", "bytes": m.payload.count])
                        continue
                    }
                    // The hot path: decide, then encode and send the next assignments without re-entering.
                    for (subject, assignment) in self.handleResult(r) {
                        try? c.publish(subject, assignment.fastJSON)
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

    /// Stops consuming (the caller drains the bus connection).
    func stop() {
        for t in consumers { t.cancel() }
    }

    // MARK: Effects

    /// Journals events (without waiting) and remembers the sequence to wait on before telling clients.
    private func record(_ events: [JournalEvent]) {
        guard let journal, !events.isEmpty else { return }
        lastSeq = journal.append(events)
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
        for (subject, a) in lease() {
            do { try client.publish(subject, a.fastJSON) } catch {
                log.warn("publish_failed", ["subject": subject, "reason": "\(error)"])
            }
        }
    }

    /// Leases what can run and carries out the outbox; returns the assignments to send.
    private func lease() -> [(String, Assignment)] {
        let leased = state.schedule(now: now) { token() }
        if !leased.isEmpty { record(leased.map(\.event)) }
        flushOutbox()
        return leased.map { (APISubject.assign($0.drone), $0.assignment) }
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
        let answer = state.hello(h, now: now)
        publish(reply, answer)
        log.info("drone_joined", ["drone": h.drone, "name": h.name, "tier": h.tier.rawValue, "slots": h.slots,
                                  "accepted": answer.accepted])
        dispatch()
    }

    private func handleHeartbeat(_ m: NATSMessage) {
        guard let hb = try? JSONDecoder().decode(Heartbeat.self, from: Data(m.payload)) else { return }
        let known = state.heartbeat(hb, now: now)
        if let reply = m.reply { publish(reply, HeartbeatReply(known: known)) }
    }

    private func draining(_ drone: DroneID) {
        state.draining(drone)
        log.info("drone_draining", ["drone": drone])
    }

    /// Applies a result; returns the assignments it freed a slot for (the caller sends them).
    func handleResult(_ r: TaskResult) -> [(String, Assignment)] {
        switch state.receive(r, now: now) {
        case .success(let events):
            record(events)
            return lease()
        case .failure(let why):
            log.warn("result_rejected", ["task": r.task, "drone": r.drone, "attempt": r.attempt, "reason": why.description])
            return []
        }
    }

    private func tick() {
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
        if let journal, journal.size > compactAtBytes {
            journal.compact(state.snapshot())
        }
    }

    // MARK: API

    private func handleAPI(_ m: NATSMessage, client: NATSClient) async {
        guard let reply = m.reply else { return }
        let verb = m.subject.split(separator: ".").last.map(String.init) ?? ""
        let decoder = JSONDecoder()
        func ref() -> GoalRef? { try? decoder.decode(GoalRef.self, from: Data(m.payload)) }
        func answer<T: Encodable>(_ value: T) { publish(reply, value) }
        switch verb {
        case "submit":
            let spec: GoalSpec
            do { spec = prompts.filling(try decoder.decode(GoalSpec.self, from: Data(m.payload))) } catch {
                return answer(APIError("unreadable goal: \(error)"))
            }
            do {
                let (id, event) = try state.submit(spec, now: now)
                record([event])
                log.info("goal_accepted", ["goal": id, "tasks": state.goals[id]?.taskCount ?? 0, "priority": spec.priority])
                dispatch()
                await durable()
                answer(GoalRef(goal: id))
            } catch {
                answer(APIError(error.description))
            }
        case "goals":
            let all = state.goals.values.sorted { $0.createdAt == $1.createdAt ? $0.id < $1.id : $0.createdAt < $1.createdAt }
            await durable()
            answer(all.map { summary($0) })
        case "goal", "tasks", "result", "cancel":
            guard let r = ref(), state.goals[r.goal] != nil else {
                return answer(APIError("unknown goal '\(ref()?.goal ?? "")'"))
            }
            if verb == "cancel", let e = state.cancel(goal: r.goal, now: now) {
                record([e])
                dispatch()
            }
            await durable()
            guard let g = state.goals[r.goal] else { return answer(APIError("unknown goal '\(r.goal)'")) }
            switch verb {
            case "tasks": answer(state.tasks(of: g.id).map(TaskView.init))
            case "result":
                let all = state.tasks(of: g.id)
                answer(GoalResult(goal: summary(g, tasks: all), answer: state.tasks[g.root]?.result?.output,
                                  ledger: GoalLedger(goal: g, tasks: all, now: now), steps: state.stepViews(of: g.id),
                                  tasks: all.filter { !$0.isStructural }.map(TaskView.init)))
            default: answer(summary(g))
            }
        case "module_add":
            let result: Result<ModuleRef, APIError>
            if let h = m.headers, let hash = h[ModuleTransfer.hashHeader] {
                guard let offset = h[ModuleTransfer.offsetHeader].flatMap(Int.init), let size = h[ModuleTransfer.sizeHeader].flatMap(Int.init) else {
                    return answer(APIError("module part: needs integer \(ModuleTransfer.offsetHeader) and \(ModuleTransfer.sizeHeader) headers"))
                }
                result = modules.addPart(hash: hash, offset: offset, size: size, bytes: m.payload)
            } else {
                result = modules.add(m.payload)
            }
            switch result {
            case .success(let ref) where ref.received != nil: answer(ref)
            case .success(let ref):
                log.info("module_added", ["module": ref.module, "bytes": ref.size ?? 0])
                answer(ref)
            case .failure(let e): answer(e)
            }
        case "module_get":
            guard let r = try? decoder.decode(ModuleRef.self, from: Data(m.payload)), let bytes = modules.get(r.module) else {
                return answer(APIError("unknown module (add it with hive module add FILE.wasm)"))
            }
            let offset = Swift.min(Swift.max(r.offset ?? 0, 0), bytes.count)
            let part = bytes[offset..<Swift.min(bytes.count, offset + ModuleTransfer.partSize(maxPayload: client.maxPayload))]
            do {
                try client.publish(reply, Array(part), headers: [ModuleTransfer.sizeHeader: String(bytes.count)])
            } catch { log.warn("publish_failed", ["subject": reply, "reason": "\(error)"]) }
        case "drones":
            let t = now
            answer(state.drones.values.sorted { ($0.tier, $0.name) < ($1.tier, $1.name) }.map { DroneView($0, now: t) })
        case "status":
            // One subscription serves every API verb: a second one in the same queue group would split requests.
            answer(status())
        default:
            answer(APIError("unknown API '\(verb)'"))
        }
    }

    private func summary(_ g: GoalRecord, tasks: [TaskRecord]? = nil) -> GoalSummary {
        var counts: [String: Int] = [:]
        for t in tasks ?? state.tasks(of: g.id) where !t.isStructural { counts[t.state.rawValue, default: 0] += 1 }
        return GoalSummary(g, counts: counts)
    }
}
