import FoundationEssentials
import HiveCore
@testable import Honeycomb
import NATSClient
import NATSTestSupport
import NATSWire
import HiveHTTP
import Testing

/// A control service on a real embedded broker, with no journal; stopped (and its bus connection closed) after `body`.
func withService<T>(config: ControlConfig = ControlConfig(), _ body: (ControlService, NATSClient) async throws -> T) async throws -> T {
    let broker = try RunningBroker(.embedded)
    let client = try await NATSClient.connect(urls: "nats://127.0.0.1:\(broker.port)")
    let service = try await ControlService.start(client: client, journal: nil, recovery: nil, config: config) {
        StatusReply(service: "honeycombd", version: HiveVersion.current, broker: "embedded", busServer: "test", startedAt: "now", uptimeSeconds: 0)
    }
    do {
        let result = try await body(service, client)
        await service.stop()
        client.close()
        return result
    } catch {
        await service.stop()
        client.close()
        throw error
    }
}

/// The reply's JSON as `T`, or the test fails naming the error it got instead.
func decoded<T: Decodable>(_ outcome: Result<APIReply, APIError>, as type: T.Type, sourceLocation: SourceLocation = #_sourceLocation) throws -> T {
    switch outcome {
    case .success(let r): return try JSONDecoder().decode(T.self, from: Data(r.body))
    case .failure(let e):
        Issue.record("expected a \(T.self), got \(e.kind): \(e.error)", sourceLocation: sourceLocation)
        throw e
    }
}

/// The error's kind and message, or nil (and a recorded issue) when the call succeeded.
func refusal(_ outcome: Result<APIReply, APIError>, sourceLocation: SourceLocation = #_sourceLocation) -> APIError? {
    if case .failure(let e) = outcome { return e }
    Issue.record("expected an error", sourceLocation: sourceLocation)
    return nil
}

func spec(_ json: String) throws -> GoalSpec { try JSONDecoder().decode(GoalSpec.self, from: Data(json.utf8)) }

/// Each API verb through `ControlService.handle`, as both transports call it: the happy path and its error kinds.
@Suite struct APIHandleTests {
    static let fork = #"{"name": "pair", "root": {"kind": "fork", "children": [{"kind": "noop"}, {"kind": "noop"}]}}"#

    @Test func aGoalIsSubmittedListedShownTracedAndCancelled() async throws {
        try await withService { service, _ in
            let ref = try decoded(await service.handle(.submit(try spec(Self.fork), traceparent: nil), principal: "t"), as: GoalRef.self)
            let id = ref.goal
            // No drone is connected: accepted all the same, with a word on what no live drone can run.
            #expect(ref.unrunnable?.isEmpty == false && ref.warning?.hasPrefix("no live drone can run") == true)

            let goals = try decoded(await service.handle(.goals(PageRequest()), principal: "t"), as: [GoalSummary].self)
            #expect(goals.map(\.goal) == [id])
            let summary = try decoded(await service.handle(.goal(id), principal: "t"), as: GoalSummary.self)
            #expect(summary.state == .running && summary.name == "pair" && summary.waiting?.isEmpty == false)
            let tasks = try decoded(await service.handle(.tasks(id, PageRequest()), principal: "t"), as: [TaskView].self)
            #expect(tasks.map(\.kind) == ["fork", "noop", "noop"])
            let result = try decoded(await service.handle(.result(id, PageRequest()), principal: "t"), as: GoalResult.self)
            #expect(result.tasks.count == 2 && result.goal.counts["pending"] == 2)
            let trace = try decoded(await service.handle(.trace(id), principal: "t"), as: TraceView.self)
            #expect(trace.goal == id && trace.spans.first?.kind == .goal && trace.spans.count == 4)

            let cancelled = try decoded(await service.handle(.cancel(id), principal: "t"), as: GoalSummary.self)
            #expect(cancelled.state == .cancelled)
        }
    }

    @Test func theSubmittersTraceparentNamesTheTrace() async throws {
        try await withService { service, _ in
            let parent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
            let ref = try decoded(await service.handle(.submit(try spec(Self.fork), traceparent: parent), principal: "t"), as: GoalRef.self)
            let trace = try decoded(await service.handle(.trace(ref.goal), principal: "t"), as: TraceView.self)
            #expect(trace.traceID == "0af7651916cd43dd8448eb211c80319c")
            #expect(trace.spans.first?.parentSpanID == "b7ad6b7169203331")
        }
    }

    @Test func everyGoalVerbAnswersAnUnknownGoalAsNotFound() async throws {
        try await withService { service, _ in
            let requests: [APIRequest] = [.goal("g404"), .tasks("g404", PageRequest()), .result("g404", PageRequest()), .trace("g404"),
                                          .cancel("g404"), .approve(goal: "g404", tasks: nil), .deny(goal: "g404", tasks: nil, reason: nil)]
            for request in requests {
                let e = refusal(await service.handle(request, principal: "t"))
                #expect(e?.kind == .notFound, "\(request.verb)")
                #expect(e?.error.contains("g404") == true, "\(request.verb): \(e?.error ?? "")")
            }
        }
    }

    @Test func aSubmissionTheStateRefusesIsABadRequestNamingWhy() async throws {
        try await withService { service, _ in
            let e = refusal(await service.handle(.submit(try spec(#"{"root": {"kind": "exce"}}"#), traceparent: nil), principal: "t"))
            #expect(e?.kind == .badRequest)
            #expect(e?.error.contains("exce") == true, "\(e?.error ?? "")")
        }
    }

    @Test func listsPageAndOutOfRangePagingIsABadRequest() async throws {
        try await withService { service, _ in
            for _ in 0..<3 { _ = try decoded(await service.handle(.submit(try spec(Self.fork), traceparent: nil), principal: "t"), as: GoalRef.self) }
            guard case .success(let first) = await service.handle(.goals(PageRequest(limit: 2)), principal: "t") else {
                Issue.record("no first page"); return
            }
            let firstPage = try JSONDecoder().decode([GoalSummary].self, from: Data(first.body))
            #expect(firstPage.count == 2)
            #expect(first.nextCursor == "2" && first.headers.first?.name == Paging.cursorHeader)
            let rest = try decoded(await service.handle(.goals(PageRequest(cursor: first.nextCursor)), principal: "t"), as: [GoalSummary].self)
            #expect(rest.count == 1)

            #expect(refusal(await service.handle(.goals(PageRequest(cursor: "zz")), principal: "t"))?.kind == .badRequest)
            #expect(refusal(await service.handle(.drones(PageRequest(limit: 0)), principal: "t"))?.kind == .badRequest)
            #expect(refusal(await service.handle(.result("g1", PageRequest(cursor: "99")), principal: "t"))?.kind == .badRequest)
            #expect(refusal(await service.handle(.tasks("g1", PageRequest(limit: Paging.maxLimit + 1)), principal: "t"))?.kind == .badRequest)
        }
    }

    @Test func approvalsAreRecordedAsThePrincipalsAndNothingAwaitingIsAConflict() async throws {
        var config = ControlConfig()
        config.lostAfterMillis = 600_000
        try await withService(config: config) { service, client in
            // A drone that runs noop says hello on the bus (the goal's node asks for approval whatever it runs).
            let hello = DroneHello(drone: "d1", name: "d1", tier: .worker, slots: 2, capabilities: ["backend:noop"], host: nil, version: "test")
            _ = try await client.request(APISubject.hello("d1"), Array(try JSONEncoder().encode(hello)), timeout: 5)
            let plan = #"{"root": {"kind": "fork", "children": [{"kind": "noop", "approval": "required"}, {"kind": "noop", "approval": "required"}]}}"#
            let id = try decoded(await service.handle(.submit(try spec(plan), traceparent: nil), principal: "t"), as: GoalRef.self).goal

            #expect(refusal(await service.handle(.approve(goal: id, tasks: ["\(id).nope"]), principal: "alice"))?.kind == .conflict)
            let approved = try decoded(await service.handle(.approve(goal: id, tasks: ["\(id).1"]), principal: "alice"), as: ApprovalReply.self)
            #expect(approved.tasks == ["\(id).1"])
            let denied = try decoded(await service.handle(.deny(goal: id, tasks: nil, reason: "no"), principal: "bob"), as: ApprovalReply.self)
            #expect(denied.tasks == ["\(id).2"])
            let tasks = try decoded(await service.handle(.tasks(id, PageRequest()), principal: "t"), as: [TaskView].self)
            #expect(tasks.first { $0.task == "\(id).1" }?.approvedBy == "alice")
            #expect(tasks.first { $0.task == "\(id).2" }?.reason?.contains("denied by bob: no") == true)
            // Nothing awaits any more.
            #expect(refusal(await service.handle(.approve(goal: id, tasks: nil), principal: "alice"))?.kind == .conflict)

            let drones = try decoded(await service.handle(.drones(PageRequest()), principal: "t"), as: [DroneView].self)
            #expect(drones.map(\.drone) == ["d1"])
        }
    }

    @Test func modulesAreListedAndRefusedByKind() async throws {
        try await withService { service, _ in
            let list = try decoded(await service.handle(.modules, principal: "t"), as: ModuleList.self)
            #expect(list.modules.isEmpty && list.maxBytes > 0)
            #expect(refusal(await service.handle(.moduleAdd(Array("not wasm".utf8)), principal: "t"))?.kind == .badRequest)
            #expect(refusal(await service.handle(.moduleAddPart(hash: "xyz", offset: 0, size: 4, bytes: [0, 0x61, 0x73, 0x6d]), principal: "t"))?.kind == .badRequest)
            let hash = String(repeating: "ab", count: 32)
            #expect(refusal(await service.handle(.moduleGet(module: hash, offset: nil), principal: "t"))?.kind == .notFound)
            #expect(refusal(await service.handle(.moduleRemove(module: hash), principal: "t"))?.kind == .notFound)

            // The smallest valid module: stored, fetched back whole (its size beside it), then removed.
            let empty: [UInt8] = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]
            let ref = try decoded(await service.handle(.moduleAdd(empty), principal: "t"), as: ModuleRef.self)
            #expect(ref.size == empty.count)
            guard case .success(let got) = await service.handle(.moduleGet(module: ref.module, offset: 2), principal: "t") else {
                Issue.record("module_get failed"); return
            }
            #expect(got.body == Array(empty[2...]) && got.moduleSize == empty.count)
            #expect(got.headers.contains { $0.name == ModuleTransfer.sizeHeader && $0.value == "8" })
            let removed = try decoded(await service.handle(.moduleRemove(module: ref.module), principal: "t"), as: ModuleRef.self)
            #expect(removed.module == ref.module)
        }
    }

    @Test func droneCredentialsWithoutPrincipalsAreAConflictAndStatusAnswers() async throws {
        try await withService { service, _ in
            #expect(refusal(await service.handle(.droneAdd(name: "d9", tier: .core), principal: "t"))?.kind == .conflict)
            #expect(refusal(await service.handle(.droneRevoke(name: "d9"), principal: "t"))?.kind == .conflict)
            let status = try decoded(await service.handle(.status, principal: "t"), as: StatusReply.self)
            #expect(status.service == "honeycombd")
        }
    }

    @Test func theBusEdgeAnswersWithTheErrorAndItsKind() async throws {
        try await withService { service, client in
            let reply = try await client.request("hive.v1.api.goal", Array(#"{"goal": "g77"}"#.utf8), timeout: 5)
            #expect(String(decoding: reply.payload, as: UTF8.self) == #"{"error":"unknown goal 'g77'","kind":"not_found"}"#)
            let unknown = try await client.request("hive.v1.api.nope", [], timeout: 5)
            #expect(String(decoding: unknown.payload, as: UTF8.self) == #"{"error":"unknown API 'nope'","kind":"not_found"}"#)
            _ = service
        }
    }
}

/// What each transport decodes into an `APIRequest`, and the one place a kind becomes an HTTP status.
@Suite struct APIRequestDecodingTests {
    func bus(_ verb: String, _ json: String = "", headers: NATSHeaders? = nil, maxSpecBytes: Int = 1 << 20) -> Result<APIRequest, APIError> {
        APIRequest.bus(verb: verb, payload: Array(json.utf8), headers: headers, maxSpecBytes: maxSpecBytes)
    }

    @Test func busMessagesDecodeIntoTheirVerbs() throws {
        guard case .success(.tasks("g1", let page)) = bus("tasks", #"{"goal": "g1", "limit": 5, "cursor": "10"}"#) else {
            Issue.record("tasks"); return
        }
        #expect(page.limit == 5 && page.cursor == "10")
        guard case .success(.submit(let s, let tp)) = bus("submit", #"{"name": "n", "root": {"kind": "noop"}}"#, headers: ["traceparent": "00-x"]) else {
            Issue.record("submit"); return
        }
        #expect(s.name == "n" && tp == "00-x")
        guard case .success(.deny("g2", ["g2.0"], "why")) = bus("deny", #"{"goal": "g2", "tasks": ["g2.0"], "reason": "why"}"#) else {
            Issue.record("deny"); return
        }
        guard case .success(.goals(let first)) = bus("goals", " \n"), first.limit == nil, first.cursor == nil else { Issue.record("goals"); return }
        guard case .success(.moduleAddPart("h", 0, 9, [1])) = APIRequest.bus(verb: "module_add", payload: [1], headers: [
            ModuleTransfer.hashHeader: "h", ModuleTransfer.offsetHeader: "0", ModuleTransfer.sizeHeader: "9"], maxSpecBytes: 10) else {
            Issue.record("module part"); return
        }
        guard case .success(.droneAdd("d", .core)) = bus("drone_add", #"{"name": "d", "tier": "core"}"#) else { Issue.record("drone_add"); return }
        for verb in ["status", "modules"] { if case .failure = bus(verb) { Issue.record("\(verb)") } }
    }

    @Test func undecodableBusMessagesAreRefusedByKind() {
        #expect(refusal(bus("submit", String(repeating: " ", count: 11), maxSpecBytes: 10))?.kind == .tooLarge)
        #expect(refusal(bus("submit", String(repeating: "[", count: SpecLimits.jsonNesting + 1)))?.kind == .badRequest)
        #expect(refusal(bus("submit", "{"))?.error.hasPrefix("unreadable goal") == true)
        #expect(refusal(bus("goals", "[1]"))?.kind == .badRequest)
        #expect(refusal(bus("goal", "nonsense"))?.kind == .notFound)
        #expect(refusal(bus("approve", "nonsense"))?.kind == .badRequest)
        #expect(refusal(bus("module_add", "", headers: [ModuleTransfer.hashHeader: "h", ModuleTransfer.offsetHeader: "x"]))?.kind == .badRequest)
        #expect(refusal(bus("module_get", "nonsense"))?.kind == .notFound)
        #expect(refusal(bus("module_rm", "nonsense"))?.kind == .badRequest)
        #expect(refusal(bus("drone_add", "{}"))?.kind == .badRequest)
        #expect(refusal(bus("launch"))?.kind == .notFound)
    }

    func refusal(_ r: Result<APIRequest, APIError>) -> APIError? {
        if case .failure(let e) = r { return e }
        Issue.record("expected an error")
        return nil
    }

    @Test func eachKindHasItsOwnStatusAndTheBodyIsTodays() {
        let statuses = APIError.Kind.allCases.map(\.httpStatus)
        #expect(Set(statuses).count == statuses.count)
        #expect(APIError.Kind.notFound.httpStatus == 404 && APIError.Kind.tooLarge.httpStatus == 413 && APIError.Kind.storageFull.httpStatus == 507)
        guard case .response(let r) = HTTPAPI.reply(.failure(APIError(.conflict, "busy"))) else { Issue.record("no response"); return }
        #expect(r.status == 409 && String(decoding: r.body, as: UTF8.self) == "{\"error\":\"busy\"}\n")
        guard case .response(let created) = HTTPAPI.reply(.success(APIReply(body: Array("{}".utf8), nextCursor: "3")), created: true) else {
            Issue.record("no response"); return
        }
        #expect(created.status == 201 && created.headers.contains { $0.name == Paging.cursorHeader && $0.value == "3" })
    }

    /// The kind travels on the bus (a drone tells an unknown blob from a lost reply by it); a reply without one
    /// (an older honeycombd) or with a kind this version does not know still parses, as a bad request.
    @Test func theKindTravelsAndRepliesWithoutOneStillParse() throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        for kind in APIError.Kind.allCases {
            let e = APIError(kind, "x")
            #expect(try JSONDecoder().decode(APIError.self, from: try encoder.encode(e)) == e)
        }
        #expect(String(decoding: try encoder.encode(APIError(.storageFull, "x")), as: UTF8.self) == #"{"error":"x","kind":"storage_full"}"#)
        #expect(try JSONDecoder().decode(APIError.self, from: Data(#"{"error":"x"}"#.utf8)) == APIError(.badRequest, "x"))
        #expect(try JSONDecoder().decode(APIError.self, from: Data(#"{"error":"x","kind":"from_the_future"}"#.utf8)) == APIError(.badRequest, "x"))
        #expect(try JSONDecoder().decode(APIError.self, from: Data(#"{"error":"x","kind":7}"#.utf8)) == APIError(.badRequest, "x"))
    }
}

/// What HTTP requests decode into (`APIRequest.http`), from method, path, query and body.
@Suite struct APIRequestHTTPTests {
    func http(_ route: HTTPAPI.Route, _ target: String, body: String = "", headers: [(name: String, value: String)] = []) -> Result<APIRequest, APIError>? {
        APIRequest.http(route, HTTPRequest(method: "POST", target: target, headers: headers, body: Array(body.utf8)), maxSpecBytes: 1 << 20)
    }

    @Test func routesDecodeIntoTheirRequests() {
        guard case .success(.result("g1", let page))? = http(.goal("g1"), "/api/goals/g1?limit=5&cursor=10"), page.limit == 5, page.cursor == "10" else {
            Issue.record("result"); return
        }
        guard case .success(.submit(let s, "00-t"))? = http(.submit, "/api/goals", body: #"{"name": "n", "root": {"kind": "noop"}}"#,
                                                            headers: [("traceparent", "00-t")]), s.name == "n" else {
            Issue.record("submit"); return
        }
        guard case .success(.approve("g2", nil))? = http(.approve("g2"), "/api/goals/g2/approve") else { Issue.record("approve"); return }
        guard case .success(.deny("g2", ["g2.1"], "no"))? = http(.deny("g2"), "/api/goals/g2/deny", body: #"{"tasks": ["g2.1"], "reason": "no"}"#) else {
            Issue.record("deny"); return
        }
        guard case .success(.moduleRemove("abc"))? = http(.removeModule("abc"), "/api/modules/abc") else { Issue.record("module_rm"); return }
        #expect(http(.metrics, "/metrics") == nil && http(.events(allTasks: true), "/api/events") == nil && http(.health, "/healthz") == nil)
    }

    @Test func malformedRequestsAreBadRequests() {
        for (route, target, body) in [(HTTPAPI.Route.goals, "/api/goals?limit=ten", ""), (.goalTrace("g1"), "/api/goals/g1/trace?limit=x", ""),
                                      (.submit, "/api/goals", "{"), (.approve("g1"), "/api/goals/g1/approve", "[]")] {
            guard case .failure(let e)? = http(route, target, body: body) else { Issue.record("\(target) decoded"); continue }
            #expect(e.kind == .badRequest, "\(target)")
        }
    }
}
