import FoundationEssentials
import HiveCore
import HiveLog
import NATSClient
import NATSWire

/// The API's bus edge: `hive.v1.api.VERB` requests decoded into an `APIRequest` (`APIRequest.bus`), answered by
/// `handle`, and the reply or the error (`{"error": "…"}`, the kind left behind) sent to the requester's inbox.
extension ControlService {
    /// Who decides approvals asked for on the bus: only operators may publish those verbs there.
    static let busPrincipal = "operator"

    /// Uploads stored beside the request loop at once (`serve`); past it the loop waits for one to finish, as it
    /// waited for every upload before. A degree of overlap, not a refusal: nothing is turned away by it.
    static let uploadsStoredBeside = 2

    /// What a task beside the request loop did (`serve` counts each kind against its own bound).
    enum BesideWork: Sendable { case upload, reply }

    /// The tasks beside the request loop now, by kind.
    struct BesideCount {
        var uploads = 0, replies = 0

        /// Counts off the task that finished (nil: none is left).
        mutating func finished(_ work: BesideWork?) {
            switch work {
            case .upload?: uploads -= 1
            case .reply?: replies -= 1
            case nil: (uploads, replies) = (0, 0)
            }
        }
    }

    /// Answers the requests of one subscription, applying them to the state in arrival order. Two kinds of work
    /// happen beside the loop, each bounded: a reply that waits for the journal (a submit, an approval, a read of
    /// goals: `APIAnswer.after`), up to `max_replies_awaiting_journal` at once, and the part that completes an
    /// upload (`completesUpload`), up to `uploadsStoredBeside`. Past a bound the loop waits for one to finish;
    /// nothing is turned away. Waiting in the loop held every later request behind one journal wait: on a
    /// JetStream stream without quorum each submit waited the 5 s ack deadline in turn, a `hive status` behind N
    /// of them N × 5 s, and N concurrent submitters got N group commits where one would do. Storing an upload
    /// (hashing, validating and writing it durably, off the actor in `finish`) takes time in proportion to its
    /// bytes. Parts of one upload stay in order: a client sends the next part after the reply to the last, and the
    /// last part is the one answered beside.
    func serve(_ requests: NATSSubscription, client: NATSClient, droneUploads: Bool) async {
        let maxReplies = state.config.maxRepliesAwaitingJournal
        await withTaskGroup(of: BesideWork.self) { group in
            var besides = BesideCount()
            for await m in requests {
                let verb = droneUploads ? "blob_add" : Self.verb(of: m)
                if Self.completesUpload(m, verb: verb) {
                    while besides.uploads >= Self.uploadsStoredBeside { besides.finished(await group.next()) }
                    group.addTask {
                        if droneUploads { await self.answerDroneUpload(m, client: client) } else { await self.answer(m, client: client) }
                        return .upload
                    }
                    besides.uploads += 1
                    continue
                }
                if droneUploads {
                    await answerDroneUpload(m, client: client)
                    continue
                }
                guard let reply = m.reply else { continue }
                let answer = await applied(m, verb: verb)
                guard answer.after != nil else {
                    send(answer.outcome, to: reply, verb: verb, client: client)
                    continue
                }
                while besides.replies >= maxReplies { besides.finished(await group.next()) }
                group.addTask {
                    let outcome = await self.settled(answer)
                    await self.send(outcome, to: reply, verb: verb, client: client)
                    return .reply
                }
                besides.replies += 1
            }
        }
    }

    /// The verb a `hive.v1.api.VERB` subject ends in.
    static func verb(of m: NATSMessage) -> String { m.subject.split(separator: ".").last.map(String.init) ?? "" }

    /// Whether answering `m` stores an item: a whole `module_add`, or the part of a `blob_add`/`module_add` upload
    /// that ends at its declared size (headers unreadable: no, and the request is answered in the loop as before).
    static func completesUpload(_ m: NATSMessage, verb: String) -> Bool {
        let (hash, offset, size): (String, String, String)
        switch verb {
        case "blob_add": (hash, offset, size) = (BlobTransfer.hashHeader, BlobTransfer.offsetHeader, BlobTransfer.sizeHeader)
        case "module_add": (hash, offset, size) = (ModuleTransfer.hashHeader, ModuleTransfer.offsetHeader, ModuleTransfer.sizeHeader)
        default: return false
        }
        guard m.headers?[hash] != nil else { return verb == "module_add" }
        guard let from = m.headers?[offset].flatMap(Int.init), let total = m.headers?[size].flatMap(Int.init) else { return false }
        return from >= 0 && from.addingReportingOverflow(m.payload.count).partialValue >= total
    }

    /// A drone's output upload (`hive.v1.drone.<id>.blob`), answered as `blob_add` while the drone (the one whose
    /// subject it came on) holds a lease: a drone with no task running has no output to upload.
    func answerDroneUpload(_ m: NATSMessage, client: NATSClient) async {
        let drone = APISubject.drone(in: m.subject) ?? ""
        guard state.drones[drone]?.running.isEmpty == false else {
            rejected("blob upload without a lease", ["drone": drone, "bytes": m.payload.count])
            return await answer(m, client: client, refusal: APIError(.conflict,
                "drone '\(drone.prefix(64))' holds no lease: a drone uploads only the output of a task it runs"))
        }
        await answer(m, client: client, verb: "blob_add")
    }

    /// Answers an API request; `verb` when the subject does not end in it, `refusal` to answer with that error.
    /// Waits for the journal in line (the upload paths; `serve` waits beside the loop for the other verbs).
    func answer(_ m: NATSMessage, client: NATSClient, verb named: String? = nil, refusal: APIError? = nil) async {
        guard let reply = m.reply else { return }
        let verb = named ?? Self.verb(of: m)
        let outcome: Result<APIReply, APIError>
        if let refusal {
            outcome = .failure(refusal)
        } else {
            outcome = await settled(applied(m, verb: verb))
        }
        send(outcome, to: reply, verb: verb, client: client)
    }

    /// `m` decoded and applied to the state (`apply`): its answer, to send once the journal holds what it says.
    private func applied(_ m: NATSMessage, verb: String) async -> APIAnswer {
        switch APIRequest.bus(verb: verb, payload: m.payload, headers: m.headers, maxSpecBytes: state.config.maxSpecBytes) {
        case .failure(let e): return .now(.failure(e))
        case .success(let request): return await apply(request, principal: Self.busPrincipal)
        }
    }

    /// Publishes `outcome` (the reply, or the error as `{"error": "…"}`) to the requester's inbox `reply`.
    private func send(_ outcome: Result<APIReply, APIError>, to reply: String, verb: String, client: NATSClient) {
        var body: [UInt8], headers: NATSHeaders?
        switch outcome {
        case .success(let r):
            body = r.body
            headers = r.headers.isEmpty ? nil : r.headers.reduce(into: NATSHeaders()) { $0.append($1.name, $1.value) }
        case .failure(let e):
            (body, headers) = (errorBody(e), nil)
        }
        // A reply the bus cannot carry would be dropped and leave the caller waiting: send why instead.
        let limit = client.maxPayload - Paging.headroom
        if body.count > limit {
            log.warn("reply_too_large", ["verb": verb, "bytes": body.count, "max_payload": client.maxPayload])
            (body, headers) = (errorBody(APIError(.tooLarge,
                "the \(verb) reply is \(body.count) bytes, more than one bus message carries (max_payload \(client.maxPayload) less \(Paging.headroom))"
            )), nil)
        }
        do { try client.publish(reply, body, headers: headers) } catch {
            log.warn("publish_failed", ["subject": reply, "reason": "\(error)"])
            try? client.publish(reply, errorBody(APIError(.unavailable, "the \(verb) reply could not be sent: \(error)")))
        }
    }

    /// Today's error payload: `{"error": "…"}`.
    private func errorBody(_ e: APIError) -> [UInt8] { Array((try? encoder.encode(e)) ?? Data()) }
}
