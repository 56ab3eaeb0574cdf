import FoundationEssentials
import NATSWire

/// The fields of a server's INFO that the client acts on.
struct ServerInfoMessage: Decodable, Sendable {
    var serverID: String?
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
        case serverID = "server_id", version, maxPayload = "max_payload", headers
        case authRequired = "auth_required", connectURLs = "connect_urls"
        case tlsRequired = "tls_required", tlsAvailable = "tls_available", tlsVerify = "tls_verify"
    }

    static func parse(_ json: Bytes) -> ServerInfoMessage? {
        try? JSONDecoder().decode(ServerInfoMessage.self, from: Data(json))
    }
}

/// The CONNECT line for a server.
func connectLine(_ options: NATSClientOptions, _ server: ServerAddress, headers: Bool) -> String {
    var fields = ["\"verbose\":false", "\"pedantic\":false", "\"lang\":\"swift\"", "\"version\":\"0.1.0\"",
                  "\"protocol\":1", "\"echo\":\(!options.noEcho)"]
    if headers { fields += ["\"headers\":true", "\"no_responders\":true"] }
    if let n = options.name { fields.append("\"name\":\(jsonQuoted(n))") }
    if let t = server.token { fields.append("\"auth_token\":\(jsonQuoted(t))") }
    if let u = server.user { fields.append("\"user\":\(jsonQuoted(u))") }
    if let p = server.password { fields.append("\"pass\":\(jsonQuoted(p))") }
    return "CONNECT {" + fields.joined(separator: ",") + "}\r\nPING\r\n"
}
