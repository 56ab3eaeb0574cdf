import FoundationEssentials
import HiveCore
import HiveHTTP

extension APIRequest {
    /// The API call an HTTP request makes on `route` (decided by `HTTPAPI.route`), or why it is not one; nil for
    /// routes that are not API calls (pages, assets, sessions, event streams, metrics). The goal comes from the
    /// path, a page from `?limit=N&cursor=C`, a spec or an approval's tasks and reason from the body.
    static func http(_ route: HTTPAPI.Route, _ r: HTTPRequest, maxSpecBytes: Int) -> Result<APIRequest, APIError>? {
        switch route {
        case .health, .dashboard, .asset, .login, .logout, .session, .metrics, .events, .goalEvents: return nil
        case .status: return .success(.status)
        case .drones: return page(r).map { .drones($0) }
        case .goals: return page(r).map { .goals($0) }
        case .submit: return APIBody.goalSpec(r.body, maxSpecBytes: maxSpecBytes).map { .submit($0, traceparent: r.header("traceparent")) }
        case .goal(let goal): return page(r).map { .result(goal, $0) }
        case .goalTasks(let goal): return page(r).map { .tasks(goal, $0) }
        // A trace is not paged, but a malformed page request is refused as on every goal route.
        case .goalTrace(let goal): return page(r).map { _ in .trace(goal) }
        case .cancel(let goal): return .success(.cancel(goal))
        case .approve(let goal), .deny(let goal):
            let body = r.body.isEmpty ? Data("{}".utf8) : Data(r.body)
            guard let form = try? JSONDecoder().decode(ApprovalForm.self, from: body) else {
                return .failure(APIError(.badRequest, "send {\"tasks\": [TASK…], \"reason\": TEXT} (tasks optional: every task awaiting approval)"))
            }
            if case .approve = route { return .success(.approve(goal: goal, tasks: form.tasks)) }
            return .success(.deny(goal: goal, tasks: form.tasks, reason: form.reason))
        case .modules: return .success(.modules)
        case .removeModule(let hash): return .success(.moduleRemove(module: hash))
        }
    }

    /// What `POST /api/goals/ID/approve|deny` takes (the goal is in the path).
    struct ApprovalForm: Decodable {
        var tasks: [String]?
        var reason: String?
    }

    /// `?limit=N&cursor=C` of the list routes (`Paging`); `limit` must be a number (its range is the service's check).
    static func page(_ r: HTTPRequest) -> Result<PageRequest, APIError> {
        var page = PageRequest(cursor: r.query["cursor"])
        if let text = r.query["limit"] {
            guard let n = Int(text) else { return .failure(APIError(.badRequest, "limit must be a number (1 to \(Paging.maxLimit))")) }
            page.limit = n
        }
        return .success(page)
    }
}
