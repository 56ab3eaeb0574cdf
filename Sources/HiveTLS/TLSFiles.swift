/// Where a TLS endpoint's certificate, key and trusted CA live (PEM files), as given by flags or config.
///
/// A server needs `certificate` and `key`; `ca` makes it ask clients for certificates signed by that CA, and
/// `verifyClients` makes such a certificate mandatory (mutual TLS). A client needs `ca` to verify a server whose
/// certificate a private CA signed (else the system's trusted CAs), and `certificate`/`key` to present its own.
public struct TLSFiles: Sendable, Equatable {
    public var certificate: String?
    public var key: String?
    public var ca: String?
    public var verifyClients: Bool

    public init(certificate: String? = nil, key: String? = nil, ca: String? = nil, verifyClients: Bool = false) {
        self.certificate = certificate
        self.key = key
        self.ca = ca
        self.verifyClients = verifyClients
    }

    /// Whether anything TLS was asked for.
    public var isEmpty: Bool { certificate == nil && key == nil && ca == nil && !verifyClients }

    /// The first inconsistency for a server (certificate without key, `verify` without a CA), or nil.
    public var serverProblem: String? {
        if certificate == nil && key == nil && ca == nil && !verifyClients { return nil }
        if certificate == nil { return "TLS needs a certificate: --tls-cert FILE (config tls_cert) is missing" }
        if key == nil { return "TLS needs the certificate's private key: --tls-key FILE (config tls_key) is missing" }
        if verifyClients && ca == nil {
            return "--tls-verify (config tls_verify) needs --tls-ca FILE: the CA that signs client certificates"
        }
        return nil
    }

    /// The first inconsistency for a client (a certificate without its key or the reverse), or nil.
    public var clientProblem: String? {
        if (certificate == nil) != (key == nil) {
            return "a TLS client certificate needs both --tls-cert FILE and --tls-key FILE"
        }
        return nil
    }
}
