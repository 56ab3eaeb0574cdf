#if canImport(Glibc)
import Glibc
#endif
import FoundationEssentials
import HiveCore
import HiveLog
import HiveSystem
import NATSClient
import NATSWire

/// The hot path: the bus subscriptions, drone traffic (hello, heartbeat, goodbye, results), the 50 ms tick, and
/// dispatch (lease what can run, send the assignments), and carrying out what each command did (`carryOut`).
extension ControlService {
    /// Subscribes to drone traffic and the API (one queue group, so several honeycombd could share a bus) and
    /// starts the tick.
    func subscribe() throws {
        let hello = try client.subscribe(APISubject.hellos, queue: "honeycombd")
        let heartbeats = try client.subscribe(APISubject.heartbeats, queue: "honeycombd")
        let byes = try client.subscribe(APISubject.byes, queue: "honeycombd")
        let results = try client.subscribe(APISubject.results, queue: "honeycombd")
        let blobUploads = try client.subscribe(APISubject.blobUploads, queue: "honeycombd")
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
                    guard let r = try? TaskResult.decode(m.payload, decoder: decoder) else {
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
            Task { await self.serve(api, client: c, droneUploads: false) },
            Task { await self.serve(blobUploads, client: c, droneUploads: true) },
            Task {
                while !Task.isCancelled {
                    try? await Task.sleep(for: .milliseconds(50))
                    self.tick()
                }
            },
        ]
    }

    /// Ticks are 50 ms apart; one 250 ms after the last means honeycombd was stalled.
    static let lateTickNanos: UInt64 = 250_000_000

    private func token() -> String { String(rng.next(), radix: 16) }

    private func publish<T: Encodable>(_ subject: String, _ value: T) {
        guard let data = try? encoder.encode(value) else { return }
        do { try client.publish(subject, Array(data)) } catch {
            log.warn("publish_failed", ["subject": subject, "reason": "\(error)"])
        }
    }

    /// Leases what can run and sends the assignments.
    func dispatch() {
        for out in lease() {
            do { try client.publish(out.subject, out.assignment.fastJSON, headers: out.traceparent.map { NATSHeaders("traceparent", $0) }) } catch {
                log.warn("publish_failed", ["subject": out.subject, "reason": "\(error)"])
            }
        }
    }

    /// Leases what can run and journals the leases; returns the assignments to send.
    func lease() -> [Outgoing] {
        let fx = state.schedule(now: now) { token() }
        carryOut(fx)
        return fx.assignments.map { l in
            let trace = state.goals[l.assignment.goal]?.trace
            let span = trace.map { $0.traceparent(span: $0.spanID("attempt", l.assignment.task, l.assignment.attempt)) }
            return Outgoing(subject: APISubject.assign(l.drone), assignment: l.assignment, traceparent: span)
        }
    }

    /// Carries out what one command did: journals its events, stops the tasks it cancelled on their drones, and
    /// reports the goals it ended (log, trace export, and once on disk, the watchers' event). Assignments are the
    /// caller's to send (`lease` returns them: the result loop publishes them itself, `dispatch` for the others).
    func carryOut(_ fx: ControlEffects) {
        record(fx.events)
        for c in fx.cancellations { publish(APISubject.cancelTask(c.drone), CancelTask(task: c.task)) }
        guard !fx.finishedGoals.isEmpty else { return }
        let finished = fx.finishedGoals.compactMap { state.goals[$0] }
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
        let (answer, fx) = state.hello(h, now: now)
        carryOut(fx)
        publish(reply, answer)
        log.info("drone_joined", ["drone": h.drone, "name": h.name, "tier": h.tier.rawValue, "slots": h.slots,
                                  "accepted": answer.accepted])
        dispatch()
    }

    private func handleHeartbeat(_ m: NATSMessage) {
        guard let hb = Heartbeat.decode(m.payload) else { return }
        guard APISubject.drone(in: m.subject) == hb.drone else {
            rejected("heartbeat from another drone's subject", ["drone": hb.drone, "subject": m.subject])
            return
        }
        let (known, fx) = state.heartbeat(hb, now: now)
        carryOut(fx)
        if let reply = m.reply {
            do { try client.publish(reply, HeartbeatReply(known: known).fastJSON) } catch {
                log.warn("publish_failed", ["subject": reply, "reason": "\(error)"])
            }
        }
    }

    private func draining(_ drone: DroneID) {
        // Logged only for a drone that was active: a goodbye naming anything else is ignored, silently.
        if state.draining(drone) { log.info("drone_draining", ["drone": drone]) }
    }

    /// Applies a result; returns the assignments it freed a slot for (the caller sends them).
    func handleResult(_ received: TaskResult, run: SpanReport? = nil) -> [Outgoing] {
        var r = received
        // An output blob is the drone's claim: it must name a blob honeycombd holds, at its real size.
        if let claimed = r.outputBlob {
            if let size = blobs.size(of: claimed.blob) {
                r.outputBlob = StoredBlob(blob: claimed.blob, size: size)
            } else {
                r.outputBlob = nil
                r.outcome = r.outcome == .released ? .released : .failed
                r.error = "the result names output blob '\(claimed.blob.prefix(80))', which the drone did not upload"
            }
        }
        switch state.receive(r, now: now) {
        case .success(let fx):
            if let report = run, let goal = state.tasks[r.task]?.goal {
                traces.ran(goal: goal, task: r.task, attempt: r.attempt, report)
            }
            // A refused fork proposal is a failed attempt; the operator hears of it (a drone proposing work it
            // could not run itself is worth a look).
            if r.fork != nil, case .taskFinished(let f)? = fx.events.first, !f.succeeded, let why = f.output.error {
                rejected("fork refused", ["task": r.task, "drone": r.drone, "why": why])
            }
            carryOut(fx)
            return lease()
        case .failure(let why):
            rejected(why.description, kind: why.kind, ["task": r.task, "drone": r.drone, "attempt": r.attempt])
            return []
        }
    }

    /// Logs a message from a drone that was refused: a warning the operator sees, at most one line a second per
    /// reason (a hostile or broken drone can send them as fast as it likes).
    /// `kind` keys the throttle when `reason` carries particulars (ids, numbers) a sender could vary at will.
    func rejected(_ reason: String, kind: String? = nil, _ fields: KeyValuePairs<String, Any>) {
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
        if let frames = changes.frames(state: state, feed: feed) { feed.publish(frames) }
        // A tick that comes late means honeycombd itself was stalled (its threads starved on a busy machine, or
        // long work on the actor): heartbeats that arrived meanwhile may still be queued behind this tick, so it
        // judges no drone lost; the next one does, after them. Only one tick in a row skips, so a honeycombd that
        // is always late still finds dead drones, one tick later.
        let tickAt = Monotonic.now()
        let late = Monotonic.elapsed(from: lastTickAt, to: tickAt) > Self.lateTickNanos
        lastTickAt = tickAt
        let judge = !late || skippedDroneJudgement
        skippedDroneJudgement = !judge
        let fx = state.tick(now: now, judgeDrones: judge)
        if !fx.isEmpty {
            carryOut(fx)
            for e in fx.events {
                if case .taskExpired(let x) = e {
                    log.warn("task_expired", ["task": x.task, "attempt": x.attempt, "reason": x.reason])
                }
            }
        }
        dispatch()
        if let journal, journal.shouldCompact(threshold: compactAtBytes) {
            if let e = journal.markGoalNumbersIssued(below: state.nextGoalNumber) { log.error("goal_ids_unreserved", ["reason": e]) }
            journal.compact(state.snapshot())
        }
    }
}
