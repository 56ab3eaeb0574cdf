/// Why a running module stopped abnormally. A trap is a result of the task, never a crash of the drone.
public enum Trap: Error, Equatable, Sendable, CustomStringConvertible {
    case unreachable
    case memoryOutOfBounds
    case integerDivideByZero
    case integerOverflow
    case invalidConversion
    case indirectCallTypeMismatch
    case undefinedElement
    case uninitializedElement
    case tableOutOfBounds
    case callStackExhausted
    /// The instruction budget (fuel) ran out.
    case fuelExhausted
    /// The wall-clock limit passed.
    case timeout
    /// The host stopped it (the task was cancelled).
    case interrupted
    /// The module called `proc_exit` (not an error: its exit status).
    case exit(Int32)
    /// A host function failed (an import the module needs and the host could not serve).
    case host(String)

    public var description: String {
        switch self {
        case .unreachable: return "unreachable executed"
        case .memoryOutOfBounds: return "out of bounds memory access"
        case .integerDivideByZero: return "integer divide by zero"
        case .integerOverflow: return "integer overflow"
        case .invalidConversion: return "invalid conversion to integer"
        case .indirectCallTypeMismatch: return "indirect call type mismatch"
        case .undefinedElement: return "undefined element"
        case .uninitializedElement: return "uninitialized element"
        case .tableOutOfBounds: return "out of bounds table access"
        case .callStackExhausted: return "call stack exhausted"
        case .fuelExhausted: return "fuel exhausted"
        case .timeout: return "wall-clock timeout"
        case .interrupted: return "interrupted (the task was cancelled)"
        case .exit(let code): return "exit \(code)"
        case .host(let why): return why
        }
    }
}
