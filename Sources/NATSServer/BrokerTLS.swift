import HiveTLS

/// TLS on the broker's client port, the way nats-server does it: INFO goes out in plain text with
/// `tls_required: true`, the client upgrades, and everything from CONNECT on is encrypted. A client that sends
/// plain text instead gets `-ERR 'Secure Connection - TLS Required'` and is closed; a handshake that has not
/// finished within `handshakeTimeoutMillis` is cut.
public struct BrokerTLS: Sendable, Equatable {
    /// The certificate and key served (reloadable: `TLSServerIdentity.reload()`); with a CA, client certificates
    /// are verified and may be an identity (`Credential.certificate`).
    public let identity: TLSServerIdentity
    /// nats-server's `tls { timeout }` (2 s there too, counted from the accept).
    public var handshakeTimeoutMillis: Int

    public init(identity: TLSServerIdentity, handshakeTimeoutMillis: Int = 2_000) {
        self.identity = identity
        self.handshakeTimeoutMillis = handshakeTimeoutMillis
    }

    public static func == (a: BrokerTLS, b: BrokerTLS) -> Bool {
        a.identity === b.identity && a.handshakeTimeoutMillis == b.handshakeTimeoutMillis
    }
}
