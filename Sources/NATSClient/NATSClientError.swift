import HiveTLS

/// Everything the client can fail with, each with a message a user can act on.
public enum NATSClientError: Error, Equatable, Sendable, CustomStringConvertible {
    case invalidURL(String, reason: String)
    case noServers
    /// No server could be reached; the last attempt's reason.
    case connectionFailed(server: String, reason: String)
    /// The server refused our credentials.
    case authorizationViolation(server: String)
    /// The server sent `-ERR`.
    case serverError(String)
    /// The connection dropped while the operation waited (flush, initial handshake).
    case connectionLost
    /// The operation needs a live connection and there is none right now (reconnecting).
    case notConnected
    /// The client was closed (by `close`/`drain`, or after giving up reconnecting).
    case closed
    case timeout(seconds: Double)
    /// A request reached no subscriber (the server's 503 status).
    case noResponders(subject: String)
    case maxPayloadExceeded(size: Int, max: Int)
    /// Publishing while disconnected would pass the reconnect buffer's bound.
    case reconnectBufferFull(limit: Int)
    case invalidSubject(String)
    case invalidHeader(String)
    /// TLS could not be set up (unreadable files) or the server's certificate did not verify (wrong CA, expired,
    /// another host), or the handshake failed: the message says which.
    case tls(TLSError)
    /// The server requires TLS (its INFO says `tls_required`) although the client asked for none, and the upgrade
    /// failed (typically: its certificate is signed by a private CA the client was not given).
    case tlsRequired(server: String, TLSError)

    public var description: String {
        switch self {
        case .invalidURL(let u, let r): return "invalid NATS URL '\(u)': \(r)"
        case .noServers: return "no NATS server URL given"
        case .connectionFailed(let s, let r): return "cannot connect to \(s): \(r)"
        case .authorizationViolation(let s): return "\(s) refused the credentials (Authorization Violation)"
        case .serverError(let e): return "server error: \(e)"
        case .connectionLost: return "connection lost before the operation completed"
        case .notConnected: return "not connected (reconnecting); try again"
        case .closed: return "the NATS connection is closed"
        case .timeout(let s): return "timed out after \(s) s"
        case .noResponders(let s): return "no responders for '\(s)'"
        case .maxPayloadExceeded(let n, let m): return "payload of \(n) bytes exceeds the server's max_payload of \(m)"
        case .reconnectBufferFull(let l): return "disconnected and the reconnect buffer (\(l) bytes) is full"
        case .invalidSubject(let s): return "invalid subject '\(s)'"
        case .tls(let e): return e.description
        case .tlsRequired(let s, let e): return "\(s) requires TLS (connect with tls://\(s) and --tls-ca CA), and the upgrade failed: \(e)"
        case .invalidHeader(let h): return "invalid header '\(h)': names need no spaces, colons or control characters; values no CR/LF"
        }
    }
}
