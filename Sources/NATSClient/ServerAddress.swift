/// One server to connect to, with the credentials its URL carried.
public struct ServerAddress: Sendable, Equatable, Hashable, CustomStringConvertible {
    public var host: String
    public var port: Int
    public var user: String?
    public var password: String?
    public var token: String?
    /// Learned from a server's `connect_urls` rather than given by the user.
    public var discovered = false
    /// Given as `tls://`: the connection must be TLS, verified against `host` (a server that does not offer TLS
    /// is refused rather than spoken to in plain text).
    public var tls = false

    public init(host: String, port: Int = 4222, user: String? = nil, password: String? = nil, token: String? = nil,
                tls: Bool = false) {
        self.host = host
        self.port = port
        self.user = user
        self.password = password
        self.token = token
        self.tls = tls
    }

    /// `host:port` without credentials (safe to log).
    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }

    /// `nats://host:port` or `tls://host:port`, without credentials (safe to log and to print in commands).
    public var url: String { (tls ? "tls://" : "nats://") + description }

    /// Parses `nats://[user:pass@|token@]host[:port]` or `tls://…` (also without the scheme: plain).
    public static func parse(_ text: String) throws(NATSClientError) -> ServerAddress {
        var rest = Substring(text.trimmingSpaces)
        var tls = false
        if let scheme = rest.firstRange(of: "://") {
            let s = rest[..<scheme.lowerBound].lowercased()
            guard s == "nats" || s == "tcp" || s == "tls" else { throw .invalidURL(text, reason: "scheme must be nats:// or tls://") }
            tls = s == "tls"
            rest = rest[scheme.upperBound...]
        }
        if rest.hasSuffix("/") { rest = rest.dropLast() }
        var user: String?, password: String?, token: String?
        if let at = rest.lastIndex(of: "@") {
            let creds = rest[..<at]
            rest = rest[rest.index(after: at)...]
            if let colon = creds.firstIndex(of: ":") {
                user = percentDecoded(creds[..<colon])
                password = percentDecoded(creds[creds.index(after: colon)...])
            } else {
                token = percentDecoded(creds)
            }
        }
        var host: Substring
        var port = 4222
        if rest.hasPrefix("[") {
            guard let close = rest.firstIndex(of: "]") else { throw .invalidURL(text, reason: "unclosed IPv6 bracket") }
            host = rest[rest.index(after: rest.startIndex)..<close]
            let after = rest[rest.index(after: close)...]
            if after.hasPrefix(":") {
                guard let p = Int(after.dropFirst()), (1...65535).contains(p) else { throw .invalidURL(text, reason: "bad port") }
                port = p
            } else if !after.isEmpty {
                throw .invalidURL(text, reason: "unexpected text after the address")
            }
        } else if let colon = rest.lastIndex(of: ":") {
            host = rest[..<colon]
            guard let p = Int(rest[rest.index(after: colon)...]), (1...65535).contains(p) else {
                throw .invalidURL(text, reason: "bad port")
            }
            port = p
        } else {
            host = rest
        }
        guard !host.isEmpty, !host.contains(" ") else { throw .invalidURL(text, reason: "missing host") }
        return ServerAddress(host: String(host), port: port, user: user, password: password, token: token, tls: tls)
    }

    /// Parses a comma-separated list (`nats://a:4222,tls://b:4222`).
    public static func parseList(_ text: String) throws(NATSClientError) -> [ServerAddress] {
        var out: [ServerAddress] = []
        for part in text.split(separator: ",") where !part.allSatisfy({ $0 == " " }) {
            out.append(try parse(String(part)))
        }
        if out.isEmpty { throw .noServers }
        return out
    }

    private static func percentDecoded(_ s: Substring) -> String {
        var bytes: [UInt8] = []
        var it = Array(s.utf8)[...]
        while let b = it.popFirst() {
            if b == UInt8(ascii: "%"), it.count >= 2, let v = UInt8(String(decoding: it.prefix(2), as: UTF8.self), radix: 16) {
                bytes.append(v)
                it = it.dropFirst(2)
            } else {
                bytes.append(b)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

extension String {
    var trimmingSpaces: String {
        String(self.drop(while: { $0 == " " }).reversed().drop(while: { $0 == " " }).reversed())
    }
}
