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

    /// Answers the requests of one subscription in their order, save those that complete an upload (`completesUpload`):
    /// those are answered beside the loop, because storing one (hashing, validating and writing it durably, off the
    /// actor in `finish`) takes time in proportion to its bytes, and a loop that awaited it held every later request
    /// (a `hive goals` waited for a 32 MiB upload's write). Parts of one upload stay in order: a client sends the
    /// next part after the reply to the last, and the last part is the one answered beside.
    func serve(_ requests: NATSSubscription, client: NATSClient, droneUploads: Bool) async {
        await withTaskGroup(of: Void.self) { group in
            var beside = 0
            for await m in requests {
                let verb = droneUploads ? "blob_add" : Self.verb(of: m)
                guard Self.completesUpload(m, verb: verb) else {
                    if droneUploads { await answerDroneUpload(m, client: client) } else { await answer(m, client: client) }
                    continue
                }
                if beside >= Self.uploadsStoredBeside {
                    await group.next()
                    beside -= 1
                }
                group.addTask {
                    if droneUploads { await self.answerDroneUpload(m, client: client) } else { await self.answer(m, client: client) }
                }
                beside += 1
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
    func answer(_ m: NATSMessage, client: NATSClient, verb named: String? = nil, refusal: APIError? = nil) async {
        guard let reply = m.reply else { return }
        let verb = named ?? Self.verb(of: m)
        let outcome: Result<APIReply, APIError>
        if let refusal {
            outcome = .failure(refusal)
        } else {
            switch APIRequest.bus(verb: verb, payload: m.payload, headers: m.headers, maxSpecBytes: state.config.maxSpecBytes) {
            case .failure(let e): outcome = .failure(e)
            case .success(let request): outcome = await handle(request, principal: Self.busPrincipal)
            }
        }
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
