import NATSWire

/// Why a client connection ended; logged once per connection.
enum CloseReason: Sendable {
    case clientClosed
    case readError(Int32)
    case writeError(Int32)
    case protocolError(NATSProtocolError)
    case slowConsumerPending
    case slowConsumerWriteDeadline
    case serverShutdown
    /// The connection's principal was removed or changed (`Broker.setPrincipals`).
    case principalRevoked

    var logName: String {
        switch self {
        case .clientClosed: return "client_closed"
        case .readError: return "read_error"
        case .writeError: return "write_error"
        case .protocolError(let e): return e.logReason
        case .slowConsumerPending: return "slow_consumer_max_pending"
        case .slowConsumerWriteDeadline: return "slow_consumer_write_deadline"
        case .serverShutdown: return "server_shutdown"
        case .principalRevoked: return "principal_revoked"
        }
    }

    /// Missing or wrong credentials, or no CONNECT in time on a server that requires auth.
    var isAuthRefusal: Bool {
        switch self {
        case .protocolError(.authorizationViolation), .protocolError(.authenticationTimeout): return true
        default: return false
        }
    }

    var isSlowConsumer: Bool {
        switch self {
        case .slowConsumerPending, .slowConsumerWriteDeadline: return true
        default: return false
        }
    }
}
