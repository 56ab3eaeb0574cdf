import Foundation
import HiveCore
import NATSClient

/// `hive approve GOAL [TASK…]` and `hive deny GOAL [TASK…] --reason TEXT`: decide tasks waiting in
/// `awaiting_approval` (none named: every such task of the goal). Approved tasks go back to pending and are never
/// asked again; denied ones end dead with "denied by operator: TEXT". Needs an operator's credential.
func approvalCommand(_ args: [String], deny: Bool) async {
    var rest: [String] = []
    var reason: String?
    var i = 0
    while i < args.count {
        if args[i] == "--reason" {
            i += 1
            guard i < args.count else { fail("--reason needs TEXT") }
            reason = args[i]
        } else {
            rest.append(args[i])
        }
        i += 1
    }
    let cli = ControlCLI(rest)
    let verb = deny ? "deny" : "approve"
    guard let goal = cli.rest.first else { fail("\(verb) needs a GOAL id (see hive goals), then optionally TASK ids") }
    if deny && (reason ?? "").isEmpty { fail("deny needs --reason TEXT (it is recorded with the denial)") }
    if !deny && reason != nil { fail("--reason is for deny") }
    let nc = await cli.connect()
    defer { nc.close() }
    let decision = ApprovalDecision(goal: goal, tasks: cli.rest.count > 1 ? Array(cli.rest.dropFirst()) : nil, reason: reason)
    do {
        let reply = try await cli.call(nc, deny ? APISubject.deny : APISubject.approve, decision, as: ApprovalReply.self)
        if cli.json { return cli.printJSON(reply) }
        print("\(deny ? "denied" : "approved") \(reply.tasks.joined(separator: " "))")
    } catch {
        fail("\(error)", code: 1)
    }
}

/// One line for a task waiting for approval: what it will run, where, who proposed it and why.
func approvalLine(_ a: ApprovalRequest) -> String {
    let place = a.drone.map { "on \($0)" } ?? a.tier.map { "on a \($0) drone" } ?? "on any drone"
    return "awaits approval: \(a.runs) \(place), proposed by \(a.proposedBy); \(a.why)"
}
