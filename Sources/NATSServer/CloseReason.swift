import HiveTLS
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
    /// TLS port: the handshake failed or did not finish within the TLS timeout.
    case tlsHandshakeFailed(TLSError)
    /// TLS port: the client spoke plain text (told `-ERR 'Secure Connection - TLS Required'`).
    case tlsRequired
    /// An encrypted read failed after the handshake (a corrupt record, an alert from the client).
    case tlsFailed(TLSError)

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
        case .tlsHandshakeFailed: return "tls_handshake_failed"
        case .tlsRequired: return "tls_required"
        case .tlsFailed: return "tls_error"
        }
    }

    /// Why the TLS handshake failed, in words for the operator's log; nil when the reason is not a failed handshake.
    var tlsHandshakeFailure: String? {
        switch self {
        case .tlsHandshakeFailed(let e): return e.description
        case .tlsRequired: return "the client sent plain text to a port that requires TLS"
        default: return nil
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
