/// Agents' tool pins (see `AgentSpec.pins`): a goal holds on to the definitions of the tools it may call as live
/// drones advertised them when it was submitted, or, when none offered a tool then, as the drone of its first
/// lease did (journaled in that `taskLeased`). Drones refuse a call whose definition changed since. A bound tool's
/// pin covers its binding too (`AgentSpec.boundPin`).
extension ControlState {
    /// The pin of `tool` on the first active drone (by id) that advertises it, and the definition's prompt bytes
    /// as that drone advertises them (nil from a drone that does not say).
    func livePin(_ tool: String) -> (pin: String, bytes: Int?)? {
        var best: (DroneID, String, Int?)?
        for d in drones.values where d.state == .active {
            guard let pin = d.toolPins?[tool] else { continue }
            if best == nil || d.id < best!.0 { best = (d.id, pin, d.toolBytes?[tool]) }
        }
        return best.map { ($0.1, $0.2) }
    }

    /// `spec` with every agent task's unpinned tools pinned to what live drones advertise (the spec is what is
    /// journaled, so a replay keeps the same pins). Task trees only: a plan's agent steps pin at first lease.
    func pinningAgents(_ spec: GoalSpec) -> GoalSpec {
        guard spec.plan == nil, !drones.isEmpty else { return spec }
        var out = spec
        out.root = pinning(spec.root)
        return out
    }

    /// Validated trees are at most `SpecLimits.budgetMaxDepth` deep, so the recursion is bounded.
    private func pinning(_ t: TaskSpec) -> TaskSpec {
        var t = t
        if t.kind == "agent", var agent = t.input?.agent {
            var pins = agent.pins ?? [:]
            var bytes = 0, sized = true
            for tool in agent.tools {
                guard let live = livePin(tool) else { sized = false; continue }
                let expected = agent.boundPin(tool, definitionPin: live.pin)
                if pins[tool] == nil { pins[tool] = expected }
                // Sized only when every tool is pinned to the definition whose size is known (a submitter's own pin
                // may name another definition: its size is not known here). A bound tool's definition as the model
                // sees it is a little smaller than advertised: the estimate errs high.
                guard pins[tool] == expected, let b = live.bytes else { sized = false; continue }
                bytes = bytes.saturatingAdding(min(max(0, b), SpecLimits.agentToolBytes.upperBound))
            }
            agent.pins = pins.isEmpty ? nil : pins
            if sized { agent.toolBytes = min(bytes, SpecLimits.agentToolBytes.upperBound) }
            t.input?.agent = agent
        }
        if let children = t.children { t.children = children.map(pinning) }
        return t
    }

    /// At a lease: the pins drone `drone` advertises for `t`'s tools that the goal has not pinned yet (nil: none).
    func unpinnedTools(_ t: TaskRecord, on drone: DroneID) -> [String: String]? {
        guard t.kind == "agent", let agent = t.input?.agent, let offered = drones[drone]?.toolPins else { return nil }
        var out: [String: String] = [:]
        for tool in agent.tools where agent.pins?[tool] == nil {
            if let pin = offered[tool] { out[tool] = agent.boundPin(tool, definitionPin: pin) }
        }
        return out.isEmpty ? nil : out
    }
}

extension TaskRecord {
    /// What the task answered: its output, or for an agent the transcript's answer (its calls are the working, not
    /// the answer). Joins, votes, critics and plan steps compare and pass on this.
    public var answer: String? { kind == "agent" ? AgentTranscript.parse(result?.output)?.answer : result?.output }
}
