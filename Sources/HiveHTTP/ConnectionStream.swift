#if canImport(Glibc)
import Glibc
#endif
import CEpoll
import HiveSystem
import HiveTLS

/// One HTTP connection's bytes: the socket itself, or a TLS session over it. The server reads, writes, probes and
/// closes only through this, so the request loop, responses, event streams and lingering closes are the same code
/// for HTTP and HTTPS.
///
/// Both kinds sit on a blocking socket whose reads time out (`SO_RCVTIMEO`): a read with nothing to say answers
/// `nothingYet` and the caller checks its deadlines. A TLS read that times out is OpenSSL's `wantRead`; decrypted
/// bytes OpenSSL already holds come back from the next read without touching the socket, so reading again (never
/// waiting on the descriptor first) is all `hasBufferedInput` would ask for.
enum ConnectionStream {
    case plain(Int32)
    /// A session whose handshake finished; writes wait for the socket at most `writeTimeoutMillis` without progress.
    case tls(TLSSession, writeTimeoutMillis: Int32)

    enum Read: Equatable {
        case bytes(Int)
        /// The read timed out (or was interrupted) with nothing new.
        case nothingYet
        /// The client closed (TCP or close_notify) or the connection failed.
        case closed
    }

    var fd: Int32 {
        switch self {
        case .plain(let fd): return fd
        case .tls(let session, _): return session.fd
        }
    }

    func read(into buffer: UnsafeMutableRawBufferPointer) -> Read {
        switch self {
        case .plain(let fd):
            switch Syscall.read(fd, buffer.baseAddress!, buffer.count) {
            case .bytes(let n): return .bytes(n)
            case .wouldBlock: return .nothingYet
            case .eof, .failed: return .closed
            }
        case .tls(let session, _):
            switch session.read(buffer.baseAddress!, buffer.count) {
            case .bytes(let n): return .bytes(n)
            case .wantRead, .wantWrite: return .nothingYet
            case .closed, .failed: return .closed
            }
        }
    }

    /// Writes everything or fails (the client left, or stopped reading for the write timeout).
    func write(_ bytes: [UInt8]) -> Bool {
        switch self {
        case .plain(let fd):
            return (try? Syscall.writeAll(fd, bytes)) != nil
        case .tls(let session, let timeout):
            guard !bytes.isEmpty else { return true }
            return bytes.withUnsafeBytes { session.writeAll($0.baseAddress!, $0.count, timeoutMillis: timeout) }
        }
    }

    /// Whether a client that should be only listening (an event stream's) has gone, without waiting. Whatever it
    /// sent meanwhile is discarded. Over TLS the socket is only peeked at: its bytes are records the session must
    /// decrypt (a close_notify says the client left; raw reads would tear the stream apart), so when any wait
    /// they go through the session.
    func clientLeft() -> Bool {
        var probe = [UInt8](repeating: 0, count: 512)
        switch self {
        case .plain(let fd):
            return probe.withUnsafeMutableBytes { recv(fd, $0.baseAddress!, $0.count, Int32(MSG_DONTWAIT)) } == 0
        case .tls(let session, _):
            let n = probe.withUnsafeMutableBytes { recv(session.fd, $0.baseAddress!, 1, Int32(MSG_DONTWAIT | MSG_PEEK)) }
            if n == 0 { return true }
            if n < 0 {
                let e = hive_errno()
                if e != EAGAIN && e != EWOULDBLOCK && e != EINTR { return true }  // reset
                if !session.hasBufferedInput { return false }
            }
            return probe.withUnsafeMutableBytes { read(into: $0) } == .closed
        }
    }

    /// Closes gracefully after a response the client may still be sending a body to: stops writing (after a
    /// close_notify over TLS), then drains the socket (bounded in time and bytes) until the client closes, so it
    /// reads the response instead of a reset. What is drained is never looked at, so TLS records need no decrypting.
    func lingerClose(timeout: Double, maxBytes: Int) {
        finish()
        shutdown(fd, Int32(SHUT_WR))
        let deadline = ContinuousClock.now + .seconds(timeout)
        var drained = 0
        var sink = [UInt8](repeating: 0, count: 16 * 1024)
        while drained < maxBytes && ContinuousClock.now < deadline {
            let n = sink.withUnsafeMutableBytes { recv(fd, $0.baseAddress!, $0.count, 0) }
            if n > 0 {
                drained += n
            } else if n == 0 || (hive_errno() != EAGAIN && hive_errno() != EWOULDBLOCK && hive_errno() != EINTR) {
                return
            }
        }
    }

    /// Ends the stream before its socket closes: a TLS session sends close_notify (once), so the client can tell
    /// the end of the connection from a truncation. The socket's owner closes the descriptor.
    func finish() {
        if case .tls(let session, _) = self { session.close() }
    }
}
