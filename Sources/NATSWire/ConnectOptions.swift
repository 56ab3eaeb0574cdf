import FoundationEssentials
import HiveJSON

/// The client's CONNECT JSON, with nats-server's defaults for absent fields (verbose and pedantic default to
/// true when absent; every real client sends them false).
public struct ConnectOptions: Decodable, Sendable, Equatable {
    public var verbose = true
    public var pedantic = true
    public var echo = true
    public var headers = false
    public var noResponders = false
    public var protocolVersion = 0
    public var name: String?
    public var lang: String?
    public var version: String?
    public var authToken: String?
    public var user: String?
    public var pass: String?
    /// True when the client named an account (unsupported: always an authorization violation).
    public var namedAccount = false

    public init() {}

    enum Keys: String, CodingKey {
        case verbose, pedantic, echo, headers, name, lang, version, user, pass, account
        case noResponders = "no_responders", protocolVersion = "protocol", authToken = "auth_token"
        case newAccount = "new_account"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: Keys.self)
        verbose = try c.decodeIfPresent(Bool.self, forKey: .verbose) ?? true
        pedantic = try c.decodeIfPresent(Bool.self, forKey: .pedantic) ?? true
        echo = try c.decodeIfPresent(Bool.self, forKey: .echo) ?? true
        headers = try c.decodeIfPresent(Bool.self, forKey: .headers) ?? false
        noResponders = try c.decodeIfPresent(Bool.self, forKey: .noResponders) ?? false
        protocolVersion = try c.decodeIfPresent(Int.self, forKey: .protocolVersion) ?? 0
        name = try c.decodeIfPresent(String.self, forKey: .name)
        lang = try c.decodeIfPresent(String.self, forKey: .lang)
        version = try c.decodeIfPresent(String.self, forKey: .version)
        authToken = try c.decodeIfPresent(String.self, forKey: .authToken)
        user = try c.decodeIfPresent(String.self, forKey: .user)
        pass = try c.decodeIfPresent(String.self, forKey: .pass)
        namedAccount = c.contains(.account) || c.contains(.newAccount)
    }

    /// Decodes CONNECT's JSON argument.
    public static func parse(_ json: Bytes) throws(NATSProtocolError) -> ConnectOptions {
        do {
            return try JSONDecoder().decode(ConnectOptions.self, from: Data(json))
        } catch {
            throw .protocolViolation("CONNECT is not valid JSON")
        }
    }
}

/// The INFO a server sends on accept.
public struct ServerInfo: Sendable {
    public var serverID: String
    public var serverName: String
    /// A nats-server semver: clients gate features on it, so it is not Hive's own version.
    public var version = "2.9.0"
    public var host: String
    public var port: Int
    public var maxPayload: Int
    public var authRequired: Bool
    public var clientID: UInt64 = 0
    public var clientIP: String = ""
    /// The client must upgrade to TLS right after this INFO (nats-server's `tls_required`).
    public var tlsRequired = false
    /// The client must present a certificate (nats-server's `tls_verify`, mutual TLS).
    public var tlsVerify = false

    public init(serverID: String, serverName: String, host: String, port: Int, maxPayload: Int, authRequired: Bool) {
        self.serverID = serverID
        self.serverName = serverName
        self.host = host
        self.port = port
        self.maxPayload = maxPayload
        self.authRequired = authRequired
    }

    /// `INFO {...}\r\n`, with `headers:true` (clients only negotiate headers and no-responders when present).
    public var line: String {
        var w = JSONWriter(capacity: 256)
        w.beginObject()
        w.field("server_id", serverID); w.field("server_name", serverName); w.field("version", version)
        w.field("proto", 1); w.field("go", "swift"); w.field("host", host)
        w.field("port", port); w.field("headers", true); w.field("max_payload", maxPayload)
        if authRequired { w.field("auth_required", true) }
        if tlsRequired { w.field("tls_required", true) }
        if tlsVerify { w.field("tls_verify", true) }
        w.field("client_id", clientID)
        if !clientIP.isEmpty { w.field("client_ip", clientIP) }
        w.endObject()
        return "INFO " + w.text + "\r\n"
    }
}
