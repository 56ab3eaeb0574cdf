@testable import HiveHTTP
import Testing

/// Browser sessions: random ids, a fixed lifetime, a bounded count.
@Suite struct SessionStoreTests {
    @Test func aSessionIsFoundByItsIdUntilItExpiresThenForgotten() {
        let store = SessionStore<String>(limits: .init(maxSessions: 4, lifetimeMillis: 1_000))
        let (s, evicted) = store.open(for: "alice", now: 10_000)
        #expect(evicted == nil)
        #expect(store.session(s.id, now: 10_999)?.owner == "alice")
        #expect(store.session(s.id, now: 11_000) == nil)
        #expect(store.count == 0)
        #expect(store.session("guess", now: 10_000) == nil)
    }

    @Test func idsAndCSRFTokensAreDistinct64HexDigits() {
        let store = SessionStore<Int>()
        var seen = Set<String>()
        for i in 0..<100 {
            let s = store.open(for: i, now: 0).session
            for t in [s.id, s.csrfToken] {
                #expect(t.count == 64 && t.allSatisfy(\.isHexDigit))
                #expect(seen.insert(t).inserted)
            }
        }
    }

    @Test func pastTheCapTheOldestSessionEnds() {
        let store = SessionStore<String>(limits: .init(maxSessions: 2, lifetimeMillis: 1_000))
        let a = store.open(for: "a", now: 0).session
        let b = store.open(for: "b", now: 1).session
        let (c, evicted) = store.open(for: "c", now: 2)
        #expect(evicted?.id == a.id)
        #expect(store.count == 2 && store.session(a.id, now: 3) == nil)
        #expect(store.session(b.id, now: 3) != nil && store.session(c.id, now: 3) != nil)
        store.close(b.id)
        #expect(store.session(b.id, now: 3) == nil)
    }

    @Test func aHugeLifetimeSaturatesInsteadOfTrapping() {
        let store = SessionStore<String>(limits: .init(maxSessions: 1, lifetimeMillis: .max))
        let s = store.open(for: "a", now: .max - 5).session
        #expect(s.expiresAt == .max)
    }
}

/// What every response carries, and the request accessors the API's checks use.
@Suite struct SecurityHeadersTests {
    @Test func everyResponseCarriesTheSecurityHeadersUnlessItSetsItsOwn() {
        let text = String(decoding: HTTPResponse.error(404, "no").serialized(keepAlive: true), as: UTF8.self)
        for line in ["Content-Security-Policy: default-src 'none'; script-src 'self'", "X-Frame-Options: DENY", "X-Content-Type-Options: nosniff",
                     "Referrer-Policy: no-referrer", "Cache-Control: no-store"] {
            #expect(text.contains(line), "\(line)")
        }
        #expect(!SecurityHeaders.contentSecurityPolicy.contains("unsafe"))
        let own = HTTPResponse(status: 200, headers: [("Cache-Control", "max-age=60")]).serialized(keepAlive: true)
        let ownText = String(decoding: own, as: UTF8.self)
        #expect(ownText.contains("Cache-Control: max-age=60") && !ownText.contains("no-store"))
    }

    @Test func cookiesAndMediaTypesAreReadAsSent() {
        let r = HTTPRequest(method: "POST", target: "/", headers: [("Cookie", "a=1; hive_session=abc ; b=2"),
                                                                   ("Content-Type", "Application/JSON; charset=utf-8")])
        #expect(r.cookie("hive_session") == "abc" && r.cookie("a") == "1" && r.cookie("c") == nil)
        #expect(r.mediaType == "application/json")
        #expect(HTTPRequest(method: "POST", target: "/").mediaType == nil)
        #expect(HTTPRequest(method: "POST", target: "/", headers: [("Content-Type", "application/jsonx")]).mediaType == "application/jsonx")
    }
}
