/// The servers a client knows: the configured ones (optionally shuffled) plus those a cluster announces in
/// INFO `connect_urls`. Reconnects walk the list starting after the server that was lost.
struct ServerPool {
    private(set) var servers: [ServerAddress]
    private var current = -1
    let defaults: (user: String?, password: String?, token: String?)

    init(_ configured: [ServerAddress], randomize: Bool, user: String?, password: String?, token: String?) {
        servers = randomize ? configured.shuffled() : configured
        defaults = (user, password, token)
    }

    /// Every server once, starting after the current one, each with credentials filled in.
    mutating func rotation() -> [ServerAddress] {
        guard !servers.isEmpty else { return [] }
        let start = (current + 1) % servers.count
        return (0..<servers.count).map { withCredentials(servers[(start + $0) % servers.count]) }
    }

    mutating func markCurrent(_ server: ServerAddress) {
        current = servers.firstIndex { $0.host == server.host && $0.port == server.port } ?? current
    }

    /// Adds announced `host:port` URLs; returns the ones that were new. A cluster reached over `tls://` is
    /// spoken to over TLS on every node (each verified against its own host).
    mutating func add(discovered urls: [String]) -> [String] {
        var added: [String] = []
        let tls = servers.contains { $0.tls }
        for u in urls {
            guard var a = try? ServerAddress.parse(u) else { continue }
            if servers.contains(where: { $0.host == a.host && $0.port == a.port }) { continue }
            a.discovered = true
            a.tls = a.tls || tls
            servers.append(a)
            added.append(a.description)
        }
        return added
    }

    private func withCredentials(_ s: ServerAddress) -> ServerAddress {
        var s = s
        if s.user == nil && s.token == nil {
            // Servers learned from the cluster, or given without credentials, use the first configured ones.
            let creds = servers.first { $0.user != nil || $0.token != nil }
            s.user = creds?.user ?? defaults.user
            s.password = creds?.password ?? defaults.password
            s.token = creds?.token ?? defaults.token
        }
        return s
    }
}
