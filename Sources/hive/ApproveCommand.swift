import Foundation
import HiveCommandLine
import HiveCore
import NATSClient

/// `hive approve GOAL [TASK…]` and `hive deny GOAL [TASK…] --reason TEXT`: decide tasks waiting in
/// `awaiting_approval` (none named: every such task of the goal). Approved tasks go back to pending and are never
/// asked again; denied ones end dead with "denied by operator: TEXT". Needs an operator's credential.
func approvalCommand(_ p: ParsedArguments, deny: Bool) async {
    let cli = ControlCLI(p)
    let reason = p.string("--reason")
    let verb = deny ? "deny" : "approve"
    guard let goal = cli.rest.first else { fail("\(verb) needs a GOAL id (see hive goals), then optionally TASK ids") }
    if deny && (reason ?? "").isEmpty { p.refuse("deny needs --reason TEXT (it is recorded with the denial)") }
        let nc = await cli.connect()
    defer { nc.close() }
    let decision = ApprovalDecision(goal: goal, tasks: cli.rest.count > 1 ? Array(cli.rest.dropFirst()) : nil, reason: reason)
    do {
        let reply = try await cli.call(nc, deny ? APISubject.deny : APISubject.approve, decision, as: ApprovalReply.self)
        if cli.json { return cli.printJSON(reply) }
        print("\(deny ? "denied" : "approved") \(reply.tasks.joined(separator: " "))")
    } catch {
        fail(ErrorSentence.of(error, urls: cli.urls), code: 1)
    }
}

/// One line for a task waiting for approval: what it will run, where, who proposed it and why.
func approvalLine(_ a: ApprovalRequest) -> String {
    let place = a.drone.map { "on \($0)" } ?? a.tier.map { "on a \($0) drone" } ?? "on any drone"
    return "awaits approval: \(a.runs) \(place), proposed by \(a.proposedBy); \(a.why)"
}
