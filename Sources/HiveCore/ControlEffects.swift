/// What one command did, returned to its caller as a value: the events it applied (for the journal) and what the
/// service must carry out besides (assignments to send, tasks to stop on drones, goals that ended).
///
/// Commands return it rather than leave it in the state for the service to drain, so a caller cannot forget to
/// carry it out, a test reads exactly what one command did, and nothing one command decided leaks into the next.
/// Inside the state machine it is threaded `inout` through `apply` and the helpers that decide joins and plans.
public struct ControlEffects: Sendable, Equatable {
    /// A task to stop on a drone (its goal ended, or a join no longer needs it).
    public struct Cancellation: Sendable, Equatable {
        public var drone: DroneID
        public var task: TaskID
        public init(drone: DroneID, task: TaskID) {
            self.drone = drone
            self.task = task
        }
    }

    /// The events applied, in the order they were applied (replaying them rebuilds the same state).
    public var events: [JournalEvent] = []
    /// Leases `schedule` made: the assignment to send and the drone it goes to (each one's `taskLeased` is in
    /// `events`).
    public var assignments: [(assignment: Assignment, drone: DroneID)] = []
    /// Tasks to stop on drones.
    public var cancellations: [Cancellation] = []
    /// Goals that reached a final state.
    public var finishedGoals: [GoalID] = []

    public init() {}

    /// Adds what `other` did after what this did: several commands carried out as one (the entries of a result
    /// list are journaled in one append, not one each).
    public mutating func merge(_ other: ControlEffects) {
        events += other.events
        assignments += other.assignments
        cancellations += other.cancellations
        finishedGoals += other.finishedGoals
    }

    /// Nothing to journal and nothing to carry out.
    public var isEmpty: Bool { events.isEmpty && assignments.isEmpty && cancellations.isEmpty && finishedGoals.isEmpty }

    /// Adds what `other` holds after what this holds.
    public mutating func append(_ other: ControlEffects) {
        events += other.events
        assignments += other.assignments
        cancellations += other.cancellations
        finishedGoals += other.finishedGoals
    }

    public static func == (a: ControlEffects, b: ControlEffects) -> Bool {
        a.events == b.events && a.cancellations == b.cancellations && a.finishedGoals == b.finishedGoals
            && a.assignments.elementsEqual(b.assignments) { $0.assignment == $1.assignment && $0.drone == $1.drone }
    }
}
