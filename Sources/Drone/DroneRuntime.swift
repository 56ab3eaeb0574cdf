#if canImport(Glibc)
import Glibc
#endif
import Foundation
import HiveCore
import HiveLog
import HiveProcess
import HiveSystem
import NATSClient
import NATSWire

/// How a drone presents itself and what it may do.
public struct DroneOptions: Sendable {
    public var bus: NATSClientOptions
    public var name: String
    public var tier: Tier
    public var slots: Int
    public var backends: [any Backend]
    /// The drone's id on the bus (`hive.v1.drone.<id>.…`): the name its credential was issued for. Nil: its name
    /// plus a random suffix (drones sharing one credential, e.g. several on one host under the default name).
    public var id: DroneID?
    /// Time given to running tasks on SIGTERM before they are released back to the hive.
    public var shutdownGraceMillis = 10_000
    /// The longest a task may run here (`--max-task-ms`), whatever timeout honeycombd sent: an assignment's
    /// `timeout_ms` is clamped to 1…this before any backend sees it.
    public var maxTaskMillis = 3_600_000
    /// Assignments taken in one message and results sent in one (`--batch`, `DroneBatch`): asked for in the hello,
    /// used for results only up to what honeycombd's reply allows. 1: one per message, as drones before lists.
    public var batch = DroneBatch.defaultDroneBatch
    /// The largest WebAssembly module this drone fetches (honeycombd's own bound is 64 MiB).
    public var maxModuleBytes = 64 << 20
    /// The largest blob this drone fetches as a task's input or uploads as its output (`--max-blob-bytes`).
    public var maxBlobBytes = 64 << 20
    /// Where blob inputs come from (`--blob-cache-mb`, `--max-blob-bytes`): a model or agent task's `prompt_blob` is
    /// resolved through it before its backend runs. The default one is connected to nothing (such a task fails).
    public var blobInputs = BlobInputs()
    /// Exec commands this drone's operator declares side-effecting (`--side-effects`): the drone advertises
    /// `effect:exec:<path>` for each (under every alias it advertises `exec:<path>` for), and honeycombd parks
    /// such tasks in `awaiting_approval` until an operator approves them.
    public var sideEffects: [String] = []
    /// Where agent tasks' tools come from (the MCP servers of `--mcp`, started by `MCPServers.start`); closed when
    /// the drone stops. Their tools are advertised by the `AgentBackend` that calls them (`tool:<name>`, and
    /// `effect:tool:<name>` for a side-effecting one), so a drone without a model advertises none.
    public var toolSources: [any ToolSource] = []

    /// The `--side-effects` paths that are not allowed exec commands (compared by canonical path): declaring
    /// a command this drone may not run would mean nothing, so the drone refuses to start with them.
    public static func sideEffectsNotAllowed(_ effects: [String], allowed: [String]) -> [String] {
        let allowedCanonical = Set(allowed.map(ExecBackend.canonical))
        return effects.filter { !allowedCanonical.contains(ExecBackend.canonical($0)) }
    }

    public init(bus: NATSClientOptions, name: String, tier: Tier, slots: Int, backends: [any Backend]) {
        self.bus = bus
        self.name = name
        self.tier = tier
        self.slots = slots
        self.backends = backends
    }
}

/// A drone: announces itself, heartbeats, runs leased tasks concurrently up to its slots, reports results.
///
/// Failures are honeycombd's business: a drone never retries a task itself; it reports what happened (or
/// nothing, if it dies) and the control plane re-dispatches. After a lost connection the NATS client
/// reconnects and resubscribes; if honeycombd no longer knows the drone (restart, or marked lost), the next
/// heartbeat says so and the drone announces itself again.
public actor DroneRuntime {
    public nonisolated let id: DroneID
    /// This process's `DroneHello.instance` (honeycombd tells a restart from a re-announcement by it).
    private let instance: String
    private let options: DroneOptions
    private let client: NATSClient
    private let backends: [String: any Backend]
    private let log = Log("drone")
    /// A task's run on this drone, from its assignment until its backend has ended.
    private struct Slot {
        let assignment: Assignment
        let run: TaskRun
    }
    /// Every run whose backend has not ended yet, by a number of its own: these hold the slots. A run whose outcome
    /// was reported (a timeout) or that was cancelled stays here until its backend has actually stopped.
    private var slots: [UInt64: Slot] = [:]
    private var nextSlot: UInt64 = 0
    /// Tasks whose outcome is still to be reported, and the slot each runs in: a second assignment of one of
    /// these is refused (released), never run alongside.
    private var running: [TaskID: UInt64] = [:]
    /// Run span IDs (a generator seeded once: one ID per task, no system call each).
    private var spanIDs = SplitMix64(seed: UInt64.random(in: 1...UInt64.max))
    /// Sends the heartbeats, from a thread of its own (see `HeartbeatSender`: never late for a busy pool).
    private let heartbeat: HeartbeatSender
    /// A hello is in flight after honeycombd said it does not know this drone (one at a time, however many
    /// heartbeat replies say so meanwhile).
    private var rejoining = false
    /// `reannounce`: one at a time; another asked for meanwhile; when the last one went.
    private var reannouncing = false
    private var reannounceAgain = false
    private var lastReannounce: ContinuousClock.Instant?
    private var draining = false
    private var consumers: [Task<Void, Never>] = []
    private let encoder = JSONEncoder()
    /// Results sent in one message: the least of `--batch` and honeycombd's `HelloReply.batch` (1: one each).
    private var resultBatch = 1
    /// Results waiting to go out together: sent when full, or by a flush queued behind the actor's work in hand, so
    /// the results of runs that end together share a message and a lone result waits for no timer.
    private var outbox: [TaskResult] = []
    private var outboxFlushQueued = false

    private init(id: DroneID, options: DroneOptions, client: NATSClient) {
        var rng = SystemRandomNumberGenerator()
        self.id = id
        instance = String(rng.next(), radix: 36)
        self.options = options
        self.client = client
        backends = Dictionary(options.backends.map { ($0.kind, $0) }) { first, _ in first }
        heartbeat = HeartbeatSender(client: client, drone: id, replySubject: Self.heartbeatInbox(id), periodMillis: 1_000)
    }

    /// Where honeycombd's answers to heartbeats come (under the drone's own inbox prefix, which its credential may read).
    private static func heartbeatInbox(_ id: DroneID) -> String { "_INBOX.\(id).heartbeat" }

    /// Connects (waiting for the bus if needed), announces itself and starts taking tasks.
    public static func start(_ options: DroneOptions) async throws -> DroneRuntime {
        var rng = SystemRandomNumberGenerator()
        let id = options.id ?? "\(options.name.filter { $0.isASCII && ($0.isLetter || $0.isNumber) || $0 == "-" || $0 == "_" }.prefix(48))-\(String(rng.next() % 0xFFFFFF, radix: 16))"
        // Before any work: exec tasks a killed predecessor under this id left running would run twice.
        ProcessGroups.adopt(drone: id)
        var bus = options.bus
        bus.name = "drone-\(options.name)"
        bus.retryOnFailedConnect = true
        bus.maxReconnectAttempts = -1
        // Replies to this drone's requests come on its own inboxes, the only ones its credential may read.
        bus.inboxPrefix = "_INBOX.\(id)"
        let client = try await NATSClient.connect(bus)
        let drone = DroneRuntime(id: id, options: options, client: client)
        try await drone.begin()
        return drone
    }

    private func begin() async throws {
        let tasks = try client.subscribe(APISubject.assign(id))
        let cancels = try client.subscribe(APISubject.cancelTask(id))
        let heartbeatReplies = try client.subscribe(Self.heartbeatInbox(id))
        try await client.flush()
        let decoder = JSONDecoder()
        let events = client.events
        consumers = [
            // The bus's node died or restarted: what an operator looks for in a drone's log during a failover.
            Task { [log] in
                for await e in events {
                    switch e {
                    case .disconnected(let why): log.warn("bus_disconnected", ["reason": why, "effect": "reconnecting; running tasks go on"])
                    case .reconnected(let server): log.info("bus_reconnected", ["server": server])
                    default: break
                    }
                }
            },
            Task {
                for await m in tasks { self.received(DroneBatch.assignments(m.payload, limit: self.options.batch), traceparent: m.headers?["traceparent"]) }
            },
            Task {
                for await m in cancels {
                    guard let c = try? decoder.decode(CancelTask.self, from: Data(m.payload)) else { continue }
                    self.cancel(c.task)
                }
            },
            Task {
                for await m in heartbeatReplies {
                    guard let answer = try? decoder.decode(HeartbeatReply.self, from: Data(m.payload)) else { continue }
                    await self.heartbeatAnswered(answer)
                }
            },
        ]
        await announce()
        heartbeat.start()
    }

    private var hello: DroneHello {
        var caps = Set<String>()
        for b in backends.values {
            caps.insert("backend:\(b.kind)")
            caps.formUnion(b.capabilities)
        }
        let effects = Set(options.sideEffects.map(ExecBackend.canonical))
        for cap in caps where cap.hasPrefix("exec:") && effects.contains(ExecBackend.canonical(String(cap.dropFirst(5)))) {
            caps.insert("effect:" + cap)
        }
        let host = HostFacts(hostname: HostName.current, os: "linux",
                             cpus: ProcessInfo.processInfo.activeProcessorCount,
                             memoryMB: Int(ProcessInfo.processInfo.physicalMemory / (1 << 20)))
        let models = backends.values.flatMap(\.models)
        let tools = backends.values.flatMap(\.tools).map(ToolAdvert.init).sorted { $0.name < $1.name }
        return DroneHello(drone: id, name: options.name, tier: options.tier, slots: options.slots,
                          capabilities: caps.sorted(), host: host, version: HiveVersion.current,
                          models: models.isEmpty ? nil : models, instance: instance, tools: tools.isEmpty ? nil : tools,
                          batch: options.batch >= 2 ? options.batch : nil)
    }

    /// Announces the drone again (its capabilities changed: a model's hash became known, a tool source's list
    /// changed), at most once per heartbeat period: changes that come meanwhile are in the next hello, which is
    /// built when it is sent. An MCP server that changes its tools at every listing (and says so after each) made
    /// one hello per listing, each a `drone_joined` line in honeycombd's log.
    public func reannounce() async {
        if reannouncing {
            reannounceAgain = true
            return
        }
        reannouncing = true
        defer { reannouncing = false }
        repeat {
            if let last = lastReannounce {
                let wait = last + heartbeat.period - ContinuousClock.now
                if wait > .zero { try? await Task.sleep(for: wait) }  // pacing re-announcements, not a synchronization
            }
            reannounceAgain = false
            lastReannounce = ContinuousClock.now
            await announce()
        } while reannounceAgain && !draining
    }

    /// A WebAssembly module's bytes from honeycombd's store, by SHA-256, in as many parts as it takes
    /// (`PartDownload`). The caller checks the hash.
    public nonisolated func fetchModule(_ hash: String) async throws -> [UInt8] {
        try await fetchParts(APISubject.moduleGet, PartDownload.Item(noun: "module", name: hash, limitFlag: ""),
                             sizeHeader: ModuleTransfer.sizeHeader, limit: options.maxModuleBytes) { ModuleRef(module: hash, offset: $0) }
    }

    /// A blob's bytes (a task's input) from honeycombd's store, by name (`sha256:HEX`). The caller checks the hash.
    /// Every part of a blob carries its size header, so a reply without one is honeycombd's error, whatever the
    /// blob's own bytes look like.
    public nonisolated func fetchBlob(_ name: String) async throws -> [UInt8] {
        try await fetchParts(APISubject.blobGet, PartDownload.Item(noun: "blob", name: name, limitFlag: "--max-blob-bytes"),
                             sizeHeader: BlobTransfer.sizeHeader, limit: options.maxBlobBytes, sizeRequired: true) { BlobRef(blob: name, offset: $0) }
    }

    /// Content from one of honeycombd's stores over the bus (`PartDownload`'s loop and bounds).
    private nonisolated func fetchParts(_ subject: String, _ item: PartDownload.Item, sizeHeader: String, limit: Int,
                                        sizeRequired: Bool = false, request: (Int?) -> some Encodable) async throws -> [UInt8] {
        let client = self.client
        return try await PartDownload.fetch(item, limit: limit, sizeRequired: sizeRequired) { offset in
            let reply = try await client.request(subject, Array(JSONEncoder().encode(request(offset))), timeout: 10)
            return PartDownload.Reply(payload: reply.payload, size: reply.headers?[sizeHeader].flatMap(Int.init))
        }
    }

    /// Uploads an output too large for a result as a blob (in parts, raw bytes, on the drone's own
    /// `hive.v1.drone.<id>.blob`); returns its reference.
    /// Bounded by this drone's `--max-blob-bytes` and honeycombd's own limits (its refusal is the error).
    nonisolated func uploadBlob(_ bytes: [UInt8]) async throws -> BlobRef {
        guard bytes.count <= options.maxBlobBytes else {
            throw APIError("the output is \(bytes.count) bytes; this drone uploads blobs of at most \(options.maxBlobBytes) bytes (--max-blob-bytes)")
        }
        let client = self.client
        return try await BlobUpload.send(bytes, partSize: BlobTransfer.partSize(maxPayload: client.maxPayload)) { part, headers in
            try await client.request(APISubject.blobUpload(id), part, headers: NATSHeaders(pairs: headers), timeout: 30).payload
        }
    }

    /// The outcome as it is reported: raw output (too large or too binary for a result) uploaded as a blob first.
    /// An upload that fails fails the attempt, saying why (the output is lost; retrying may do better).
    nonisolated func withOutputBlob(_ o: BackendOutcome) async -> BackendOutcome {
        guard let raw = o.rawOutput else { return o }
        var out = o
        out.rawOutput = nil
        do {
            let stored = try await uploadBlob(raw)
            out.outputBlob = StoredBlob(blob: stored.blob, size: stored.size ?? raw.count)
            out.output = nil
        } catch {
            out.succeeded = false
            out.output = String(decoding: raw.prefix(BlobTransfer.inlineThreshold), as: UTF8.self)
            out.error = "the task's \(raw.count)-byte output could not be uploaded: \(error)" + (o.error.map { "; \($0)" } ?? "")
        }
        return out
    }

    /// Says hello until honeycombd answers (it may not be up yet).
    private func announce() async {
        var unanswered = 0
        while !Task.isCancelled && !draining {
            do {
                let reply = try await client.request(APISubject.hello(id), Array(encoder.encode(hello)), timeout: 2)
                let answer = try JSONDecoder().decode(HelloReply.self, from: Data(reply.payload))
                guard answer.accepted else {
                    log.error("refused", ["reason": answer.reason ?? "?"])
                    return
                }
                // honeycombd's number, not trusted either: a zero would spin the heartbeat loop, a huge one stop it.
                heartbeat.setPeriod(millis: answer.heartbeatMillis)
                // Lists of results only when this honeycombd reads them (an older one says nothing: one per message).
                resultBatch = min(max(answer.batch ?? 1, 1), options.batch)
                if resultBatch < 2 { flushResults() }
                log.info("joined", ["drone": id, "tier": options.tier.rawValue, "slots": options.slots,
                                    "backends": backends.keys.sorted().joined(separator: ",")])
                return
            } catch {
                // Said at warn the first time and every 30 s after (one try per ~2.5 s): a drone on a bus
                // without honeycombd must say why it does nothing, without flooding the log.
                unanswered += 1
                log.emit(unanswered % 12 == 1 ? .warn : .debug, "hello_unanswered",
                         ["reason": "\(error)", "attempts": unanswered, "retrying": "yes"])
                try? await Task.sleep(for: .milliseconds(500))
            }
        }
    }

    /// honeycombd's answer to a heartbeat: a drone it does not know (it restarted, or marked this one lost)
    /// announces itself again.
    private func heartbeatAnswered(_ answer: HeartbeatReply) async {
        guard !answer.known && !draining && !rejoining else { return }
        rejoining = true
        log.info("rejoining", ["reason": "honeycombd does not know this drone (restart or marked lost)"])
        await announce()
        rejoining = false
    }

    /// One message on the drone's task subject: an assignment (its trace parent in the header) or a list of them
    /// (each entry with its own).
    private func received(_ message: DroneBatch.Entries<Assignment>, traceparent header: String?) {
        if message.overLimit > 0 {
            log.warn("assignments_refused", ["count": message.overLimit, "batch": options.batch,
                                             "reason": "a list longer than this drone's --batch"])
        }
        for a in message.entries {
            accept(a, trace: (a.traceparent ?? header).flatMap(TraceContext.init(traceparent:)))
        }
    }

    private func accept(_ received: Assignment, trace: TraceContext? = nil) {
        var a = received
        a.timeoutMillis = min(max(1, a.timeoutMillis), max(1, options.maxTaskMillis))
        if let slot = running[a.task] {
            // The task is already running here (a redelivery, or a publisher reusing its id): one run per task id.
            // The very same assignment again is dropped (releasing it would release the run in progress); another
            // attempt of it is released.
            log.warn("duplicate_assignment", ["task": a.task, "attempt": a.attempt])
            if let held = slots[slot]?.assignment, held.attempt == a.attempt && held.token == a.token { return }
            report(a, TaskResult(task: a.task, attempt: a.attempt, token: a.token, drone: id, outcome: .released,
                                 error: "task \(a.task) is already running on this drone"))
            return
        }
        if draining || slots.count >= options.slots {
            report(a, TaskResult(task: a.task, attempt: a.attempt, token: a.token, drone: id, outcome: .released,
                                 error: draining ? "drone shutting down" : TaskResult.noFreeSlot))
            return
        }
        guard let served = backends[a.kind] else {
            report(a, TaskResult(task: a.task, attempt: a.attempt, token: a.token, drone: id, outcome: .failed,
                                 error: "this drone has no '\(a.kind)' backend"))
            return
        }
        if let inline = served as? any InlineBackend {
            // Immediate work: run here, no slot held past this call, nothing to time out or cancel.
            let start = ContinuousClock.now
            let startUnix = WallClock.unixNanos()
            let o = inline.runInline(a)
            guard o.rawOutput != nil else {
                report(a, slot: nil, o, start: start, startUnix: startUnix, trace: trace)
                return
            }
            Task {
                let uploaded = await self.withOutputBlob(o)
                self.report(a, slot: nil, uploaded, start: start, startUnix: startUnix, trace: trace)
            }
            return
        }
        // A prompt blob is resolved here, once for every model backend, inside the run (under its deadline).
        let backend: any Backend = a.input?.promptBlob == nil ? served : PromptBlobResolution(backend: served, inputs: options.blobInputs)
        let slot = nextSlot
        nextSlot &+= 1
        let start = ContinuousClock.now
        let startUnix = WallClock.unixNanos()
        // The run's own task reports the outcome and frees the slot in one hop to this actor; only a run the
        // deadline decides reports early, and its slot is free only once the backend has stopped.
        let assignment = a
        let run = TaskRun(backend, assignment, graceMillis: 2_000,
                          onTimeout: { o in
                              Task { await self.report(assignment, slot: slot, o, start: start, startUnix: startUnix, trace: trace) }
                          },
                          onEnd: { o in
                              var reported = o
                              if let o { reported = await self.withOutputBlob(o) }
                              await self.runEnded(assignment, slot: slot, reported, start: start, startUnix: startUnix, trace: trace)
                          })
        slots[slot] = Slot(assignment: a, run: run)
        running[a.task] = slot
        heartbeat.slotTaken(a.task)
    }

    /// The backend returned: its outcome is reported (when the deadline had not decided already), then the slot
    /// is free.
    private func runEnded(_ a: Assignment, slot: UInt64, _ o: BackendOutcome?, start: ContinuousClock.Instant,
                          startUnix: Int64, trace: TraceContext?) {
        if let o { report(a, slot: slot, o, start: start, startUnix: startUnix, trace: trace) }
        ended(slot, since: start)
    }

    /// A run's span as the result carries it: `traceparent` (a child of the attempt's span that honeycombd named in
    /// the assignment) and `Hive-Span-Time`.
    private typealias Span = (traceparent: String, time: String)

    /// Reports a run's outcome with its span. `slot` nil: an inline run, which held no slot.
    private func report(_ a: Assignment, slot: UInt64?, _ outcome: BackendOutcome, start: ContinuousClock.Instant,
                        startUnix: Int64, trace: TraceContext?) {
        let wall = ContinuousClock.now - start
        var span: Span?
        if let trace {
            let s = SpanReport(spanID: TraceContext.randomSpanID(using: &spanIDs), startUnixNano: startUnix,
                               endUnixNano: WallClock.unixNanos())
            span = (trace.traceparent(span: s.spanID), s.timeHeader)
        }
        finished(a, slot: slot, outcome, wallMillis: Int(wall.components.seconds * 1000 + wall.components.attoseconds / 1_000_000_000_000_000),
                 span: span)
    }

    /// Runs the backend under the drone's own deadline: the task's (clamped) timeout plus a grace for the backend to
    /// report its own timeout first. Past it the backend is cancelled and the task fails, so a backend that misses
    /// its timeout (or a model that never stops) cannot hold a slot for ever.
    /// (The outcome only: the backend may still be stopping when this returns; see `TaskRun`.)
    static func run(_ backend: any Backend, _ a: Assignment, graceMillis: Int) async -> BackendOutcome {
        await TaskRun(backend, a, graceMillis: graceMillis).result
    }

    private func ended(_ slot: UInt64, since start: ContinuousClock.Instant) {
        guard let s = slots.removeValue(forKey: slot) else { return }
        heartbeat.slotFreed(s.assignment.task)
        if running[s.assignment.task] == slot { running.removeValue(forKey: s.assignment.task) }
        let overrun = ContinuousClock.now - start - .milliseconds(s.assignment.timeoutMillis)
        if overrun > .seconds(1) {
            log.warn("slot_freed_late", ["task": s.assignment.task, "past_timeout_ms": Int(overrun.components.seconds * 1000),
                                         "reason": "the backend stopped only now"])
        }
    }

    private func finished(_ a: Assignment, slot: UInt64?, _ o: BackendOutcome, wallMillis: Int, span: Span? = nil) {
        if let slot {
            guard running[a.task] == slot else { return }  // cancelled: honeycombd moved on
            running.removeValue(forKey: a.task)
        }
        var product = o.product
        product.wallMillis = wallMillis
        report(a, TaskResult(task: a.task, attempt: a.attempt, token: a.token, drone: id, outcome: o.succeeded ? .succeeded : .failed,
                             product: product, fork: o.fork, join: o.join),
               span: span)
    }

    /// Stops the task's backend; its slot stays in use until the backend has ended.
    private func cancel(_ task: TaskID) {
        guard let slot = running.removeValue(forKey: task) else { return }
        slots[slot]?.run.cancel()
        log.debug("task_cancelled", ["task": task])
    }

    /// Sends a result: alone with its span in headers, or (when honeycombd reads lists) into the outbox with its
    /// span in its own fields.
    private func report(_ a: Assignment, _ r: TaskResult, span: Span? = nil) {
        guard resultBatch >= 2 else {
            guard let body = r.fastJSON ?? (try? encoder.encode(r)).map({ Array($0) }) else { return }
            var headers: NATSHeaders?
            if let span {
                headers = NATSHeaders("traceparent", span.traceparent)
                headers!.append(SpanReport.timeHeader, span.time)
            }
            do { try client.publish(APISubject.result(id), body, headers: headers) } catch {
                log.warn("result_not_sent", ["task": a.task, "reason": "\(error)"])
            }
            return
        }
        var entry = r
        entry.traceparent = span?.traceparent
        entry.spanTime = span?.time
        outbox.append(entry)
        if outbox.count >= resultBatch {
            flushResults()
        } else if !outboxFlushQueued {
            outboxFlushQueued = true
            Task { self.flushResults() }
        }
    }

    /// Sends the outbox's results in one message (a list, or one result alone).
    private func flushResults() {
        outboxFlushQueued = false
        guard !outbox.isEmpty else { return }
        let list = outbox
        outbox = []
        let body = list.count == 1 ? list[0].fastJSON ?? (try? encoder.encode(list[0])).map({ Array($0) }) : DroneBatch.json(list)
        guard let body else { return }
        do { try client.publish(APISubject.result(id), body) } catch {
            log.warn("result_not_sent", ["tasks": list.count, "first": list[0].task, "reason": "\(error)"])
        }
    }

    /// SIGTERM: stop taking tasks, let running ones finish within the grace period, release the rest, leave.
    public func shutdown() async {
        draining = true
        try? client.publish(APISubject.bye(id), [])
        let deadline = ContinuousClock.now + .milliseconds(options.shutdownGraceMillis)
        while !running.isEmpty && ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(20))
        }
        for (_, slot) in running {
            guard let r = slots[slot] else { continue }
            r.run.cancel()
            report(r.assignment, TaskResult(task: r.assignment.task, attempt: r.assignment.attempt, token: r.assignment.token,
                                            drone: id, outcome: .released, error: "drone shutting down"))
        }
        running = [:]
        flushResults()
        for source in options.toolSources { await source.close() }  // MCP servers' processes end here
        ExecBackend.killAll()  // whatever a cancelled task left running goes with the drone
        ProcessGroups.discardRecord()
        heartbeat.stop()
        for c in consumers { c.cancel() }
        try? await client.drain(timeout: 2)
        client.close()
        log.info("left", ["drone": id])
    }
}
