import HiveLog
import NATSWire
import Synchronization

/// What every event loop of one broker shares: configuration, the subject index and counters.
final class SharedBrokerState: Sendable {
    let config: BrokerConfig
    let index = SubjectIndex<Subscription>()
    let stats = BrokerStats()
    let serverID: String
    /// Refused logins are warnings the operator sees, at most one line a second for all loops together.
    let authRefusals = LogThrottle(intervalMillis: 1_000)
    /// Permission violations likewise: one line a second, with the count held back.
    let permissionViolations = LogThrottle(intervalMillis: 1_000)
    /// Failed TLS handshakes likewise (a port scanner or a misconfigured fleet can make many).
    let tlsHandshakeFailures = LogThrottle(intervalMillis: 1_000)
    /// Set when the broker authenticates principals (`BrokerAuth.principals`).
    let principals: PrincipalDirectory?
    let port: Int
    private let nextConnectionID = Atomic<UInt64>(16)

    init(config: BrokerConfig, port: Int) {
        self.config = config
        self.port = port
        if case .principals(let list) = config.auth { principals = PrincipalDirectory(list) } else { principals = nil }
        var rng = SystemRandomNumberGenerator()
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")
        serverID = "N" + String((0..<55).map { _ in alphabet[Int(rng.next() % 32)] })
    }

    func newConnectionID() -> UInt64 { nextConnectionID.wrappingAdd(1, ordering: .relaxed).newValue }

    /// The INFO line for a new connection; a TLS connection's says `tls_required` (and `tls_verify` when client
    /// certificates are required), as nats-server's does.
    func info(clientID: UInt64, clientIP: String, tls: Bool = false) -> String {
        var info = ServerInfo(serverID: serverID, serverName: config.serverName, host: config.listen.host, port: port,
                              maxPayload: config.maxPayload, authRequired: config.auth.isRequired)
        info.clientID = clientID
        info.clientIP = clientIP
        if tls, let config = config.tls {
            info.tlsRequired = true
            info.tlsVerify = config.identity.requiresClientCertificates
        }
        return info.line
    }
}
