/// Which names a browser may use to reach this server, and which pages may change things through it.
///
/// DNS rebinding: a page on `evil.example` re-points its own name at 127.0.0.1 and then reads or drives the local
/// API as if it were same-origin. The browser still sends `Host: evil.example`, so answering only the names we
/// know stops it. The names we know: loopback (`localhost`, `*.localhost`, `127.0.0.0/8`, `::1`), the listen
/// address (any IP literal when listening on a wildcard address: an IP in `Host` cannot be a rebound name), and
/// the operator's `--http-allowed-hosts`.
///
/// Cross-site requests: a browser names the page that made a request in `Origin`; a request whose `Origin` is not
/// this very server (scheme aside, the same host and port as `Host`) is refused. Programs (curl, scrapers) send no
/// `Origin` and are judged by their credentials alone.
public struct HostPolicy: Sendable, Equatable {
    /// Extra names (lower case, no port) the operator allows.
    public var allowedNames: Set<String>
    /// The address the server listens on (host part only).
    public var listenHost: String

    public init(listenHost: String, allowedNames: [String] = []) {
        self.listenHost = Self.normalized(listenHost)
        self.allowedNames = Set(allowedNames.map(Self.normalized).filter { !$0.isEmpty })
    }

    /// Why a request's `Host` or `Origin` is refused, worded for the user.
    public enum Refusal: Sendable, Equatable, CustomStringConvertible {
        case host(String)
        case origin(String)

        public var status: Int {
            switch self {
            case .host: return 421
            case .origin: return 403
            }
        }

        public var description: String {
            switch self {
            case .host(let h):
                return "Host '\(h)' is not a name this honeycombd answers to (DNS rebinding guard): use a loopback address, "
                    + "the listen address, or add the name to --http-allowed-hosts (config http_allowed_hosts)"
            case .origin(let o):
                return "cross-origin request refused: Origin '\(o)' is not this server; only its own pages may use the API from a browser"
            }
        }
    }

    /// Checks `Host` (when present: HTTP/1.0 clients may omit it, and browsers never do) and `Origin` (when
    /// present). nil admits the request.
    public func check(host: String?, origin: String?) -> Refusal? {
        if let host {
            guard let authority = Authority(host), allows(authority.host) else { return .host(host) }
        }
        if let origin {
            guard let from = Authority(origin: origin), allows(from.host) else { return .origin(origin) }
            // Same origin: the page's host and port are the ones this request was sent to.
            if let host, let to = Authority(host), !to.isSameOrigin(as: from) { return .origin(origin) }
        }
        return nil
    }

    /// Whether `name` (a host without port, lower case) reaches this server legitimately.
    public func allows(_ name: String) -> Bool {
        if Self.isLoopback(name) || allowedNames.contains(name) || name == listenHost { return true }
        return Self.isWildcard(listenHost) && Self.isIPLiteral(name)
    }

    /// Loopback: `localhost`, `*.localhost` (RFC 6761: always loopback), 127.0.0.0/8 and `::1`.
    public static func isLoopback(_ host: String) -> Bool {
        let h = normalized(host)
        if h == "localhost" || h.hasSuffix(".localhost") || h == "::1" { return true }
        guard let quad = ipv4(h) else { return false }
        return quad[0] == 127
    }

    /// `0.0.0.0`, `::` or empty: every interface.
    public static func isWildcard(_ host: String) -> Bool {
        let h = normalized(host)
        return h.isEmpty || h == "0.0.0.0" || h == "::"
    }

    static func isIPLiteral(_ h: String) -> Bool { ipv4(h) != nil || (h.contains(":") && h.allSatisfy { $0.isHexDigit || $0 == ":" || $0 == "." }) }

    static func ipv4(_ h: String) -> [Int]? {
        let parts = h.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var out: [Int] = []
        for p in parts {
            guard (1...3).contains(p.count), p.allSatisfy(\.isASCII), let n = Int(p), (0...255).contains(n) else { return nil }
            out.append(n)
        }
        return out
    }

    /// Lower case, without brackets or a trailing dot.
    static func normalized(_ host: String) -> String {
        var h = Substring(host.lowercased())
        if h.hasPrefix("["), h.hasSuffix("]") { h = h.dropFirst().dropLast() }
        if h.hasSuffix(".") { h = h.dropLast() }
        return String(h)
    }

    /// `host[:port]` as in `Host`, or the authority of an origin (`scheme://host[:port]`).
    struct Authority: Equatable {
        var host: String
        /// As written; nil when the text named none.
        var port: Int?
        /// The scheme's port (80 for `http`, 443 for `https`; 80 for a `Host` header).
        var defaultPort = 80

        init(host: String, port: Int?, defaultPort: Int = 80) {
            self.host = host
            self.port = port
            self.defaultPort = defaultPort
        }

        /// A `Host` header value.
        init?(_ text: String) {
            guard let (h, p) = Self.split(Substring(text)) else { return nil }
            self.init(host: h, port: p)
        }

        /// An `Origin` header value: `http://host[:port]` or `https://…`; `null` and anything else is nil.
        init?(origin text: String) {
            let lower = text.lowercased()
            let rest: Substring, scheme: Int
            if lower.hasPrefix("http://") {
                rest = lower.dropFirst(7); scheme = 80
            } else if lower.hasPrefix("https://") {
                rest = lower.dropFirst(8); scheme = 443
            } else {
                return nil
            }
            guard !rest.contains("/"), let (h, p) = Self.split(rest) else { return nil }
            self.init(host: h, port: p, defaultPort: scheme)
        }

        /// Whether a request sent with this `Host` came from a page at `origin`: same host, same port (a `Host`
        /// without a port is the origin scheme's default port).
        func isSameOrigin(as origin: Authority) -> Bool {
            host == origin.host && (port ?? origin.defaultPort) == (origin.port ?? origin.defaultPort)
        }

        static func split(_ text: Substring) -> (String, Int?)? {
            guard !text.isEmpty, !text.contains(where: { $0 == " " || $0 == "/" || $0 == "@" || $0 == "\t" }) else { return nil }
            var host = text, port: Substring?
            if text.hasPrefix("[") {
                guard let close = text.firstIndex(of: "]") else { return nil }
                host = text[text.index(after: text.startIndex)..<close]
                let after = text[text.index(after: close)...]
                if !after.isEmpty {
                    guard after.hasPrefix(":") else { return nil }
                    port = after.dropFirst()
                }
            } else if let colon = text.lastIndex(of: ":") {
                host = text[..<colon]
                port = text[text.index(after: colon)...]
            }
            var number: Int?
            if let port {
                guard (1...5).contains(port.count), port.allSatisfy(\.isASCII), let n = Int(port), (1...65535).contains(n) else { return nil }
                number = n
            }
            let name = HostPolicy.normalized(String(host))
            guard !name.isEmpty else { return nil }
            return (name, number)
        }
    }
}
