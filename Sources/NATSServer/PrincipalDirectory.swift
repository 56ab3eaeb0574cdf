import HiveSystem
import HiveTLS
import NATSWire

/// The broker's current principals, replaceable at runtime (`Broker.setPrincipals`). Connections authenticate
/// against it in CONNECT and keep what they got (`ConnectionGrant`); a replacement closes the connections whose
/// principal is gone or changed.
final class PrincipalDirectory: @unchecked Sendable {
    struct Entry {
        let principal: Principal
        let permissions: CompiledPermissions
    }

    private let lock = PosixLock()
    private var entries: [Entry]

    init(_ list: [Principal]) { entries = Self.compile(list) }

    private static func compile(_ list: [Principal]) -> [Entry] {
        list.map { Entry(principal: $0, permissions: CompiledPermissions($0.permissions)) }
    }

    func replace(_ list: [Principal]) { lock.withLock { entries = Self.compile(list) } }

    /// The principal a CONNECT's credentials name, or nil. Every secret is compared in constant time and the
    /// whole list is walked, so timing says neither which byte nor which principal differed.
    /// A connection that presented a verified client certificate (`certificate`) and no other credential is the
    /// principal whose `certificate` name is among the certificate's names.
    func authenticate(token: String?, user: String?, password: String?, certificate: TLSPeerIdentity? = nil) -> Entry? {
        let list = lock.withLock { entries }
        var found: Entry?
        for e in list {
            switch e.principal.credential {
            case .token(let t):
                if user == nil, let token, constantTimeEqual(token, t), found == nil { found = e }
            case .userPassword(let u, let p):
                if let user, let password, constantTimeEqual(user, u) && constantTimeEqual(password, p), found == nil {
                    found = e
                }
            case .certificate(let name):
                if token == nil, user == nil, let certificate, certificate.matches(name), found == nil { found = e }
            }
        }
        return found
    }

    /// The current entry named `name`, if any.
    func entry(named name: String) -> Entry? { lock.withLock { entries.first { $0.principal.name == name } } }
}

/// What an authenticated connection may do: its principal, the compiled permissions, a cache of publish
/// decisions and its reply permits. Owned by the connection's loop, except `responses` (locked).
final class ConnectionGrant: @unchecked Sendable {
    /// Subjects whose publish decision is cached per connection before the cache starts over.
    static let publishCacheLimit = 256

    let principal: Principal
    let permissions: CompiledPermissions
    let responses: ResponsePermits?
    private var publishCache = ByteKeyTable<Bool>(capacity: 32)

    init(_ entry: PrincipalDirectory.Entry, maxResponsePermits: Int) {
        principal = entry.principal
        permissions = entry.permissions
        responses = entry.permissions.responses.map { ResponsePermits(rule: $0, limit: maxResponsePermits) }
    }

    /// Whether this connection may publish to the literal `subject` now. The static rule is cached; a refused
    /// subject may still be a reply this connection was asked for (`allow_responses`), never cached.
    func mayPublish(_ subject: Bytes) -> Bool {
        if !permissions.restrictsPublish { return true }
        let allowed: Bool
        if let cached = publishCache.value(for: subject) {
            allowed = cached
        } else {
            allowed = permissions.publishAllowed(subject)
            if publishCache.count >= Self.publishCacheLimit { publishCache.removeAll() }
            publishCache.set(allowed, for: subject)
        }
        if allowed { return true }
        guard let responses else { return false }
        return responses.spend(subject, now: Monotonic.now())
    }
}
