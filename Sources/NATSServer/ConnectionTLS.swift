import HiveTLS

/// A TLS client connection's state on its event loop: the session, where the handshake stands, and why the loop
/// is waiting for the socket to become writable. Touched only on the owning loop's thread; the session itself is
/// also handed to `Outbound` once the handshake is done, which writes through it on the owning loop too (other
/// loops post their flushes: `EventLoop.postFlush`).
final class ConnectionTLS {
    let session: TLSSession
    /// True from accept until the handshake completes: the connection's bytes are TLS records OpenSSL consumes,
    /// nothing goes to the parser, and nothing (encrypted or not) may be queued for output.
    var handshaking = true
    /// Whether the client's first byte was looked at (a TLS ClientHello starts with 0x16; anything else is a
    /// plain-text client, told `-ERR 'Secure Connection - TLS Required'`).
    var firstBytePeeked = false
    /// The handshake or a read asked to write (OpenSSL's WANT_WRITE): EPOLLOUT resumes it.
    var waitingWritable = false
    /// On the loop's read-again list (bytes decrypted or buffered inside OpenSSL that epoll cannot report).
    var readAgainQueued = false
    /// The client certificate's names, verified against the CA (mutual TLS), from the handshake on.
    var peerIdentity: TLSPeerIdentity?

    init(session: TLSSession) { self.session = session }

    /// First byte of every TLS handshake record (content type 22): what a ClientHello starts with.
    static let handshakeRecordType: UInt8 = 0x16
}
