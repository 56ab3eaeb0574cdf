#if canImport(Glibc)
import Glibc
#endif
import CEpoll
import HiveLog
import HiveSystem
import HiveTLS

/// How an HTTPS connection begins, on its own connection thread: wait for the client's first byte, then either
/// run the TLS handshake with the identity's current certificate or, when the client speaks plain HTTP, tell it
/// so in plain HTTP and close.
///
/// One deadline covers the wait and the handshake (`firstByteTimeout` from the accept), so a client that stalls
/// mid-handshake holds its connection (and thread) no longer than one that never sends a byte to a plain server.
/// Failures are logged (`tls_handshake_failed`, at most one line a second with the count suppressed: a scanner
/// must not flood the log); a client that connects and leaves, or stays silent, without sending a byte is not,
/// as on a plain port.
final class HTTPSHandshake: Sendable {
    /// What Go's net/http answers a plain HTTP request on an HTTPS port; curl and browsers show it as the body.
    static let plainHTTPAnswer = Array("HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n".utf8)

    let identity: TLSServerIdentity
    /// How long a TLS write may wait for a client that stopped reading.
    let writeTimeoutMillis: Int32
    /// The first-byte grace the handshake must finish in (for messages).
    let firstByteTimeout: Double
    private let failures = LogThrottle(intervalMillis: 1_000)
    private let log = Log("http")

    init(identity: TLSServerIdentity, writeTimeout: Double, firstByteTimeout: Double) {
        self.identity = identity
        self.firstByteTimeout = firstByteTimeout
        writeTimeoutMillis = Int32(clamping: Int(writeTimeout * 1000))
    }

    /// The connection's TLS stream once the handshake finished by `deadline` (monotonic ns); nil when the
    /// connection ends here (answered, refused, timed out, the client left, or the server is `stopping`).
    /// The socket is blocking with a short `SO_RCVTIMEO`.
    func open(fd: Int32, address: String, deadline: UInt64, stopping: () -> Bool) -> ConnectionStream? {
        // The socket's own send timeout stays short: `writeAll` waits (poll) for a stalled client, up to the write
        // timeout, so one stall is not counted twice.
        var short = timeval(tv_sec: 0, tv_usec: 250_000)
        _ = setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &short, socklen_t(MemoryLayout<timeval>.size))
        var first: UInt8 = 0
        while true {
            let n = recv(fd, &first, 1, Int32(MSG_PEEK))
            if n == 1 { break }
            if n == 0 { return nil }
            let e = hive_errno()
            guard e == EAGAIN || e == EWOULDBLOCK || e == EINTR, !stopping(), Monotonic.now() < deadline else { return nil }
        }
        // A TLS record starts with its content type, 22 (handshake); an HTTP request with its method's letters.
        // Anything else goes to OpenSSL, whose reason is logged.
        if (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(first) {
            refused(address, "a plain HTTP request on the HTTPS port (answered 400: the client should use https://)")
            let plain = ConnectionStream.plain(fd)
            if plain.write(Self.plainHTTPAnswer) {
                plain.lingerClose(timeout: HTTPServer.lingerTimeout, maxBytes: HTTPServer.lingerBytes)
            }
            return nil
        }
        let session: TLSSession
        do {
            session = try identity.context.session(fd: fd, peer: address)
        } catch {
            refused(address, error.description)
            return nil
        }
        if let error = session.handshake(until: deadline) {
            refused(address, reason(error))
            return nil
        }
        return .tls(session, writeTimeoutMillis: writeTimeoutMillis)
    }

    private func refused(_ address: String, _ reason: String) {
        if let suppressed = failures.admit(now: Monotonic.now()) {
            log.warn("tls_handshake_failed", ["address": address, "reason": reason, "suppressed": suppressed])
        }
    }

    /// The part of a handshake error worth a log line (the address is logged beside it).
    private func reason(_ error: TLSError) -> String {
        switch error {
        case .handshakeFailed(_, let reason), .untrusted(_, let reason): return reason
        case .handshakeTimedOut:
            return "the handshake did not finish within \(firstByteTimeout) s of connecting (--http-first-byte-timeout-ms)"
        default: return error.description
        }
    }
}
