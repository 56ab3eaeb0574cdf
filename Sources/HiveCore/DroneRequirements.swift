/// What a drone must offer to run a task at all (free slots and budgets aside): its tier, the backend, for exec
/// the command (drones advertise `exec:<path>`), for an agent every tool it may call (`tool:<name>`), and every
/// required capability. The capability keys are built
/// once per task, not once per drone looked at.
struct DroneRequirements: Hashable {
    let tier: TierRequirement?
    let backend: String
    let command: String?
    let requires: [String]

    init(_ t: TaskRecord) {
        tier = t.tier
        backend = "backend:\(t.kind)"
        command = t.kind == "exec" ? t.input?.command.map { "exec:\($0)" } : nil
        requires = t.requires + (t.kind == "agent" ? (t.input?.agent?.tools ?? []).map(ToolAdvert.capability) : [])
    }

    @inline(__always) func met(by d: DroneRecord) -> Bool {
        if let tier, !tier.admits(d.tier) { return false }
        if !d.capabilities.contains(backend) { return false }
        if let command, !d.capabilities.contains(command) { return false }
        return requires.allSatisfy { d.capabilities.contains($0) }
    }
}
