#if canImport(Glibc)
import Glibc
#endif
import CTLS
import HiveSystem

/// A private certificate authority for a LAN without a PKI (`honeycombd tls init DIR`): a CA, a certificate for
/// honeycombd naming the hosts drones will dial, and client certificates for mutual TLS, as PEM files in one
/// directory. The CA is made once and reused: running `init` again (with more hosts) re-issues only the server
/// certificate, so drones that pinned the CA keep working.
public enum TLSAuthority {
    public static let caFile = "ca.pem"
    public static let caKeyFile = "ca-key.pem"
    public static let serverFile = "server.pem"
    public static let serverKeyFile = "server-key.pem"

    /// What `initialize` made.
    public struct Made: Sendable, Equatable {
        public var ca: String
        public var certificate: String
        public var key: String
        /// False when an existing CA in the directory was reused.
        public var newCA: Bool
        public var hosts: [String]
    }

    /// Makes (or reuses) the CA in `directory` and issues a server certificate for `hosts` (DNS names and IP
    /// addresses; `localhost` and `127.0.0.1` are always included), valid `days` days.
    public static func initialize(directory: String, hosts: [String], days: Int = 825, caDays: Int = 3650) throws(TLSError) -> Made {
        hive_tls_init()  // before any other OpenSSL call: no exit handler (see the shim)
        guard (1...36_500).contains(days), (1...36_500).contains(caDays) else {
            throw .misconfigured("certificate lifetimes must be 1 to 36500 days")
        }
        var names: [String] = []
        for h in hosts + ["localhost", "127.0.0.1"] where !names.contains(h) {
            guard !h.isEmpty, h.utf8.count <= 253, h.allSatisfy({ $0.isLetter || $0.isNumber || ".-:_*".contains($0) }) else {
                throw .misconfigured("'\(h)' is not a host name or IP address")
            }
            names.append(h)
        }
        try makeDirectory(directory)
        let caPath = directory + "/" + caFile, caKeyPath = directory + "/" + caKeyFile
        var newCA = false
        if access(caPath, F_OK) != 0 {
            guard let key = hive_tls_new_key() else { throw .cannotIssue(reason: "key generation failed: \(TLSContext.takeError())") }
            defer { EVP_PKEY_free(key) }
            guard let cert = hive_tls_make_cert(key, nil, key, "Hive private CA", 0, nil, Int32(caDays)) else {
                throw .cannotIssue(reason: "the CA certificate: \(TLSContext.takeError())")
            }
            defer { X509_free(cert) }
            try save(key: key, to: caKeyPath, directory: directory)
            try save(cert: cert, to: caPath, directory: directory)
            newCA = true
        }
        let san = names.map { TLSContext.isIPAddress($0) ? "IP:\($0)" : "DNS:\($0)" }.joined(separator: ",")
        let (cert, key) = (directory + "/" + serverFile, directory + "/" + serverKeyFile)
        try issue(directory: directory, commonName: names[0], san: san, kind: 1, days: days, certPath: cert, keyPath: key)
        return Made(ca: caPath, certificate: cert, key: key, newCA: newCA, hosts: names)
    }

    /// Issues a client certificate for `name` (its CN and a DNS name), signed by the CA in `directory`:
    /// `NAME.pem` and `NAME-key.pem` there. A principal whose `certificate` is `name` connects with it.
    public static func issueClient(directory: String, name: String, days: Int = 825) throws(TLSError) -> (certificate: String, key: String) {
        hive_tls_init()  // before any other OpenSSL call: no exit handler (see the shim)
        guard !name.isEmpty, name.utf8.count <= 64, name.allSatisfy({ $0.isLetter || $0.isNumber || "-_.".contains($0) }),
              name != "ca", name != "server", !name.hasPrefix(".") else {
            throw .misconfigured("'\(name)' cannot name a client certificate: use letters, digits, '-', '_' and '.' (not 'ca' or 'server')")
        }
        let cert = "\(directory)/\(name).pem", key = "\(directory)/\(name)-key.pem"
        try issue(directory: directory, commonName: name, san: "DNS:\(name)", kind: 2, days: days, certPath: cert, keyPath: key)
        return (cert, key)
    }

    static func issue(directory: String, commonName: String, san: String, kind: Int32, days: Int,
                              certPath: String, keyPath: String) throws(TLSError) {
        let caPath = directory + "/" + caFile, caKeyPath = directory + "/" + caKeyFile
        guard let caCert = hive_tls_read_cert(caPath) else {
            throw .cannotLoad(what: "CA", path: caPath, reason: "missing or not a PEM certificate (run honeycombd tls init \(directory) first)")
        }
        defer { X509_free(caCert) }
        guard let caKey = hive_tls_read_key(caKeyPath) else {
            throw .cannotLoad(what: "CA key", path: caKeyPath, reason: "missing or not a PEM private key")
        }
        defer { EVP_PKEY_free(caKey) }
        guard let key = hive_tls_new_key() else { throw .cannotIssue(reason: "key generation failed: \(TLSContext.takeError())") }
        defer { EVP_PKEY_free(key) }
        guard let cert = hive_tls_make_cert(key, caCert, caKey, commonName, kind, san, Int32(days)) else {
            throw .cannotIssue(reason: "the certificate for \(commonName): \(TLSContext.takeError())")
        }
        defer { X509_free(cert) }
        try save(key: key, to: keyPath, directory: directory)
        try save(cert: cert, to: certPath, directory: directory)
    }

    private static func makeDirectory(_ path: String) throws(TLSError) {
        if mkdir(path, 0o700) != 0 && errno != EEXIST {
            throw .cannotIssue(reason: "cannot make \(path): \(String(cString: strerror(errno)))")
        }
    }

    private static func save(key: OpaquePointer, to path: String, directory: String) throws(TLSError) {
        try save(pem: { hive_tls_pem(nil, key, $0) }, to: path, directory: directory, mode: 0o600)
    }

    private static func save(cert: OpaquePointer, to path: String, directory: String) throws(TLSError) {
        try save(pem: { hive_tls_pem(cert, nil, $0) }, to: path, directory: directory, mode: 0o644)
    }

    private static func save(pem: (UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> Int, to path: String,
                             directory: String, mode: mode_t) throws(TLSError) {
        var out: UnsafeMutablePointer<CChar>?
        let n = pem(&out)
        guard n > 0, let out else { throw .cannotIssue(reason: "PEM encoding failed: \(TLSContext.takeError())") }
        defer { free(out) }
        let bytes = Array(UnsafeRawBufferPointer(start: out, count: n))
        if let e = writeFileDurably(path, bytes, directory: directory, mode: mode) { throw .cannotIssue(reason: e) }
    }
}
