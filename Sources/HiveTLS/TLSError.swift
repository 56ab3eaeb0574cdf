/// Why TLS could not be set up or a handshake failed, in words a user can act on.
public enum TLSError: Error, CustomStringConvertible, Sendable, Equatable {
    /// A certificate, key or CA file could not be read or parsed.
    case cannotLoad(what: String, path: String, reason: String)
    /// The key file is not the certificate's key.
    case keyMismatch(certificate: String, key: String)
    /// The peer's certificate did not verify: `reason` says which check failed (CA, expiry, host).
    case untrusted(peer: String, reason: String)
    /// The handshake failed for another reason (a plain-text peer, no shared cipher, an alert from the peer).
    case handshakeFailed(peer: String, reason: String)
    /// The handshake did not finish in time.
    case handshakeTimedOut(peer: String, seconds: Double)
    /// An encrypted read or write failed after the handshake.
    case connectionFailed(reason: String)
    /// Making certificates (`honeycombd tls init`) failed.
    case cannotIssue(reason: String)
    /// A TLS setting given on the command line or in the config is inconsistent.
    case misconfigured(String)

    public var description: String {
        switch self {
        case .cannotLoad(let what, let path, let reason): return "cannot load the TLS \(what) from \(path): \(reason)"
        case .keyMismatch(let cert, let key): return "the TLS key \(key) does not belong to the certificate \(cert)"
        case .untrusted(let peer, let reason): return "TLS: \(peer)'s certificate is not trusted: \(reason)"
        case .handshakeFailed(let peer, let reason): return "TLS handshake with \(peer) failed: \(reason)"
        case .handshakeTimedOut(let peer, let s): return "TLS handshake with \(peer) did not finish within \(s) s"
        case .connectionFailed(let reason): return "TLS connection failed: \(reason)"
        case .cannotIssue(let reason): return "cannot make the certificates: \(reason)"
        case .misconfigured(let why): return why
        }
    }
}
