import CTLS

/// The names in a certificate: its subject CN and its DNS, email and IP subjectAltNames. A verified client
/// certificate's names map it to a principal (mutual TLS as identity, like nats-server's `verify_and_map`).
public struct TLSPeerIdentity: Sendable, Equatable {
    public var commonName: String
    public var dnsNames: [String]
    public var emails: [String]
    public var ipAddresses: [String]

    public init(commonName: String, dnsNames: [String] = [], emails: [String] = [], ipAddresses: [String] = []) {
        self.commonName = commonName
        self.dnsNames = dnsNames
        self.emails = emails
        self.ipAddresses = ipAddresses
    }

    init(_ cert: OpaquePointer) {
        var cn = [CChar](repeating: 0, count: 256)
        hive_tls_common_name(cert, &cn, Int32(cn.count))
        commonName = Self.text(cn)
        var alt = [CChar](repeating: 0, count: 8192)
        hive_tls_alt_names(cert, &alt, alt.count)
        dnsNames = []
        emails = []
        ipAddresses = []
        for line in Self.text(alt).split(separator: "\n") {
            if line.hasPrefix("DNS:") { dnsNames.append(String(line.dropFirst(4))) }
            else if line.hasPrefix("email:") { emails.append(String(line.dropFirst(6))) }
            else if line.hasPrefix("IP:") { ipAddresses.append(String(line.dropFirst(3))) }
        }
    }

    /// Every name, subjectAltNames first (what hostname checks use), then the CN if not among them.
    public var names: [String] {
        var all = dnsNames + ipAddresses + emails
        if !commonName.isEmpty && !all.contains(commonName) { all.append(commonName) }
        return all
    }

    /// Whether `name` is one of this certificate's names (a principal's `certificate` matches any).
    public func matches(_ name: String) -> Bool { names.contains(name) }

    static func text(_ buffer: [CChar]) -> String {
        String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
