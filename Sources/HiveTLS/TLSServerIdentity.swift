import HiveSystem

/// A server's current TLS context, replaceable while it runs: `reload()` reads the files again (SIGHUP after a
/// certificate was renewed) and new connections get the new context; connections already up keep the one they
/// handshook with. A reload that fails keeps the old context and says why.
public final class TLSServerIdentity: @unchecked Sendable {
    public let files: TLSFiles
    private let lock = PosixLock()
    private var current: TLSContext

    public init(_ files: TLSFiles) throws(TLSError) {
        self.files = files
        current = try TLSContext.server(files)
    }

    public var context: TLSContext { lock.withLock { current } }

    /// Whether clients must present a certificate.
    public var requiresClientCertificates: Bool { files.verifyClients }

    /// Loads the files again; on failure the old context stays in use and the error says what was wrong.
    @discardableResult
    public func reload() throws(TLSError) -> TLSContext {
        let fresh = try TLSContext.server(files)
        lock.withLock { current = fresh }
        return fresh
    }
}
