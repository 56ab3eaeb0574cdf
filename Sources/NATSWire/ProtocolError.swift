/// A client-protocol violation that ends the connection.
///
/// Errors that leave the connection open (`Invalid Subject`, `Invalid Publish Subject`, `maximum subscriptions
/// exceeded`) are answered in place and never thrown; every thrown error closes the connection after its
/// `-ERR` line (if it has one) is sent.
public enum NATSProtocolError: Error, Equatable, Sendable {
    /// An op the server does not know, a bad byte in the state machine, or a payload not followed by CRLF.
    case unknownOperation
    /// The argument part of a control line is longer than the limit.
    case maxControlLineExceeded
    /// A PUB/HPUB declared more bytes than `max_payload`.
    case maxPayloadViolation
    /// Missing or wrong credentials, or an op before CONNECT on a server that requires auth.
    case authorizationViolation
    /// No CONNECT within the auth timeout.
    case authenticationTimeout
    /// CONNECT `protocol` other than 0 or 1.
    case invalidClientProtocol
    /// CONNECT asked for no_responders without headers.
    case noRespondersRequiresHeaders
    /// The client did not answer server PINGs.
    case staleConnection
    /// The server is at its connection limit.
    case maxConnectionsExceeded
    /// Well-formed op with bad arguments (count, size, JSON, HPUB without headers). nats-server closes these
    /// silently; Hive answers `-ERR 'Unknown Protocol Operation'` first so the client learns why (a deliberate
    /// deviation recorded in Docs/ARCHITECTURE.md). `reason` is for our logs only.
    case protocolViolation(String)
    /// The peer sent `-ERR`: close without answering.
    case peerError(String)

    /// The exact text nats-server puts inside `-ERR '…'`, or nil when the connection closes silently.
    public var wireText: String? {
        switch self {
        case .unknownOperation, .protocolViolation: return "Unknown Protocol Operation"
        case .maxControlLineExceeded: return "maximum control line exceeded"
        case .maxPayloadViolation: return "Maximum Payload Violation"
        case .authorizationViolation: return "Authorization Violation"
        case .authenticationTimeout: return "Authentication Timeout"
        case .invalidClientProtocol: return "invalid client protocol"
        case .noRespondersRequiresHeaders: return "no responders requires headers support"
        case .staleConnection: return "Stale Connection"
        case .maxConnectionsExceeded: return "maximum connections exceeded"
        case .peerError: return nil
        }
    }

    /// The full `-ERR` line, or nil.
    public var wireLine: String? { wireText.map { "-ERR '\($0)'\r\n" } }

    /// A short machine-friendly name for logs (`reason=...`).
    public var logReason: String {
        switch self {
        case .unknownOperation: return "unknown_operation"
        case .maxControlLineExceeded: return "max_control_line"
        case .maxPayloadViolation: return "max_payload"
        case .authorizationViolation: return "authorization_violation"
        case .authenticationTimeout: return "authentication_timeout"
        case .invalidClientProtocol: return "invalid_client_protocol"
        case .noRespondersRequiresHeaders: return "no_responders_requires_headers"
        case .staleConnection: return "stale_connection"
        case .maxConnectionsExceeded: return "max_connections"
        case .protocolViolation: return "protocol_violation"
        case .peerError: return "peer_error"
        }
    }
}

/// Texts of `-ERR` replies that leave the connection open.
public enum NATSSoftError {
    public static let invalidSubject = "-ERR 'Invalid Subject'\r\n"
    public static let invalidPublishSubject = "-ERR 'Invalid Publish Subject'\r\n"
    public static let maxSubscriptionsExceeded = "-ERR 'maximum subscriptions exceeded'\r\n"

    /// nats-server's refusal of a PUB/HPUB the connection's permissions do not allow (the connection stays).
    public static func publishViolation(_ subject: Bytes) -> String {
        "-ERR 'Permissions Violation for Publish to \(goQuoted(subject))'\r\n"
    }

    /// nats-server's refusal of a SUB the connection's permissions do not allow (no subscription is made).
    public static func subscriptionViolation(_ subject: Bytes, queue: Bytes?) -> String {
        if let queue {
            return "-ERR 'Permissions Violation for Subscription to \(goQuoted(subject)) using queue \(goQuoted(queue))'\r\n"
        }
        return "-ERR 'Permissions Violation for Subscription to \(goQuoted(subject))'\r\n"
    }

    /// The bytes as Go's `%q` prints them (nats-server formats these errors with it): in double quotes, with
    /// `"` and `\` escaped, control bytes and invalid UTF-8 as `\xNN`.
    static func goQuoted(_ bytes: Bytes) -> String {
        var out = "\""
        let hex = Array("0123456789abcdef")
        func escapeByte(_ b: UInt8) {
            out += "\\x"
            out.append(hex[Int(b >> 4)])
            out.append(hex[Int(b & 15)])
        }
        if let text = String(validating: bytes, as: UTF8.self) {
            for scalar in text.unicodeScalars {
                switch scalar {
                case "\"": out += "\\\""
                case "\\": out += "\\\\"
                default:
                    if scalar.value < 0x20 || scalar.value == 0x7f { escapeByte(UInt8(scalar.value)) } else { out.unicodeScalars.append(scalar) }
                }
            }
        } else {
            for b in bytes {
                switch b {
                case 0x22: out += "\\\""
                case 0x5c: out += "\\\\"
                case 0x20..<0x7f: out.unicodeScalars.append(Unicode.Scalar(b))
                default: escapeByte(b)
                }
            }
        }
        return out + "\""
    }
}
