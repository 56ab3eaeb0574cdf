import FoundationEssentials
import HiveCore
import HiveLog

/// The API verbs, answered in one place whichever transport asked (`APIRequest`): a reply, or an `APIError` whose
/// kind the transport's edge turns into its own terms (an HTTP status in `HTTPAPI`; the bus sends the message).
/// A reply that says something happened (a goal accepted, cancelled, approved) is sent only once the journal holds it.
extension ControlService {
    /// Answers `request`: applies it (`apply`), then waits for the journal as its answer asks (`settled`).
    /// `principal`: who asks, recorded as the approver of approvals and denials (the HTTP principal's name;
    /// `operator` on the bus, where only operators have those verbs).
    func handle(_ request: APIRequest, principal: String) async -> Result<APIReply, APIError> {
        await settled(apply(request, principal: principal))
    }

    /// Applies `request` to the state and computes its answer, without waiting for the journal: the answer says
    /// which journal sequence must be durable before it is sent (`APIAnswer.after`). The bus loop applies requests
    /// in arrival order and waits for durability beside itself (`serve`), so a read or a further submit is not held
    /// behind another request's journal wait, and replies waiting together share one group commit.
    func apply(_ request: APIRequest, principal: String) async -> APIAnswer {
        switch request {
        case .submit(let spec, let traceparent): return submit(spec, traceparent: traceparent)
        case .goals(let page):
            let all = state.goals.values.sorted { $0.createdAt == $1.createdAt ? $0.id < $1.id : $0.createdAt < $1.createdAt }
            return seen(list(all, page) { self.summary($0) })
        case .goal(let id):
            guard let g = state.goals[id] else { return .now(.failure(unknownGoal(id))) }
            return seen(reply(head(of: g)))
        case .tasks(let id, let page):
            guard let g = state.goals[id] else { return .now(.failure(unknownGoal(id))) }
            let memo = BlockerMemo(state)
            return seen(list(state.tasks(of: g.id), page, memo.view))
        case .result(let id, let page):
            guard let g = state.goals[id] else { return .now(.failure(unknownGoal(id))) }
            return seen(result(of: g, page))
        case .trace(let id):
            guard let g = state.goals[id] else { return .now(.failure(unknownGoal(id))) }
            guard let view = trace(of: g.id) else {
                return .now(.failure(APIError(.notFound, "goal '\(g.id)' has no trace (it was submitted before tracing)")))
            }
            return seen(reply(view))
        case .cancel(let id):
            guard state.goals[id] != nil else { return .now(.failure(unknownGoal(id))) }
            if let fx = state.cancel(goal: id, now: now) {
                carryOut(fx)
                dispatch()
            }
            guard let g = state.goals[id] else { return .now(.failure(unknownGoal(id))) }
            return seen(reply(head(of: g)))
        case .approve(let goal, let tasks):
            return decide(goal: goal, state.approve(goal: goal, tasks: tasks ?? [], by: principal, now: now))
        case .deny(let goal, let tasks, let reason):
            return decide(goal: goal, state.deny(goal: goal, tasks: tasks ?? [], by: principal, reason: reason ?? "", now: now))
        case .moduleAdd, .moduleAddPart, .moduleGet, .moduleRemove, .modules, .blobAddPart, .blobGet, .blobHas,
             .droneAdd, .droneRevoke, .drones, .status:
            return .now(await answeredAtOnce(request))
        }
    }

    /// The verbs whose answer needs no journal wait: content stores (durable on their own), drone credentials,
    /// lists of drones and the status.
    private func answeredAtOnce(_ request: APIRequest) async -> Result<APIReply, APIError> {
        switch request {
        case .moduleAdd(let bytes): return stored(ModuleStore.ref(await add(bytes, to: modules.content)))
        case .moduleAddPart(let hash, let offset, let size, let bytes):
            await afterWrite(of: hash, in: modules.content)
            let received = modules.content.receive(hash: hash, offset: offset, size: size, bytes: bytes)
            return stored(ModuleStore.ref(await accept(received, in: modules.content)))
        case .moduleGet(let module, let offset):
            guard let bytes = modules.get(module) else {
                return .failure(APIError(.notFound, "unknown module (add it with hive module add FILE.wasm)"))
            }
            let from = Swift.min(Swift.max(offset ?? 0, 0), bytes.count)
            let part = bytes[from..<(from + Swift.min(bytes.count - from, ModuleTransfer.partSize(maxPayload: client.maxPayload)))]
            return .success(APIReply(body: Array(part), moduleSize: bytes.count))
        case .moduleRemove(let module):
            // A running goal that names the module would fail on drones that have not fetched it yet: refuse.
            if let goal = goalNaming(module: module) {
                let e = ModuleStoreError.inUse(module: module, goal: goal)
                return .failure(APIError(e.kind, e.description))
            }
            switch modules.remove(module) {
            case .success(let ref):
                log.info("module_removed", ["module": ref.module, "bytes": ref.size ?? 0])
                return reply(ref)
            case .failure(let e): return .failure(APIError(e.kind, e.description))
            }
        case .modules: return reply(modules.list())
        case .blobAddPart(let blob, let offset, let size, let bytes):
            await afterWrite(of: BlobRef.hash(of: blob), in: blobs.content)
            let received = blobs.receive(blob: blob, offset: offset, size: size, bytes: bytes, referenced: { self.referencedBlobs() })
            switch await accept(received, in: blobs.content).map(BlobStore.ref) {
            case .success(let ref):
                if ref.received == nil && offset &+ bytes.count == size { log.info("blob_added", ["blob": ref.blob, "bytes": ref.size ?? 0]) }
                return reply(ref)
            case .failure(let e):
                if e.kind == .storageFull { log.warn("blob_refused", ["reason": e.description]) }
                return .failure(APIError(e.kind, e.description))
            }
        case .blobGet(let blob, let offset):
            guard let part = blobs.read(blob, offset: offset ?? 0, count: BlobTransfer.partSize(maxPayload: client.maxPayload)) else {
                return .failure(APIError(.notFound, "unknown blob '\(blob.prefix(80))' (upload it with hive submit --input FILE)"))
            }
            return .success(APIReply(body: part.bytes, blobSize: part.size))
        case .blobHas(let names):
            return reply(BlobHas(blobs: names.filter { blobs.contains($0) }))
        case .droneAdd(let name, let tier):
            guard let credentials else { return .failure(APIError(.conflict, DroneCredentialError.noPrincipals.description)) }
            do throws(DroneCredentialError) {
                let issued = try credentials.add(name: name, tier: tier ?? .worker)
                log.info("drone_credential_issued", ["drone": issued.name, "tier": issued.tier.rawValue])
                return reply(DroneCredential(name: issued.name, token: issued.token, tier: issued.tier))
            } catch {
                return .failure(APIError(.conflict, error.description))
            }
        case .droneRevoke(let name):
            guard let credentials else { return .failure(APIError(.conflict, DroneCredentialError.noPrincipals.description)) }
            do throws(DroneCredentialError) {
                let gone = try credentials.revoke(name: name)
                carryOut(state.revoke(drone: gone.name, now: now))
                dispatch()
                log.warn("drone_credential_revoked", ["drone": gone.name])
                return reply(DroneCredential(name: gone.name, token: "", tier: gone.tier))
            } catch {
                return .failure(APIError(.conflict, error.description))
            }
        case .drones(let page):
            let t = now
            return list(state.drones.values.sorted { ($0.tier, $0.name, $0.id) < ($1.tier, $1.name, $1.id) }, page) { DroneView($0, now: t) }
        case .status: return reply(status())
        case .submit, .goals, .goal, .tasks, .result, .trace, .cancel, .approve, .deny:
            return .failure(APIError(.badRequest, "this request is answered after the journal holds it (`apply`), not at once"))
        }
    }

    /// Bytes one reply may take (the bus's `max_payload` less `Paging.headroom`); HTTP replies page the same.
    var replyBudget: Int { Swift.max(client.maxPayload - Paging.headroom, 1024) }

    /// `answer` once the journal holds what `apply` saw: it waits for the journal's deadline (a JetStream stream
    /// without quorum) at most, then sends `answer` all the same, or the `unavailable` error when there is one.
    nonisolated func settled(_ answer: APIAnswer) async -> Result<APIReply, APIError> {
        guard let seq = answer.after, let journal else { return answer.outcome }
        if await journal.waitDurable(seq) { return answer.outcome }
        guard let goal = answer.unacknowledged else { return answer.outcome }
        return .failure(APIError(.unavailable, "goal \(goal) was not acknowledged by the journal in time (\(journal.writeFailure ?? "the journal is unavailable")); "
                                 + "it is kept and written once the journal is back: look it up with `hive goal \(goal)` before submitting again"))
    }

    /// A read's answer, sent once everything journaled before it (all it saw) is durable.
    private func seen(_ outcome: Result<APIReply, APIError>) -> APIAnswer {
        APIAnswer(outcome: outcome, after: journal == nil ? nil : lastSeq)
    }

    /// A goal's summary with what it waits for, its answer and its votes (`goal` and `cancel` reply with it).
    private func head(of g: GoalRecord) -> GoalSummary {
        var head = summary(g)
        if g.state == .running { head.waiting = state.waits(of: g.id) }
        (head.answer, head.votes) = (state.tasks[g.root]?.result?.output.map(GoalSummary.clipAnswer), state.voteViews(of: g.id))
        return head
    }

    private func submit(_ submitted: GoalSpec, traceparent: String?) -> APIAnswer {
        var spec = prompts.filling(submitted)
        // The submitter's trace (its `traceparent` header, or one named in the spec) or a new one.
        if let header = traceparent, let context = TraceContext(traceparent: header) {
            spec.trace = context
        } else if spec.trace?.isValid != true {
            spec.trace = TraceContext.random(using: &rng)
        }
        // Inputs travel by reference: every blob the goal names must be here (and durable) before it is accepted.
        if let why = blobProblem(in: spec) { return .now(.failure(APIError(.badRequest, why))) }
        let id: GoalID, fx: ControlEffects
        do { (id, fx) = try state.submit(spec, now: now) } catch {
            return .now(.failure(APIError(.badRequest, error.description)))
        }
        carryOut(fx)
        log.info("goal_accepted", ["goal": id, "tasks": state.goals[id]?.taskCount ?? 0, "priority": spec.priority])
        dispatch()
        // Accepted all the same (a drone may join later), but the submitter hears what no live drone can run.
        let unrunnable = state.waits(of: id, unrunnableOnly: true)
        if let first = unrunnable.first {
            log.warn("goal_unrunnable", ["goal": id, "task": first.task, "blocker": first.blocker, "reason": first.reason])
        }
        return APIAnswer(outcome: reply(GoalRef(goal: id, unrunnable: unrunnable)), after: journal == nil ? nil : lastSeq, unacknowledged: id)
    }

    private func unknownGoal(_ id: GoalID) -> APIError { APIError(.notFound, "unknown goal '\(id)'") }

    /// A goal's outcome with one page of its work tasks; the rest of the result goes on every page.
    private func result(of g: GoalRecord, _ page: PageRequest) -> Result<APIReply, APIError> {
        let all = state.tasks(of: g.id)
        var head = summary(g, tasks: all)
        if g.state == .running { head.waiting = state.waits(of: g.id) }
        head.votes = state.voteViews(of: g.id)  // the answer is the result's own, whole
        let base = GoalResult(goal: head, answer: state.tasks[g.root]?.result?.output,
                              ledger: GoalLedger(goal: g, tasks: all, now: now), steps: state.stepViews(of: g.id), tasks: [])
        let work = all.filter { !$0.isStructural }
        let offset: Int, limit: Int
        switch (Paging.offset(page.cursor, count: work.count), Paging.limit(page.limit)) {
        case (.success(let o), .success(let l)): (offset, limit) = (o, l)
        case (.failure(let e), _), (_, .failure(let e)): return .failure(e)
        }
        let memo = BlockerMemo(state)
        return ReplyPage.result(base, tasks: work[offset...].lazy.map(memo.view), offset: offset, total: work.count,
                                limit: limit, budget: replyBudget, encoder: encoder)
            .map { APIReply(body: $0.body, nextCursor: $0.next) }
            .mapError { APIError(.tooLarge, $0.error) }
    }

    /// Carries out an approval or a denial, or says why there was none.
    private func decide(goal: GoalID, _ result: Result<ControlEffects, ApprovalError>) -> APIAnswer {
        switch result {
        case .failure(let e):
            if case .unknownGoal = e { return .now(.failure(APIError(.notFound, e.description))) }
            return .now(.failure(APIError(.conflict, e.description)))
        case .success(let fx):
            carryOut(fx)
            dispatch()
            let decided = fx.events.compactMap { e -> TaskID? in
                switch e {
                case .taskApproved(let t, _, _), .taskDenied(let t, _, _, _): return t
                default: return nil
                }
            }
            return seen(reply(ApprovalReply(goal: goal, tasks: decided)))
        }
    }

    /// A module store's answer to an add (a whole module, or a part of one).
    private func stored(_ result: Result<ModuleRef, ModuleStoreError>) -> Result<APIReply, APIError> {
        switch result {
        case .success(let ref):
            if ref.received == nil { log.info("module_added", ["module": ref.module, "bytes": ref.size ?? 0]) }
            return reply(ref)
        case .failure(let e):
            if e.kind == .storageFull { log.warn("module_refused", ["reason": e.description]) }
            return .failure(APIError(e.kind, e.description))
        }
    }

    /// Every blob a goal still held names (inputs and outputs): these are never evicted to make room.
    func referencedBlobs() -> Set<String> {
        var held = Set<String>()
        for g in state.goals.values {
            for step in g.plan?.steps ?? [] { if let b = step.spec.verify?.stdinBlob.flatMap(BlobRef.hash(of:)) { held.insert(b) } }
        }
        for t in state.tasks.values {
            if let b = t.input?.stdinBlob.flatMap(BlobRef.hash(of:)) { held.insert(b) }
            if let b = t.input?.promptBlob.flatMap(BlobRef.hash(of:)) { held.insert(b) }
            if let b = t.result?.outputBlob?.hash { held.insert(b) }
        }
        return held
    }

    /// Why a goal spec's blob references cannot be accepted, or nil: the first blob it names that honeycombd does
    /// not hold (`stdin_blob`, `prompt_blob`), or a `prompt_blob` whose `size` is not the held blob's (budgets
    /// count the prompt by it).
    func blobProblem(in spec: GoalSpec) -> String? {
        func missing(_ path: String, _ blob: String) -> String {
            "\(path): honeycombd holds no blob '\(blob.prefix(80))'; upload it first (hive submit --input FILE or --prompt-file FILE does)"
        }
        var stack: [(TaskSpec, String)] = [(spec.root, "root")]
        for (i, step) in (spec.plan?.steps ?? []).enumerated() {
            if let v = step.verify, let b = v.stdinBlob, !blobs.contains(b) { return missing("steps[\(i)].verify.stdin_blob", b) }
        }
        while let (t, path) = stack.popLast() {
            if let b = t.input?.stdinBlob, !blobs.contains(b) { return missing(path + ".input.stdin_blob", b) }
            if let b = t.input?.promptBlob {
                guard let held = blobs.size(of: b) else { return missing(path + ".input.prompt_blob", b) }
                if let size = t.input?.size, size != held {
                    return "\(path).input.size is \(size), but blob '\(b.prefix(80))' is \(held) bytes: size must be the prompt blob's"
                }
            }
            for (i, c) in (t.children ?? []).enumerated() { stack.append((c, "\(path).children[\(i)]")) }
        }
        return nil
    }

    /// A running goal that names `module` (a wasm task, or a plan step's verify check), if any.
    private func goalNaming(module: String) -> GoalID? {
        for g in state.goals.values where g.state == .running {
            if g.plan?.steps.contains(where: { $0.spec.verify?.module?.lowercased() == module }) == true { return g.id }
            if state.tasks(of: g.id).contains(where: { $0.input?.module?.lowercased() == module }) { return g.id }
        }
        return nil
    }

    /// `value` as the reply's JSON.
    private func reply<T: Encodable>(_ value: T) -> Result<APIReply, APIError> {
        guard let data = try? encoder.encode(value) else { return .failure(APIError(.badRequest, "cannot encode the \(T.self) reply")) }
        return .success(APIReply(body: Array(data)))
    }

    /// One page of `all` (as `view` shows each), per `request`: out-of-range paging is a bad request, an item that
    /// cannot fit one reply is too large.
    private func list<Item, View: Encodable>(_ all: [Item], _ request: PageRequest, _ view: (Item) -> View) -> Result<APIReply, APIError> {
        let offset: Int, limit: Int
        switch (Paging.offset(request.cursor, count: all.count), Paging.limit(request.limit)) {
        case (.success(let o), .success(let l)): (offset, limit) = (o, l)
        case (.failure(let e), _), (_, .failure(let e)): return .failure(e)
        }
        return ReplyPage.array(all[offset...].lazy.map(view), offset: offset, total: all.count, limit: limit,
                               budget: replyBudget, encoder: encoder, what: "item")
            .map { APIReply(body: $0.page.body, nextCursor: $0.page.next) }
            .mapError { APIError(.tooLarge, $0.error) }
    }

    private func summary(_ g: GoalRecord, tasks: [TaskRecord]? = nil) -> GoalSummary {
        var counts: [String: Int] = [:]
        for t in tasks ?? state.tasks(of: g.id) where !t.isStructural { counts[t.state.rawValue, default: 0] += 1 }
        return GoalSummary(g, counts: counts)
    }
}
