import FoundationEssentials
import HiveCore
import Testing

/// The approval state machine: declared side effects wait in `awaiting_approval` until approved, denied or timed
/// out; every step is a journaled event and replays to the same state.
@Suite struct ApprovalTests {
    static let git = "/usr/bin/git"
    static let caps = ["backend:exec", "backend:noop", "exec:/bin/true", "exec:\(git)"]

    func gitTask(_ args: [String] = ["push"]) -> TaskSpec {
        TaskSpec(kind: "exec", input: TaskInput(command: Self.git, args: args))
    }

    @Test func commandTheChosenDroneDeclaresSideEffectingWaitsWithWhatItWillRun() throws {
        let h = Harness()
        h.drone("d1", caps: Self.caps + [ControlState.effectCapability(command: Self.git)])
        let g = try h.submit(.fork([gitTask(), TaskSpec(kind: "exec", input: TaskInput(command: "/bin/true"))]))
        let leased = h.schedule()
        #expect(leased.map(\.assignment.task) == ["\(g).2"], "only the harmless task runs")
        let t = h.state.tasks["\(g).1"]!
        #expect(t.state == .awaitingApproval)
        #expect(t.approvalRequest?.runs == "exec /usr/bin/git push")
        #expect(t.approvalRequest?.drone == "d1")
        #expect(t.approvalRequest?.proposedBy == "submitter of \(g)")
        #expect(t.approvalRequest?.why.contains("d1 declares /usr/bin/git side-effecting") == true)
        #expect(!t.state.isFinal)
        #expect(h.state.drones["d1"]!.running.count == 1, "a parked task holds no slot")
        #expect(h.schedule().isEmpty, "it is not asked twice")
        #expect(try h.replayMatches())
    }

    @Test func aDroneThatDoesNotDeclareTheCommandRunsItWithoutAsking() throws {
        let h = Harness()
        h.drone("d1", caps: Self.caps)
        let g = try h.submit(gitTask())
        #expect(h.schedule().count == 1)
        #expect(h.state.tasks["\(g).0"]!.state == .leased)
    }

    @Test func approvedTaskRunsAndIsNeverAskedAgainAfterRetries() throws {
        let h = Harness()
        h.drone("d1", caps: Self.caps + [ControlState.effectCapability(command: Self.git)])
        let g = try h.submit(TaskSpec(kind: "exec", input: TaskInput(command: Self.git), maxAttempts: 3))
        #expect(h.schedule().isEmpty)
        guard case .success(let fx) = h.state.approve(goal: g, tasks: [], by: "alice", now: h.now) else {
            Issue.record("approve failed"); return
        }
        h.effects.append(fx)
        #expect(h.state.tasks["\(g).0"]!.approvedBy == "alice")
        let a1 = h.schedule()[0]
        _ = h.finish(a1.assignment, drone: a1.drone, ok: false)
        let a2 = h.schedule()
        #expect(a2.count == 1, "the retry runs without a second approval")
        _ = h.finish(a2[0].assignment, drone: a2[0].drone)
        #expect(h.goal(g).state == .succeeded)
        #expect(try h.replayMatches())
    }

    @Test func deniedTaskIsDeadWithTheReasonAndTheGoalFails() throws {
        let h = Harness()
        h.drone("d1", caps: Self.caps + [ControlState.effectCapability(command: Self.git)])
        let g = try h.submit(.fork([gitTask(), gitTask(["tag"])]))
        #expect(h.schedule().isEmpty)
        guard case .success(let fx) = h.state.deny(goal: g, tasks: ["\(g).1"], by: "alice", reason: "not today", now: h.now) else {
            Issue.record("deny failed"); return
        }
        h.effects.append(fx)
        #expect(fx.finishedGoals == [g], "the denial ends the goal: the service hears of it from this command")
        let t = h.state.tasks["\(g).1"]!
        #expect(t.state == .dead)
        #expect(t.reason == "denied by alice: not today")
        #expect(h.goal(g).state == .failed)
        #expect(h.goal(g).reason?.contains("denied by alice: not today") == true)
        #expect(h.state.tasks["\(g).2"]!.state == .cancelled, "the all-join is decided; its other waiting task is cancelled")
        #expect(try h.replayMatches())
    }

    @Test func approvalTimeoutDeniesAndNamesTheLimit() throws {
        let h = Harness()
        h.drone("d1", caps: Self.caps + [ControlState.effectCapability(command: Self.git)])
        let g = try h.submit(gitTask(), budget: Budget(approvalTimeoutMillis: 500))
        #expect(h.schedule().isEmpty)
        h.now += 400
        h.tick()
        #expect(h.state.tasks["\(g).0"]!.state == .awaitingApproval)
        h.now += 200
        h.tick()
        let t = h.state.tasks["\(g).0"]!
        #expect(t.state == .dead)
        #expect(t.reason == "approval timed out after 500 ms (budget.approval_timeout_ms); denied")
        #expect(h.goal(g).state == .failed)
        #expect(try h.replayMatches())
    }

    @Test func declaredApprovalOnAForkCoversEveryTaskUnderIt() throws {
        let h = Harness()
        h.drone("d1", slots: 4)
        var guarded = TaskSpec.fork(exec(2))
        guarded.approval = .required
        let g = try h.submit(.fork([guarded, TaskSpec(kind: "noop")]))
        let leased = h.schedule()
        #expect(leased.map(\.assignment.kind) == ["noop"])
        let waiting = h.state.tasks(of: g).filter { $0.state == .awaitingApproval }.map(\.id)
        #expect(waiting == ["\(g).2", "\(g).3"])
        #expect(h.state.tasks["\(g).2"]!.approvalRequest?.why.contains("approval") == true)
        // Named tasks only: the other keeps waiting.
        guard case .success(let e) = h.state.approve(goal: g, tasks: ["\(g).2"], by: "operator", now: h.now) else {
            Issue.record("approve failed"); return
        }
        h.effects.append(e)
        #expect(h.state.tasks["\(g).3"]!.state == .awaitingApproval)
        #expect(h.schedule().map(\.assignment.task) == ["\(g).2"])
        #expect(try h.replayMatches())
    }

    @Test func declaredApprovalWaitsEvenWithNoDroneFreeAndSaysWhere() throws {
        let h = Harness()
        h.drone("busy", slots: 1)
        var spec = TaskSpec(kind: "exec", tier: TierRequirement(.core), input: TaskInput(command: "/bin/true"))
        spec.approval = .required
        let g = try h.submit(spec)
        #expect(h.schedule().isEmpty)
        let t = h.state.tasks["\(g).0"]!
        #expect(t.state == .awaitingApproval)
        #expect(t.approvalRequest?.drone == nil)
        #expect(t.approvalRequest?.tier == "core")
    }

    @Test func workADroneProposesWaitsWhenTheProposerDeclaresItSideEffecting() throws {
        let h = Harness()
        // The proposer declares git side-effecting; the only drone that can run the child does not.
        h.drone("proposer", slots: 1, caps: Self.caps + [ControlState.effectCapability(command: Self.git)])
        let g = try h.submit(TaskSpec(kind: "noop"))
        let a = h.schedule()[0]
        h.drone("runner", slots: 2, caps: Self.caps)
        guard case .success = h.finish(a.assignment, drone: a.drone, fork: [gitTask(), TaskSpec(kind: "noop")]) else {
            Issue.record("fork refused"); return
        }
        let leased = h.schedule()
        #expect(leased.map(\.assignment.kind) == ["noop"])
        let child = h.state.tasks["\(g).1"]!
        #expect(child.state == .awaitingApproval)
        #expect(child.proposedBy == "proposer")
        #expect(child.approvalRequest?.proposedBy == "drone proposer")
        #expect(child.approvalRequest?.why.contains("proposed it") == true)
        #expect(try h.replayMatches())
    }

    @Test func approveAndDenyRefuseWhatIsNotWaiting() throws {
        let h = Harness()
        h.drone("d1", caps: Self.caps)
        let g = try h.submit(.fork([TaskSpec(kind: "noop")]))
        #expect(h.state.approve(goal: g, tasks: [], by: "x", now: h.now) == .failure(.nothingAwaiting(g)))
        #expect(h.state.approve(goal: g, tasks: ["\(g).1"], by: "x", now: h.now) == .failure(.notAwaiting("\(g).1", .pending)))
        #expect(h.state.deny(goal: g, tasks: ["g99.1"], by: "x", reason: "r", now: h.now) == .failure(.unknownTask("g99.1", goal: g)))
        #expect(h.state.approve(goal: "g99", tasks: [], by: "x", now: h.now) == .failure(.unknownGoal("g99")))
        let long = String(repeating: "x", count: ApprovalLimits.reasonBytes + 1)
        #expect(h.state.deny(goal: g, tasks: [], by: "x", reason: long, now: h.now)
                == .failure(.reasonTooLong(bytes: ApprovalLimits.reasonBytes + 1, limit: ApprovalLimits.reasonBytes)))
    }

    @Test func awaitingTasksSurviveASnapshotAndStillTimeOut() throws {
        let h = Harness()
        h.drone("d1", caps: Self.caps + [ControlState.effectCapability(command: Self.git)])
        let g = try h.submit(gitTask(), budget: Budget(approvalTimeoutMillis: 1_000))
        #expect(h.schedule().isEmpty)
        let restored = ControlState()
        restored.restore(h.state.snapshot())
        #expect(restored.tasks["\(g).0"]!.state == .awaitingApproval)
        let denied = restored.tick(now: h.now + 2_000)
        #expect(denied.events.count == 1 && denied.finishedGoals == [g])
        #expect(restored.goals[g]!.state == .failed)
    }

    @Test func planStepApprovalRequiredParksEveryCallOfTheStep() throws {
        let h = Harness()
        h.drone("d1", slots: 4, caps: Self.caps)
        var step = StepSpec(id: "deploy", n: 2)
        step.exec = TaskInput(command: "/bin/true")
        step.approval = .required
        let g = try h.submit(plan: PlanSpec(goal: "ship it", steps: [step]))
        #expect(h.schedule().isEmpty)
        let calls = h.state.tasks(of: g).filter { !$0.isStructural }
        #expect(calls.count == 2 && calls.allSatisfy { $0.state == .awaitingApproval })
        #expect(try h.replayMatches())
    }
}
