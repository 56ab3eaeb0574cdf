import FoundationEssentials
import HiveJSON
import NATSWire

/// The fields of a server's INFO that the client acts on.
struct ServerInfoMessage: Decodable, Sendable {
    var serverID: String?
    /// The node's name in its cluster (`-n`; JetStream names a stream's raft leader by it).
    var serverName: String?
    var version: String?
    var maxPayload: Int?
    var headers: Bool?
    var authRequired: Bool?
    var connectURLs: [String]?
    /// The client must upgrade to TLS right after this INFO.
    var tlsRequired: Bool?
    /// The server also accepts TLS on a port that takes plain text (nats-server's `allow_non_tls`).
    var tlsAvailable: Bool?
    /// The server requires a client certificate (mutual TLS).
    var tlsVerify: Bool?

    enum CodingKeys: String, CodingKey {
        case serverID = "server_id", serverName = "server_name", version, maxPayload = "max_payload", headers
        case authRequired = "auth_required", connectURLs = "connect_urls"
        case tlsRequired = "tls_required", tlsAvailable = "tls_available", tlsVerify = "tls_verify"
    }

    static func parse(_ json: Bytes) -> ServerInfoMessage? {
        try? JSONDecoder().decode(ServerInfoMessage.self, from: Data(json))
    }
}

/// The CONNECT line for a server.
func connectLine(_ options: NATSClientOptions, _ server: ServerAddress, headers: Bool) -> String {
    var w = JSONWriter(capacity: 256)
    w.beginObject()
    w.field("verbose", false); w.field("pedantic", false); w.field("lang", "swift"); w.field("version", "0.1.0")
    w.field("protocol", 1); w.field("echo", !options.noEcho)
    if headers { w.field("headers", true); w.field("no_responders", true) }
    w.optional("name", options.name)
    w.optional("auth_token", server.token)
    w.optional("user", server.user)
    w.optional("pass", server.password)
    w.endObject()
    return "CONNECT " + w.text + "\r\nPING\r\n"
}
