import Foundation
import Testing
@testable import NATSServer
import NATSTestSupport
import NATSWire

/// The permission rules on their own: nats-server 2.9's semantics, and our one deliberate deviation.
@Suite struct PermissionRuleTests {
    func compiled(_ p: Permissions) -> CompiledPermissions { CompiledPermissions(p) }
    func pub(_ c: CompiledPermissions, _ s: String) -> Bool { withBytes(s) { c.publishAllowed($0) } }
    func sub(_ c: CompiledPermissions, _ s: String) -> Bool { withBytes(s) { c.subscribeAllowed($0) } }

    @Test func anAbsentAllowListAllowsEverythingNotDenied() {
        let c = compiled(Permissions(publish: SubjectRules(deny: ["secret.>"])))
        #expect(pub(c, "anything.at.all"))
        #expect(!pub(c, "secret.x"))
        #expect(!pub(c, "secret.x.y"))
        #expect(pub(c, "secret"))
    }

    @Test func denyWinsOverAllowAndWildcardsMatchWholeTokens() {
        let c = compiled(Permissions(publish: SubjectRules(allow: ["foo.*", "req.>"], deny: ["foo.bad"])))
        #expect(pub(c, "foo.x"))
        #expect(!pub(c, "foo.bad"))
        #expect(!pub(c, "foo.x.y"))
        #expect(pub(c, "req.a.b"))
        #expect(!pub(c, "req"))
        #expect(!pub(c, "foox"))
    }

    @Test func anEmptyAllowListAllowsNothing() {
        let c = compiled(Permissions(subscribe: SubjectRules(allow: [])))
        #expect(!sub(c, "foo"))
        #expect(!sub(c, ">"))
    }

    @Test func allowResponsesWithoutAPublishAllowListAllowsOnlyReplies() {
        let c = compiled(Permissions(allowResponses: ResponsePermission()))
        #expect(c.restrictsPublish)
        #expect(!pub(c, "anything"))
        let open = compiled(Permissions(publish: SubjectRules(allow: ["a"]), allowResponses: ResponsePermission()))
        #expect(pub(open, "a"))
    }

    @Test func aWildcardSubscriptionMustBeCoveredByAnAllowPattern() {
        let c = compiled(Permissions(subscribe: SubjectRules(allow: ["foo.*", "x.>"])))
        #expect(sub(c, "foo.x"))
        #expect(sub(c, "foo.*"))
        #expect(sub(c, "x.*"))
        #expect(sub(c, "x.>"))
        #expect(!sub(c, ">"))
        #expect(!sub(c, "*.x"))
        // nats-server accepts this and then delivers foo.a.b through it; Hive refuses it (deliberate deviation).
        #expect(!sub(c, "foo.>"))
    }

    @Test func aDenyPatternRefusesWildcardSubscriptionsItMatchesAndFiltersTheRest() {
        let c = compiled(Permissions(subscribe: SubjectRules(deny: ["foo.secret", "bar.*"])))
        #expect(!sub(c, "foo.secret"))
        #expect(!sub(c, "bar.>"))  // `*` in a deny pattern matches a `>` token (nats-server's sublist rule)
        #expect(sub(c, "foo.*"))
        #expect(sub(c, ">"))
        #expect(withBytes("foo.*") { c.needsDeliveryFilter($0) })
        #expect(!withBytes("foo.other") { c.needsDeliveryFilter($0) })
        #expect(withBytes("foo.secret") { c.deliveryDenied($0) })
        #expect(!withBytes("foo.other") { c.deliveryDenied($0) })
    }

    @Test func responsePermitsAllowMaxRepliesWithinExpiry() {
        let permits = ResponsePermits(rule: ResponsePermission(maxMessages: 2, expiresMillis: 1_000), limit: 16)
        let t0: UInt64 = 1_000_000_000
        withBytes("rep.1") { permits.record($0, now: t0) }
        #expect(withBytes("rep.1") { permits.spend($0, now: t0) })
        #expect(withBytes("rep.1") { permits.spend($0, now: t0) })
        #expect(!withBytes("rep.1") { permits.spend($0, now: t0) })
        withBytes("rep.2") { permits.record($0, now: t0) }
        #expect(!withBytes("rep.2") { permits.spend($0, now: t0 + 1_000_000_001) })
        #expect(!withBytes("never.asked") { permits.spend($0, now: t0) })
    }

    @Test func responsePermitsStayWithinTheirLimit() {
        let permits = ResponsePermits(rule: ResponsePermission(maxMessages: 0, expiresMillis: 0), limit: 8)
        for i in 0..<100 { withBytes("rep.\(i)") { permits.record($0, now: 1) } }
        #expect(permits.count <= 8)
        #expect(withBytes("rep.99") { permits.spend($0, now: 2) })
    }

    @Test func principalListsWithSharedCredentialsOrBadPatternsAreRefused() {
        let a = Principal(name: "a", credential: .token("t"))
        #expect(Principal.problem(in: [a]) == nil)
        #expect(Principal.problem(in: []) != nil)
        #expect(Principal.problem(in: [a, Principal(name: "b", credential: .token("t"))])?.contains("same token") == true)
        #expect(Principal.problem(in: [a, Principal(name: "a", credential: .token("u"))])?.contains("used twice") == true)
        let u1 = Principal(name: "u1", credential: .userPassword(user: "x", password: "1"))
        let u2 = Principal(name: "u2", credential: .userPassword(user: "x", password: "2"))
        #expect(Principal.problem(in: [u1, u2])?.contains("same user") == true)
        let bad = Principal(name: "c", credential: .token("c"), permissions: Permissions(publish: SubjectRules(allow: ["a.>.b"])))
        #expect(Principal.problem(in: [bad])?.contains("a.>.b") == true)
    }

    @Test func secretsOfDifferentLengthsNeverCompareEqual() {
        #expect(constantTimeEqual("abc", "abc"))
        #expect(!constantTimeEqual("abc", "abd"))
        #expect(!constantTimeEqual("a", "a" + String(repeating: "\u{0}", count: 256)))
    }
}

/// Permissions over real sockets, against the embedded broker and nats-server with the same principals.
@Suite struct PermissionWireTests {
    static let principals = [
        Principal(name: "a", credential: .userPassword(user: "a", password: "pa"),
                  permissions: Permissions(publish: SubjectRules(allow: ["foo.*", "req.>"], deny: ["foo.bad"]),
                                           subscribe: SubjectRules(allow: ["foo.*", "x.>", "_INBOX.>"], deny: ["foo.secret"]))),
        Principal(name: "r", credential: .userPassword(user: "r", password: "pr"),
                  permissions: Permissions(subscribe: SubjectRules(allow: ["svc"]),
                                           allowResponses: ResponsePermission(maxMessages: 2, expiresMillis: 60_000))),
        Principal(name: "s", credential: .userPassword(user: "s", password: "ps"),
                  permissions: Permissions(subscribe: SubjectRules(deny: ["foo.secret"]))),
        Principal(name: "all", credential: .userPassword(user: "all", password: "pall")),
    ]

    func start(_ kind: BrokerKind) throws -> RunningBroker {
        try RunningBroker(kind) { $0.auth = .principals(Self.principals) }
    }

    func login(_ port: Int, _ user: String, _ pass: String) throws -> RawClient {
        try RawClient.connected(port: port, connect: #"{"verbose":false,"pedantic":false,"user":"\#(user)","pass":"\#(pass)"}"#)
    }

    @Test(arguments: BrokerKind.allCases)
    func aRefusedPublishIsAnsweredWithNatsServersErrorAndTheConnectionStays(kind: BrokerKind) throws {
        let broker = try start(kind)
        let watcher = try login(broker.port, "all", "pall")
        watcher.send("SUB > 1\r\n")
        _ = try watcher.framesUntilPong()
        let a = try login(broker.port, "a", "pa")
        a.send("PUB foo.bad 1\r\nx\r\nPUB bar 1\r\nx\r\nPUB foo.ok 2\r\nok\r\n")
        #expect(try a.framesUntilPong().map(\.line) == [
            #"-ERR 'Permissions Violation for Publish to "foo.bad"'"#,
            #"-ERR 'Permissions Violation for Publish to "bar"'"#,
        ])
        let got = try watcher.framesUntilPong()
        #expect(got.map(\.line) == ["MSG foo.ok 1 2"])
    }

    @Test(arguments: BrokerKind.allCases)
    func aRefusedSubscriptionReceivesNothing(kind: BrokerKind) throws {
        let broker = try start(kind)
        let a = try login(broker.port, "a", "pa")
        a.send("SUB > 1\r\nSUB foo.secret 2\r\nSUB bar q 3\r\nSUB foo.* 4\r\n")
        #expect(try a.framesUntilPong().map(\.line) == [
            #"-ERR 'Permissions Violation for Subscription to ">"'"#,
            #"-ERR 'Permissions Violation for Subscription to "foo.secret"'"#,
            #"-ERR 'Permissions Violation for Subscription to "bar" using queue "q"'"#,
        ])
        let all = try login(broker.port, "all", "pall")
        all.send("PUB bar 1\r\nb\r\nPUB foo.x 1\r\nx\r\n")
        _ = try all.framesUntilPong()
        #expect(try a.framesUntilPong().map(\.line) == ["MSG foo.x 4 1"])
    }

    @Test(arguments: BrokerKind.allCases)
    func aWildcardSubscriptionNeverDeliversADeniedSubject(kind: BrokerKind) throws {
        let broker = try start(kind)
        let s = try login(broker.port, "s", "ps")
        s.send("SUB foo.* 1\r\nSUB > 2\r\n")
        #expect(try s.framesUntilPong().isEmpty)
        let all = try login(broker.port, "all", "pall")
        all.send("PUB foo.secret 1\r\nx\r\nPUB foo.other 1\r\ny\r\n")
        _ = try all.framesUntilPong()
        #expect(Set(try s.framesUntilPong().map(\.line)) == ["MSG foo.other 1 1", "MSG foo.other 2 1"])
    }

    @Test(arguments: BrokerKind.allCases)
    func allowResponsesLetsAPrincipalAnswerWhatItWasAskedUpToMax(kind: BrokerKind) throws {
        let broker = try start(kind)
        let r = try login(broker.port, "r", "pr")
        r.send("SUB svc 1\r\n")
        _ = try r.framesUntilPong()
        let all = try login(broker.port, "all", "pall")
        all.send("SUB rep.1 9\r\nPUB svc rep.1 1\r\nq\r\n")
        _ = try all.framesUntilPong()
        #expect(try r.framesUntilPong().map(\.line) == ["MSG svc 1 rep.1 1"])
        r.send("PUB other 1\r\nx\r\nPUB rep.1 2\r\nr1\r\nPUB rep.1 2\r\nr2\r\nPUB rep.1 2\r\nr3\r\nPUB rep.2 1\r\nx\r\n")
        #expect(try r.framesUntilPong().map(\.line) == [
            #"-ERR 'Permissions Violation for Publish to "other"'"#,
            #"-ERR 'Permissions Violation for Publish to "rep.1"'"#,
            #"-ERR 'Permissions Violation for Publish to "rep.2"'"#,
        ])
        #expect(try all.framesUntilPong().map(\.payloadString) == ["r1", "r2"])
    }

    @Test(arguments: BrokerKind.allCases)
    func unknownCredentialsAreRefused(kind: BrokerKind) throws {
        let broker = try start(kind)
        let c = try RawClient.connected(port: broker.port, connect: nil)
        c.send("CONNECT {\"verbose\":false,\"user\":\"a\",\"pass\":\"wrong\"}\r\nPING\r\n")
        #expect(try c.next().line == "-ERR 'Authorization Violation'")
    }

    @Test func replacingPrincipalsClosesRemovedAndChangedOnesAndKeepsTheRest() throws {
        let keep = Principal(name: "keep", credential: .token("k"))
        let gone = Principal(name: "gone", credential: .token("g"))
        let changed = Principal(name: "changed", credential: .token("c1"))
        let broker = try RunningBroker(.embedded) { $0.auth = .principals([keep, gone, changed]) }
        let clients = try ["k", "g", "c1"].map { try RawClient.connected(port: broker.port, connect: #"{"verbose":false,"auth_token":"\#($0)"}"#) }
        try broker.embedded!.setPrincipals([keep, Principal(name: "changed", credential: .token("c2"))])
        for c in clients.dropFirst() {
            #expect(try c.next().line == "-ERR 'Authorization Violation'")
            #expect(c.drainUntilClosed())
        }
        clients[0].send("PING\r\n")
        #expect(try clients[0].next().line == "PONG")
        let refused = try RawClient.connected(port: broker.port, connect: nil)
        refused.send("CONNECT {\"auth_token\":\"g\"}\r\n")
        #expect(try refused.next().line == "-ERR 'Authorization Violation'")
        _ = try RawClient.connected(port: broker.port, connect: #"{"verbose":false,"auth_token":"c2"}"#)
        #expect(throws: BrokerError.self) { try broker.embedded!.setPrincipals([keep, Principal(name: "x", credential: .token("k"))]) }
    }

    @Test func setPrincipalsIsRefusedOnABrokerWithASingleCredential() throws {
        let broker = try RunningBroker(.embedded) { $0.auth = .token("t") }
        #expect(throws: BrokerError.self) { try broker.embedded!.setPrincipals([Principal(name: "a", credential: .token("a"))]) }
    }
}
