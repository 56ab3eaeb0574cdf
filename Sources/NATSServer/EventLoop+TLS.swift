#if canImport(Glibc)
import Glibc
#endif
import CEpoll
import HiveLog
import HiveSystem
import HiveTLS
import NATSWire

/// TLS connections on the event loop: the non-blocking server handshake, encrypted reads, and the bytes epoll
/// cannot see.
///
/// The handshake advances on the connection's own readiness events (EPOLLIN; EPOLLOUT when OpenSSL wants to write)
/// and is cut by `tick` after `handshakeTimeoutMillis` from the accept. Reads drain the session until OpenSSL
/// answers `wantRead` (it tried the socket and found it empty), so epoll's level-triggered EPOLLIN stays a true
/// signal; when the read budget runs out first, decrypted or read-ahead bytes may sit inside OpenSSL with the
/// socket empty, so the connection goes on `readAgain`, which the loop serves with a zero-timeout epoll wait.
extension EventLoop {
    func readTLS(_ c: ClientConnection, _ tls: ConnectionTLS) {
        if tls.handshaking {
            advanceHandshake(c, tls)
            if tls.handshaking || c.isClosed { return }
            // The client's CONNECT often rides with its last handshake flight and now sits decrypted inside
            // OpenSSL: read it at once, the socket may have nothing more to say.
        }
        let size = Self.readBufferSize
        var rounds = 0
        while rounds < 16 && !c.isClosed {
            rounds += 1
            // Fill the buffer from several records (OpenSSL returns at most one record per call), then parse once.
            var filled = 0
            var stop: TLSSession.IO?
            while filled < size {
                let got = tls.session.read(readBuffer + filled, size - filled)
                guard case .bytes(let n) = got else {
                    stop = got
                    break
                }
                filled += n
            }
            if filled > 0 {
                c.lastActivity = now
                if let error = c.consume(UnsafeRawBufferPointer(start: readBuffer, count: filled)) {
                    close(c, .protocolError(error))
                    return
                }
                if c.isClosed { return }
            }
            switch stop {
            case nil: continue
            case .wantRead?: return
            case .wantWrite?:
                tls.waitingWritable = true
                armOutput(c)
                return
            case .closed?:
                close(c, .clientClosed)
                return
            case .failed(let e)?:
                close(c, .tlsFailed(e))
                return
            case .bytes?: return
            }
        }
        if !c.isClosed && !tls.readAgainQueued && tls.session.hasBufferedInput {
            tls.readAgainQueued = true
            readAgain.append(c)
        }
    }

    /// Reads once more every connection whose bytes wait inside OpenSSL.
    func readAgainAll() {
        let list = readAgain
        readAgain.removeAll(keepingCapacity: true)
        for c in list {
            c.tls?.readAgainQueued = false
            if !c.isClosed { readFrom(c) }
        }
    }

    /// One step of the server handshake. A client whose first byte is not a TLS record gets nats-server's
    /// plain-text `-ERR` and is closed, without disturbing anyone else.
    private func advanceHandshake(_ c: ClientConnection, _ tls: ConnectionTLS) {
        if !tls.firstBytePeeked {
            var first: UInt8 = 0
            let n = recv(c.fd, &first, 1, Int32(MSG_PEEK))
            if n == 0 {
                close(c, .clientClosed)
                return
            }
            if n < 0 {
                let e = hive_errno()
                if e == EAGAIN || e == EWOULDBLOCK || e == EINTR { return }
                close(c, .readError(e))
                return
            }
            tls.firstBytePeeked = true
            if first != ConnectionTLS.handshakeRecordType {
                withBytes(Self.tlsRequiredLine) { _ = Syscall.write(c.fd, $0.baseAddress!, $0.count) }
                discardInput(c.fd)
                close(c, .tlsRequired)
                return
            }
        }
        switch tls.session.handshake() {
        case .done:
            tls.handshaking = false
            tls.peerIdentity = tls.session.peerIdentity
            c.out.startTLS(tls.session)
            if Log.enabled(.debug) {
                log.debug("tls_established", ["cid": c.id, "ip": c.remoteIP, "negotiated": tls.session.negotiated,
                                              "client_certificate": tls.peerIdentity?.names.joined(separator: ",") ?? ""])
            }
        case .wantRead:
            break
        case .wantWrite:
            tls.waitingWritable = true
            armOutput(c)
        case .failed(let e):
            close(c, .tlsHandshakeFailed(e))
        }
    }

    /// Reads and drops what the client already sent (a little, without waiting): closing a socket with unread
    /// input sends a reset, which can destroy the `-ERR` before the client reads it.
    private func discardInput(_ fd: Int32) {
        var budget = 64 * 1024
        while budget > 0, case .bytes(let n) = Syscall.read(fd, readBuffer, min(budget, Self.readBufferSize)) { budget -= n }
    }

    /// Has `c`'s own loop write its queue (at most one such request in flight per connection).
    ///
    /// Why not write from here, as the plain path does: reading and writing a session take its one lock, held
    /// across OpenSSL's send/recv. A writer on another loop is often preempted by the very client it just woke
    /// (still holding the lock), and the owning loop, reading that client's answer, then waits for the writer to
    /// be scheduled again: milliseconds on a busy machine (measured: request/reply p99 10× nats-server's). On
    /// its own loop a session is never contended.
    func postFlush(_ c: ClientConnection) {
        guard c.out.claimPostedFlush() else { return }
        let owner = c.loop
        owner.post {
            c.out.postedFlushStarts()
            owner.flush(c)
        }
    }

    /// Counts a failed handshake and logs it at warn, at most one line a second for the whole broker.
    func reportHandshakeFailure(id: UInt64, ip: String, _ why: String) {
        shared.stats.tlsHandshakeFailures.add(1, ordering: .relaxed)
        if let suppressed = shared.tlsHandshakeFailures.admit(now: now) {
            log.warn("tls_handshake_failed", ["cid": id, "ip": ip, "reason": why, "suppressed": suppressed])
        }
    }

    /// What newer nats-servers send a plain-text client on a TLS port (2.9 closes without a word).
    static let tlsRequiredLine = "-ERR 'Secure Connection - TLS Required'\r\n"
}
