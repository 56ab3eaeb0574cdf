#if canImport(Glibc)
import Glibc
#endif
import CTLS

/// One configured OpenSSL context (`SSL_CTX`): the certificate, key and trust a side of a connection uses. Made
/// once from files and shared read-only by every connection it creates; a reload makes a new one
/// (`TLSServerIdentity`), so connections already up keep theirs.
public final class TLSContext: @unchecked Sendable {
    public enum Role: Sendable { case server, client }

    let ctx: OpaquePointer
    public let role: Role
    /// What the context was made from (for messages and reloads).
    public let files: TLSFiles
    /// Seconds until the own certificate expires (negative: expired), when there is one.
    public let certificateSecondsLeft: Int?

    private init(ctx: OpaquePointer, role: Role, files: TLSFiles, secondsLeft: Int?) {
        self.ctx = ctx
        self.role = role
        self.files = files
        certificateSecondsLeft = secondsLeft
    }

    deinit { SSL_CTX_free(ctx) }

    /// A server context: `files.certificate` (a PEM chain, leaf first) and `files.key`; with `files.ca`, client
    /// certificates are requested and verified against it, and with `verifyClients` required.
    public static func server(_ files: TLSFiles) throws(TLSError) -> TLSContext {
        hive_tls_init()  // before any other OpenSSL call: no exit handler (see the shim)
        if let why = files.serverProblem { throw .misconfigured(why) }
        guard let ctx = SSL_CTX_new(TLS_server_method()) else { throw .misconfigured("OpenSSL could not make a context: \(takeError())") }
        var owned: OpaquePointer? = ctx
        defer { if let owned { SSL_CTX_free(owned) } }
        hive_tls_ctx_defaults(ctx)
        let secondsLeft = try loadIdentity(ctx, certificate: files.certificate!, key: files.key!)
        if let ca = files.ca {
            try loadTrust(ctx, ca: ca)
            guard let names = SSL_load_client_CA_file(ca) else {
                throw .cannotLoad(what: "CA", path: ca, reason: "no certificate in it (\(takeError()))")
            }
            SSL_CTX_set_client_CA_list(ctx, names)
            hive_tls_set_verify(ctx, files.verifyClients ? SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT : SSL_VERIFY_PEER)
        }
        // Session tickets would need key rotation across reloads; full handshakes are cheap next to a hive's
        // connection lifetimes.
        _ = SSL_CTX_set_num_tickets(ctx, 0)
        owned = nil
        return TLSContext(ctx: ctx, role: .server, files: files, secondsLeft: secondsLeft)
    }

    /// A client context: verifies servers against `files.ca` (else the system's trusted CAs) and presents
    /// `files.certificate`/`files.key` when given.
    public static func client(_ files: TLSFiles) throws(TLSError) -> TLSContext {
        hive_tls_init()  // before any other OpenSSL call: no exit handler (see the shim)
        if let why = files.clientProblem { throw .misconfigured(why) }
        guard let ctx = SSL_CTX_new(TLS_client_method()) else { throw .misconfigured("OpenSSL could not make a context: \(takeError())") }
        var owned: OpaquePointer? = ctx
        defer { if let owned { SSL_CTX_free(owned) } }
        hive_tls_ctx_defaults(ctx)
        if let ca = files.ca {
            try loadTrust(ctx, ca: ca)
        } else if SSL_CTX_set_default_verify_paths(ctx) != 1 {
            throw .misconfigured("no --tls-ca given and the system's trusted CAs could not be loaded: \(takeError())")
        }
        hive_tls_set_verify(ctx, SSL_VERIFY_PEER)
        var secondsLeft: Int?
        if let cert = files.certificate, let key = files.key {
            secondsLeft = try loadIdentity(ctx, certificate: cert, key: key)
        }
        owned = nil
        return TLSContext(ctx: ctx, role: .client, files: files, secondsLeft: secondsLeft)
    }

    /// A session on the connected socket `fd` (which the caller keeps owning and closes). A client session
    /// verifies that the server's certificate names `host` (a DNS name or an IP address) and sends it as SNI.
    public func session(fd: Int32, peer: String, host: String? = nil) throws(TLSError) -> TLSSession {
        guard let ssl = SSL_new(ctx) else { throw .connectionFailed(reason: "OpenSSL could not make a session: \(Self.takeError())") }
        guard SSL_set_fd(ssl, fd) == 1 else {
            hive_tls_free_session(ssl)
            throw .connectionFailed(reason: "OpenSSL could not take the socket: \(Self.takeError())")
        }
        if role == .client {
            SSL_set_connect_state(ssl)
            if let host, !host.isEmpty {
                let isIP = Self.isIPAddress(host)
                if !isIP { _ = hive_tls_set_sni(ssl, host) }
                _ = hive_tls_expect_host(ssl, host, isIP ? 1 : 0)
            }
        } else {
            SSL_set_accept_state(ssl)
        }
        return TLSSession(ssl: ssl, fd: fd, peer: peer, expectedHost: host)
    }

    // MARK: Loading

    private static func loadIdentity(_ ctx: OpaquePointer, certificate: String, key: String) throws(TLSError) -> Int? {
        try readable(certificate, what: "certificate")
        try readable(key, what: "key")
        guard SSL_CTX_use_certificate_chain_file(ctx, certificate) == 1 else {
            throw .cannotLoad(what: "certificate", path: certificate, reason: "not a PEM certificate (\(takeError()))")
        }
        guard SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) == 1 else {
            let reason = takeError()
            if reason.contains("values mismatch") || reason.contains("mismatch") {
                throw .keyMismatch(certificate: certificate, key: key)
            }
            throw .cannotLoad(what: "key", path: key, reason: "not a PEM private key (\(reason))")
        }
        guard SSL_CTX_check_private_key(ctx) == 1 else {
            _ = takeError()
            throw .keyMismatch(certificate: certificate, key: key)
        }
        guard let leaf = SSL_CTX_get0_certificate(ctx) else { return nil }
        var ok: Int32 = 0
        let left = hive_tls_seconds_left(leaf, &ok)
        return ok == 1 ? Int(left) : nil
    }

    private static func loadTrust(_ ctx: OpaquePointer, ca: String) throws(TLSError) {
        try readable(ca, what: "CA")
        guard SSL_CTX_load_verify_locations(ctx, ca, nil) == 1 else {
            throw .cannotLoad(what: "CA", path: ca, reason: "not a PEM certificate (\(takeError()))")
        }
    }

    private static func readable(_ path: String, what: String) throws(TLSError) {
        if access(path, R_OK) != 0 {
            throw .cannotLoad(what: what, path: path, reason: String(cString: strerror(errno)))
        }
    }

    static func takeError() -> String {
        var buf = [CChar](repeating: 0, count: 256)
        hive_tls_take_error(&buf, buf.count)
        let text = String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return text.isEmpty ? "no detail from OpenSSL" : text
    }

    static func isIPAddress(_ host: String) -> Bool {
        var v4 = in_addr(), v6 = in6_addr()
        return inet_pton(AF_INET, host, &v4) == 1 || inet_pton(AF_INET6, host, &v6) == 1
    }
}
