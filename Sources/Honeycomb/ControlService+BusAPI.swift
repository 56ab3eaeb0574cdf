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
        let verb = named ?? m.subject.split(separator: ".").last.map(String.init) ?? ""
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
