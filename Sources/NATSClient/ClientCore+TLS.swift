#if canImport(Glibc)
import Glibc
#endif
import HiveSystem
import HiveTLS
import NATSWire

/// TLS on the client's connections, the way nats.go and nats-py do it: the server's INFO arrives in plain text,
/// the client upgrades when it asked for TLS (a `tls://` URL, `options.tls`) or the INFO says `tls_required`,
/// and everything from CONNECT on is encrypted. A TLS socket is non-blocking: the reader polls and reads until
/// OpenSSL wants more bytes, and writers go through `TLSSession.writeAll`, which polls when the socket is full.
/// Plain connections never reach this file's code.
extension ClientCore {
    /// Whether `server`'s connection must be TLS whatever the server says.
    func wantsTLS(_ server: ServerAddress) -> Bool { server.tls || options.tls != nil }

    /// The upgrade after INFO: nil for a plain connection, else a session whose handshake is done and whose
    /// server certificate names the host dialed (a discovered server's own host).
    func startTLS(_ sock: Int32, _ server: ServerAddress, _ info: ServerInfoMessage,
                  _ deadline: UInt64) throws(NATSClientError) -> TLSSession? {
        let wanted = wantsTLS(server)
        let required = info.tlsRequired ?? false
        guard wanted || required else { return nil }
        guard required || info.tlsAvailable == true else {
            throw .connectionFailed(server: server.description, reason: "the server does not offer TLS (its INFO has neither "
                + "tls_required nor tls_available), but \(server.tls ? "the URL is tls://" : "TLS options were given"): "
                + "connect with nats:// or turn TLS on at the server")
        }
        // Made once (from options, in NATSClient.connect); a client that asked for nothing gets the system's CAs
        // the first time a server requires TLS.
        if tlsContext == nil {
            do { tlsContext = try TLSContext.client(TLSFiles()) } catch { throw .tls(error) }
        }
        _ = fcntl(sock, F_SETFL, fcntl(sock, F_GETFL, 0) | O_NONBLOCK)
        let session: TLSSession
        do {
            session = try tlsContext!.session(fd: sock, peer: server.description, host: server.host)
        } catch {
            throw .tls(error)
        }
        if let e = session.handshake(until: deadline) {
            throw tlsFailure(e, server, info)
        }
        return session
    }

    /// A TLS failure during the connection handshake, with what the INFO tells about its likely cause.
    func tlsFailure(_ e: TLSError, _ server: ServerAddress, _ info: ServerInfoMessage?) -> NATSClientError {
        var e = e
        if case .connectionFailed(let reason) = e {
            // Under TLS 1.3 the server judges our certificate after our side of the handshake is done: its
            // refusal arrives on the first read.
            e = .handshakeFailed(peer: server.description, reason: TLSSession.explain(reason))
        }
        if case .handshakeFailed(let peer, let reason) = e, info?.tlsVerify == true, options.tls?.certificate == nil {
            e = .handshakeFailed(peer: peer, reason: "\(reason); the server requires a client certificate "
                                 + "(mutual TLS): pass --tls-cert FILE and --tls-key FILE")
        }
        if !wantsTLS(server) { return .tlsRequired(server: server.description, e) }
        return .tls(e)
    }

    /// Writes everything to the connection (blocking the caller): through TLS when there is a session.
    @inline(__always)
    func send(_ fd: Int32, _ session: TLSSession?, _ base: UnsafeRawPointer, _ count: Int) -> Bool {
        guard let session else { return (try? Syscall.writeAll(fd, base, count)) != nil }
        return session.writeAll(base, count, timeoutMillis: tlsWriteStallMillis)
    }

    /// How long a TLS write may make no progress before the connection counts as dead: as long as the keepalive
    /// would take to notice (a plain blocking write waits for that).
    var tlsWriteStallMillis: Int32 {
        Int32(clamping: max(options.pingIntervalMillis * (options.maxPingsOut + 1), 10_000))
    }

    /// What the reader does after a read from a TLS connection.
    enum TLSReadNext {
        /// Wait for the socket to be readable.
        case waitReadable
        /// Read again without waiting: bytes may sit inside OpenSSL with the socket empty.
        case readAgain
        /// OpenSSL must write before it can read on (a TLS 1.3 key update on a full socket).
        case waitWritable
    }

    /// Reads what the TLS connection has (into `buffer`, up to its size), parses it, and says when to read
    /// again. On EOF or a failure the connection is dropped.
    func readTLS(_ session: TLSSession, _ buffer: UnsafeMutableRawBufferPointer) -> TLSReadNext {
        var filled = 0
        var outcome = TLSSession.IO.wantRead
        // One parse per buffer, not per TLS record (16 KiB): a 1 MiB message is one read loop here.
        while filled < buffer.count {
            outcome = session.read(buffer.baseAddress! + filled, buffer.count - filled)
            guard case .bytes(let n) = outcome else { break }
            filled += n
        }
        if filled > 0 && !consume(UnsafeRawBufferPointer(rebasing: buffer[0..<filled])) { return .waitReadable }
        switch outcome {
        case .bytes: return .readAgain
        case .wantRead: return .waitReadable
        case .wantWrite: return .waitWritable
        case .closed:
            disconnect(reason: "server closed the connection")
            return .waitReadable
        case .failed(let e):
            disconnect(reason: e.description)
            return .waitReadable
        }
    }
}
