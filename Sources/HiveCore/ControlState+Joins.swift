/// Joins: a task reached a final state, so its parent's join (all, any, quorum, vote) may be decided, and with
/// the root, the goal. A plan's step nodes are decided by `ControlState+Plans` instead.
extension ControlState {
    /// A task reached a final state: decide its parent's join, or its goal.
    func settled(_ t: TaskRecord, into fx: inout ControlEffects) {
        if let p = t.parent, tasks[p]?.kind == TaskSpec.stepKind { return stepChildSettled(t, into: &fx) }
        guard let parentID = t.parent else {
            finishGoal(t.goal, succeeded: t.state == .succeeded, reason: t.reason, at: t.finishedAt ?? 0, into: &fx)
            return
        }
        guard var parent = tasks[parentID], parent.state == .waiting, let join = parent.join else { return }
        parent.childrenFinal += 1
        if t.state == .succeeded { parent.childrenSucceeded += 1 }
        let total = parent.children.count
        let ok = parent.childrenSucceeded
        let open = total - parent.childrenFinal
        let needed = join.needed(of: total)
        let at = t.finishedAt ?? 0
        if join == .vote {
            let answer = JoinPolicy.normalize(t.answer ?? "")
            if t.state == .succeeded && !answer.isEmpty { parent.votes?[answer, default: 0] += 1 }
            // Decided once the leader cannot be caught: the open children all voting for the runner-up would
            // still leave it behind (ties go to the smaller answer, so a tie is only decided when nothing is open).
            let ranked = (parent.votes ?? [:]).sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }
            let leader = ranked.first
            let runnerUp = ranked.dropFirst().first?.value ?? 0
            if let leader, leader.value > runnerUp + open || (open == 0 && leader.value > 0) {
                parent.state = .succeeded
                parent.result = TaskOutput(drone: "", output: firstRawAnswer(among: parent.children, matching: leader.key))
                parent.reason = "vote: \(leader.value) of \(total) for this answer"
            } else if open == 0 {
                parent.state = .dead
                parent.reason = "vote: no child produced an answer (\(total) failed)"
            } else {
                tasks[parentID] = parent
                return
            }
        } else if ok >= needed {
            parent.state = .succeeded
        } else if ok + open < needed {
            parent.state = .dead
            let failed = total - ok - open
            let first = t.state == .dead ? t.reason.map { "; first: \($0)" } ?? "" : ""
            parent.reason = "join \(join) cannot be met: \(failed) of \(total) children failed\(first)"
        } else {
            tasks[parentID] = parent
            return
        }
        parent.finishedAt = at
        tasks[parentID] = parent
        // Speculative work no longer needed (any/quorum decided, or a failed all): stop it.
        if open > 0 {
            for k in parent.children where tasks[k].map({ !$0.state.isFinal }) ?? false {
                cancelSubtree(k, reason: "join \(join) of \(parentID) already decided", at: at, into: &fx)
            }
        }
        settled(parent, into: &fx)
    }

    /// The winning answer as its first voter (by child order) wrote it, trimmed: normalization is for counting,
    /// and lower-casing or joining lines would mangle a model's text.
    func firstRawAnswer(among children: [TaskID], matching key: String) -> String {
        for c in children {
            guard let t = tasks[c], t.state == .succeeded, let out = t.answer,
                  JoinPolicy.normalize(out) == key else { continue }
            let blank: (Character) -> Bool = { $0.isWhitespace }
            return String(out.drop(while: blank).reversed().drop(while: blank).reversed())
        }
        return key
    }
}
