#if canImport(Glibc)
import Glibc
#endif
import CTLS
import HiveSystem

/// One TLS connection over a socket the caller owns (`SSL`).
///
/// Every OpenSSL call on it runs under its own lock, so one thread may read while another writes (the broker
/// reads on a connection's loop and writes from whichever loop flushes it; the client has a reader and a
/// writer thread). No call blocks while holding the lock: on a non-blocking socket a call that needs the network
/// answers `wantRead`/`wantWrite` and the caller waits (epoll, poll) and calls again with the same arguments.
/// On a blocking socket with `SO_RCVTIMEO`, a read that times out answers `wantRead` the same way.
public final class TLSSession: @unchecked Sendable {
    public enum Step: Equatable, Sendable {
        case done, wantRead, wantWrite
        case failed(TLSError)
    }

    public enum IO: Equatable, Sendable {
        case bytes(Int)
        case wantRead, wantWrite
        /// The peer closed the connection (close_notify, or a TCP close).
        case closed
        case failed(TLSError)
    }

    let ssl: OpaquePointer
    public let fd: Int32
    /// Who is at the other end, for messages (`host:port`, or an IP address).
    public let peer: String
    let expectedHost: String?
    private let lock = PosixLock()
    private var shutDown = false

    init(ssl: OpaquePointer, fd: Int32, peer: String, expectedHost: String?) {
        self.ssl = ssl
        self.fd = fd
        self.peer = peer
        self.expectedHost = expectedHost
    }

    deinit { hive_tls_free_session(ssl) }

    /// Advances the handshake; `done` once it is complete.
    public func handshake() -> Step {
        lock.withLock {
            ERR_clear_error()
            let rc = SSL_do_handshake(ssl)
            if rc == 1 { return .done }
            switch SSL_get_error(ssl, rc) {
            case SSL_ERROR_WANT_READ: return .wantRead
            case SSL_ERROR_WANT_WRITE: return .wantWrite
            default: return .failed(handshakeFailure(rc))
            }
        }
    }

    /// Reads decrypted bytes into `buffer`.
    public func read(_ buffer: UnsafeMutableRawPointer, _ count: Int) -> IO {
        lock.withLock {
            ERR_clear_error()
            let n = SSL_read(ssl, buffer, Int32(clamping: count))
            if n > 0 { return .bytes(Int(n)) }
            return ioFailure(n)
        }
    }

    /// Encrypts and writes `count` bytes: all of them (`bytes(count)`), or none for now (`wantWrite`/`wantRead`:
    /// call again with the same bytes, from the same or a moved buffer, once the socket can take more).
    public func write(_ buffer: UnsafeRawPointer, _ count: Int) -> IO {
        if count <= 0 { return .bytes(0) }
        return lock.withLock {
            ERR_clear_error()
            let n = SSL_write(ssl, buffer, Int32(clamping: count))
            if n > 0 { return .bytes(Int(n)) }
            return ioFailure(n)
        }
    }

    /// Whether decrypted or undecrypted bytes wait inside OpenSSL: a reader must read again before waiting on the
    /// socket, which may have nothing more to say.
    public var hasBufferedInput: Bool { lock.withLock { SSL_has_pending(ssl) == 1 } }

    /// Sends close_notify once (best effort; the socket is about to close).
    public func close() {
        lock.withLock {
            guard !shutDown else { return }
            shutDown = true
            ERR_clear_error()
            _ = SSL_shutdown(ssl)
            ERR_clear_error()
        }
    }

    /// The verified certificate the peer presented, if any (mutual TLS on a server; always on a client).
    public var peerIdentity: TLSPeerIdentity? {
        lock.withLock {
            guard let cert = SSL_get0_peer_certificate(ssl), SSL_get_verify_result(ssl) == X509_V_OK else { return nil }
            return TLSPeerIdentity(cert)
        }
    }

    /// The negotiated protocol and cipher, e.g. "TLSv1.3 TLS_AES_256_GCM_SHA384".
    public var negotiated: String {
        lock.withLock {
            let version = String(cString: SSL_get_version(ssl))
            guard let cipher = SSL_get_current_cipher(ssl) else { return version }
            return "\(version) \(String(cString: SSL_CIPHER_get_name(cipher)))"
        }
    }

    // MARK: Blocking use

    /// Runs the handshake to the end on a socket, waiting with poll until `deadline` (monotonic ns).
    public func handshake(until deadline: UInt64) -> TLSError? {
        let started = Monotonic.now()
        while true {
            let events: Int16
            switch handshake() {
            case .done: return nil
            case .failed(let e): return e
            case .wantRead: events = Int16(POLLIN)
            case .wantWrite: events = Int16(POLLOUT)
            }
            let now = Monotonic.now()
            guard now < deadline else {
                return .handshakeTimedOut(peer: peer, seconds: Double(Monotonic.elapsed(from: started, to: now) / 1_000_000) / 1000)
            }
            var p = pollfd(fd: fd, events: events, revents: 0)
            _ = poll(&p, 1, Monotonic.waitMillis(until: deadline, now: now, cap: 1_000) + 1)
        }
    }

    /// Writes everything, waiting with poll (at most `timeoutMillis` without progress) when the socket is full.
    /// False when the connection failed or stalled.
    public func writeAll(_ base: UnsafeRawPointer, _ count: Int, timeoutMillis: Int32 = 30_000) -> Bool {
        guard count > 0 else { return true }
        while true {
            let events: Int16
            switch write(base, count) {
            case .bytes: return true
            case .closed, .failed: return false
            case .wantWrite: events = Int16(POLLOUT)
            case .wantRead: events = Int16(POLLIN)
            }
            var p = pollfd(fd: fd, events: events, revents: 0)
            let ready = poll(&p, 1, timeoutMillis)
            if ready == 0 { return false }
            if ready < 0 && errno != EINTR { return false }
        }
    }

    // MARK: Failures

    private func ioFailure(_ rc: Int32) -> IO {
        let code = SSL_get_error(ssl, rc)
        switch code {
        case SSL_ERROR_WANT_READ: return .wantRead
        case SSL_ERROR_WANT_WRITE: return .wantWrite
        case SSL_ERROR_ZERO_RETURN: return .closed
        case SSL_ERROR_SYSCALL:
            let e = errno
            ERR_clear_error()
            if e == EAGAIN || e == EWOULDBLOCK { return .wantRead }
            if e == 0 || e == ECONNRESET || e == EPIPE { return .closed }
            return .failed(.connectionFailed(reason: String(cString: strerror(e))))
        default:
            return .failed(.connectionFailed(reason: TLSContext.takeError()))
        }
    }

    private func handshakeFailure(_ rc: Int32) -> TLSError {
        let code = SSL_get_error(ssl, rc)
        let verify = SSL_get_verify_result(ssl)
        if verify != X509_V_OK {
            _ = TLSContext.takeError()
            return .untrusted(peer: peer, reason: verificationReason(Int32(verify)))
        }
        switch code {
        case SSL_ERROR_SYSCALL, SSL_ERROR_ZERO_RETURN:
            let e = errno
            ERR_clear_error()
            return .handshakeFailed(peer: peer, reason: e == 0 || e == ECONNRESET || e == EPIPE || code == SSL_ERROR_ZERO_RETURN
                                    ? "the connection closed during the handshake" : String(cString: strerror(e)))
        default:
            let reason = TLSContext.takeError()
            return .handshakeFailed(peer: peer, reason: Self.explain(reason))
        }
    }

    /// OpenSSL's reason with what it usually means for a user.
    public static func explain(_ reason: String) -> String {
        switch reason {
        case "wrong version number", "http request", "packet length too long", "record layer failure":
            return "\(reason): the other side does not speak TLS here (a plain-text client or server on a TLS port, or the reverse)"
        case "tlsv1 alert unknown ca", "sslv3 alert bad certificate", "tlsv13 alert certificate required",
             "sslv3 alert certificate expired", "tlsv1 alert decrypt error", "sslv3 alert unsupported certificate":
            return "\(reason): the other side refused our certificate (or wanted one and got none)"
        case "peer did not return a certificate":
            return "\(reason): this port requires a client certificate (mutual TLS): pass --tls-cert and --tls-key"
        default:
            return reason
        }
    }

    private func verificationReason(_ code: Int32) -> String {
        let cert = hive_tls_failed_cert(ssl) ?? SSL_get0_peer_certificate(ssl)
        let identity = cert.map(TLSPeerIdentity.init)
        var ok: Int32 = 0
        switch code {
        case X509_V_ERR_CERT_HAS_EXPIRED:
            if let cert {
                let left = hive_tls_seconds_left(cert, &ok)
                if ok == 1 { return "it expired \(Self.span(-Int(left))) ago" }
            }
            return "it has expired"
        case X509_V_ERR_CERT_NOT_YET_VALID:
            return "it is not valid yet (check both machines' clocks)"
        case X509_V_ERR_HOSTNAME_MISMATCH, X509_V_ERR_IP_ADDRESS_MISMATCH:
            let names = identity?.names.joined(separator: ", ") ?? "other names"
            return "it is for \(names), not \(expectedHost ?? "this address") (connect by one of those names, or make a certificate that includes this one: honeycombd tls init DIR --host \(expectedHost ?? "NAME"))"
        case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY, X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT,
             X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT, X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN,
             X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE, X509_V_ERR_CERT_SIGNATURE_FAILURE:
            return "it is not signed by a trusted CA (\(String(cString: X509_verify_cert_error_string(Int(code))))): pass the CA that signed it with --tls-ca"
        case X509_V_ERR_INVALID_PURPOSE:
            return "it is not meant for this use (its extended key usage lacks serverAuth or clientAuth)"
        default:
            return String(cString: X509_verify_cert_error_string(Int(code)))
        }
    }

    static func span(_ seconds: Int) -> String {
        if seconds >= 2 * 86_400 { return "\(seconds / 86_400) days" }
        if seconds >= 2 * 3_600 { return "\(seconds / 3_600) hours" }
        if seconds >= 120 { return "\(seconds / 60) minutes" }
        return "\(max(seconds, 0)) seconds"
    }
}
