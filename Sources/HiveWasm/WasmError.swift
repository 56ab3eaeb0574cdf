/// Why a WebAssembly module was refused, precise enough to find the byte: decoding errors carry the offset.
public enum WasmError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The bytes do not follow the binary format.
    case malformed(offset: Int, reason: String)
    /// Well-formed, but breaks a validation rule (types, indices, limits).
    case invalid(String)

    public var description: String {
        switch self {
        case .malformed(let offset, let reason): return "malformed module at byte \(offset): \(reason)"
        case .invalid(let reason): return "invalid module: \(reason)"
        }
    }
}
