import HiveCore
import NATSServer

/// Hive's roles: shorthands in honeycombd's `principals` config that expand to broker permissions (the broker
/// itself knows only permissions). The table in Docs/ARCHITECTURE.md ("Trust") is the contract; `N` below is
/// the principal's name, which must therefore be a single subject token for roles that use it.
public enum PrincipalRole: String, Sendable, CaseIterable {
    /// honeycombd itself: everything.
    case control
    /// Submit, cancel, approve, admin: every API verb; reads its replies and goal events.
    case `operator`
    /// Read-only: the read verbs; replies and goal events (what it may read through the API anyway).
    case observer
    /// One drone: its own announce/heartbeat/goodbye/result/blob subjects (the last: outputs too large for a result,
    /// accepted while it holds a lease), module and blob fetches (content a task names by hash); reads only its own
    /// assignments, cancels and replies. No other API verb: a drone cannot list, submit or read goals.
    case drone

    /// The API verbs an observer may call.
    static let readVerbs = [APISubject.status, APISubject.drones, APISubject.goals, APISubject.goal,
                            APISubject.tasks, APISubject.result, APISubject.trace, APISubject.modules,
                            APISubject.blobGet]

    /// Whether the expansion puts the principal's name into subjects.
    var usesName: Bool { self == .drone }

    /// The permissions this role gives the principal named `name`.
    public func permissions(name n: String) -> Permissions {
        switch self {
        case .control:
            return .all
        case .operator:
            return Permissions(publish: SubjectRules(allow: ["hive.v1.api.>"]),
                               subscribe: SubjectRules(allow: ["_INBOX.>", "hive.v1.events.>"]))
        case .observer:
            return Permissions(publish: SubjectRules(allow: Self.readVerbs),
                               subscribe: SubjectRules(allow: ["_INBOX.>", "hive.v1.events.>"]))
        case .drone:
            // Every subject a drone publishes carries its id: only this drone may publish them.
            return Permissions(publish: SubjectRules(allow: [APISubject.hello(n), APISubject.heartbeat(n), APISubject.bye(n),
                                                             APISubject.result(n), APISubject.moduleGet,
                                                             APISubject.blobGet, APISubject.blobUpload(n)]),
                               subscribe: SubjectRules(allow: [APISubject.assign(n), APISubject.cancelTask(n),
                                                               "_INBOX.\(n).>"]))
        }
    }

    /// Why `name` cannot be used with this role, or nil. A name that is not one plain subject token would widen
    /// or break the subjects it is put into (`a.b`, `*`, `>`).
    public func problem(name: String) -> String? {
        guard usesName else { return nil }
        return APISubject.isValidDroneID(name) ? nil
            : "a \(rawValue) principal's name is its id on the bus (drone --name NAME): 1 to 64 letters, digits, - and _"
    }
}
