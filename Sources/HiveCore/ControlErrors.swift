/// Why a submitted goal was refused.
public enum SubmitError: Error, Equatable, Sendable, CustomStringConvertible {
    case tooManyTasks(Int, limit: Int)
    case tooDeep(Int, limit: Int)
    case invalid(String)
    /// A number out of its range, a string or list too long (`SpecLimits`).
    case violation(SpecViolation)
    /// A work task whose kind no backend serves (`TaskSpec.workKinds`).
    case unknownKind(path: String, kind: String)

    public var description: String {
        switch self {
        case .violation(let v): return "invalid goal: \(v)"
        case .tooManyTasks(let n, let l): return "the goal has \(n) tasks; its budget allows \(l) (budget.max_tasks)"
        case .tooDeep(let d, let l): return "the goal's task tree is \(d) deep; its budget allows \(l) (budget.max_depth)"
        case .invalid(let why): return "invalid goal: \(why)"
        case .unknownKind(let path, let kind):
            return "invalid goal: \(path) has kind '\(kind)', which no backend runs; the kinds are \(TaskSpec.workKinds.joined(separator: ", ")) (and fork)"
        }
    }
}

/// Why a drone's result was not accepted (logged; the drone is not told).
public enum ResultRejection: Error, Equatable, Sendable, CustomStringConvertible {
    case unknownTask
    case notLeased(TaskState)
    case staleAttempt(expected: Int, got: Int)
    case staleToken
    case wrongDrone(holder: DroneID)
    case invalidFork(String)

    /// The kind of refusal, without its particulars (what log throttles are keyed by).
    public var kind: String {
        switch self {
        case .unknownTask: return "unknown_task"
        case .notLeased: return "not_leased"
        case .staleAttempt: return "stale_attempt"
        case .staleToken: return "stale_token"
        case .wrongDrone: return "wrong_drone"
        case .invalidFork: return "invalid_fork"
        }
    }

    public var description: String {
        switch self {
        case .unknownTask: return "unknown task"
        case .notLeased(let s): return "task is \(s.rawValue), not leased"
        case .staleAttempt(let e, let g): return "stale attempt \(g) (current \(e))"
        case .staleToken: return "stale lease token"
        case .wrongDrone(let h): return "task is leased to \(h)"
        case .invalidFork(let why): return "invalid fork: \(why)"
        }
    }
}
