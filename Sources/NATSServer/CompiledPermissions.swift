import NATSWire

/// A list of subject patterns kept as bytes, matched token-wise without allocating.
struct SubjectPatterns: Sendable {
    let patterns: [[UInt8]]

    init(_ list: [String]) { patterns = list.map { Array($0.utf8) } }

    var isEmpty: Bool { patterns.isEmpty }

    /// Some pattern matches `subject` (nats-server's sublist rule; a wildcard subject's tokens count as text).
    func matches(_ subject: Bytes) -> Bool {
        for p in patterns where p.withUnsafeBytes({ Subject.matches(pattern: $0, literal: subject) }) { return true }
        return false
    }

    /// Some pattern covers everything `subscription` can receive.
    func covers(_ subscription: Bytes) -> Bool {
        for p in patterns where p.withUnsafeBytes({ Subject.covers(pattern: $0, subscription: subscription) }) { return true }
        return false
    }
}

/// One principal's permissions, ready for the broker's checks. Immutable; shared by the principal's connections.
///
/// nats-server 2.9 semantics (checked against it in the wire and compat tests): an absent allow list allows all,
/// deny wins, `allow_responses` without a publish allow list allows replies only. One deliberate deviation: a
/// wildcard SUB must be *covered* by an allow pattern (`foo.>` is refused under `allow: ["foo.*"]`, which
/// nats-server accepts and then delivers `foo.a.b` through); and a wildcard SUB that a deny pattern does not
/// refuse outright has each message checked against the deny list on delivery, as nats-server does for deny
/// patterns inside the wildcard (we check every wildcard subscription, not only those it finds overlapping).
final class CompiledPermissions: Sendable {
    let publishAllow: SubjectPatterns?
    let publishDeny: SubjectPatterns
    let subscribeAllow: SubjectPatterns?
    let subscribeDeny: SubjectPatterns
    let responses: ResponsePermission?

    init(_ p: Permissions) {
        var publishAllow = p.publish.allow
        if p.allowResponses != nil && publishAllow == nil { publishAllow = [] }
        self.publishAllow = publishAllow.map(SubjectPatterns.init)
        publishDeny = SubjectPatterns(p.publish.deny)
        subscribeAllow = p.subscribe.allow.map(SubjectPatterns.init)
        subscribeDeny = SubjectPatterns(p.subscribe.deny)
        responses = p.allowResponses
    }

    /// Whether publishing can be refused at all (else the check is skipped).
    var restrictsPublish: Bool { publishAllow != nil || !publishDeny.isEmpty }

    /// The static publish rule for a literal subject (without reply permits).
    func publishAllowed(_ subject: Bytes) -> Bool {
        if let allow = publishAllow, !allow.matches(subject) { return false }
        return !publishDeny.matches(subject)
    }

    /// Whether a SUB to `subject` may be made.
    func subscribeAllowed(_ subject: Bytes) -> Bool {
        if let allow = subscribeAllow, !allow.covers(subject) { return false }
        return !subscribeDeny.matches(subject)
    }

    /// Whether a subscription to `subject` must have each delivered subject checked against the deny list.
    func needsDeliveryFilter(_ subject: Bytes) -> Bool { !subscribeDeny.isEmpty && Subject.hasWildcard(subject) }

    /// A delivery the subscribe deny list refuses.
    func deliveryDenied(_ subject: Bytes) -> Bool { subscribeDeny.matches(subject) }
}
