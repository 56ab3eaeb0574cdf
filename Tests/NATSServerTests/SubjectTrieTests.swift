import Testing
import NATSServer
import NATSWire

final class Sub: Sendable, CustomStringConvertible {
    let name: String
    init(_ name: String) { self.name = name }
    var description: String { name }
}

/// Runs the same table through the bare trie and through the thread-safe index with a cache, so the cache
/// can never change an answer (nats-server runs its sublist suite with the cache on and off).
enum Matcher: CaseIterable, Sendable {
    case trie, cachedIndex
}

final class MatchHarness {
    let mode: Matcher
    let trie = SubjectTrie<Sub>()
    let index = SubjectIndex<Sub>()
    var cache = MatchCache<Sub>(limit: 4)

    init(_ mode: Matcher) { self.mode = mode }

    @discardableResult
    func insert(_ subject: String, queue: String? = nil, _ sub: Sub) -> Bool {
        withBytes(subject) { s in
            if let queue {
                return withBytes(queue) { q in mode == .trie ? trie.insert(s, queue: q, sub) : index.insert(s, queue: q, sub) }
            }
            return mode == .trie ? trie.insert(s, sub) : index.insert(s, sub)
        }
    }

    @discardableResult
    func remove(_ subject: String, queue: String? = nil, _ sub: Sub) -> Bool {
        withBytes(subject) { s in
            if let queue {
                return withBytes(queue) { q in mode == .trie ? trie.remove(s, queue: q, sub) : index.remove(s, queue: q, sub) }
            }
            return mode == .trie ? trie.remove(s, sub) : index.remove(s, sub)
        }
    }

    func match(_ subject: String) -> (plain: Set<String>, groups: [Set<String>]) {
        let m = withBytes(subject) { s in mode == .trie ? trie.match(s) : index.match(s, cache: &cache) }
        return (Set(m.plain.map(\.name)), m.groups.map { Set($0.map(\.name)) }.sorted { $0.sorted().joined() < $1.sorted().joined() })
    }

    var count: Int { mode == .trie ? trie.count : index.count }
}

@Suite struct SubjectTrieTests {
    @Test(arguments: Matcher.allCases)
    func literalAndWildcardMatches(mode: Matcher) {
        let h = MatchHarness(mode)
        h.insert("foo.bar", Sub("lit"))
        h.insert("foo.*", Sub("star"))
        h.insert("foo.>", Sub("tail"))
        h.insert(">", Sub("all"))
        h.insert("*.bar", Sub("starbar"))
        h.insert("foo.*.baz", Sub("mid"))
        #expect(h.match("foo.bar").plain == ["lit", "star", "tail", "all", "starbar"])
        #expect(h.match("foo.bar.baz").plain == ["tail", "all", "mid"])
        #expect(h.match("foo").plain == ["all"])
        #expect(h.match("x.bar").plain == ["all", "starbar"])
        #expect(h.match("nothing.here.at.all").plain == ["all"])
    }

    @Test(arguments: Matcher.allCases)
    func emptyTokensInPublishedSubjectsMatchNothing(mode: Matcher) {
        let h = MatchHarness(mode)
        h.insert(">", Sub("all"))
        h.insert("foo.>", Sub("tail"))
        for s in ["foo..bar", "foo.", ".foo", ""] { #expect(h.match(s).plain.isEmpty, "\(s)") }
    }

    @Test(arguments: Matcher.allCases)
    func invalidSubjectsAreNotInserted(mode: Matcher) {
        let h = MatchHarness(mode)
        for s in [".foo", "foo.", "foo..bar", "foo.bar..baz", "foo.>.bar", ""] { #expect(!h.insert(s, Sub("x")), "\(s)") }
        #expect(h.count == 0)
    }

    @Test(arguments: Matcher.allCases)
    func wildcardCharactersInsideTokensAreLiterals(mode: Matcher) {
        let h = MatchHarness(mode)
        h.insert("foo*", Sub("a"))
        h.insert("foo>", Sub("b"))
        #expect(h.match("foo*").plain == ["a"])
        #expect(h.match("foo>").plain == ["b"])
        #expect(h.match("foo").plain.isEmpty)
    }

    @Test(arguments: Matcher.allCases)
    func queueGroupsMergeByNameAcrossPatterns(mode: Matcher) {
        let h = MatchHarness(mode)
        h.insert("foo.bar", queue: "workers", Sub("w1"))
        h.insert("foo.*", queue: "workers", Sub("w2"))
        h.insert("foo.>", queue: "auditors", Sub("a1"))
        h.insert("foo.bar", Sub("plain"))
        let m = h.match("foo.bar")
        #expect(m.plain == ["plain"])
        #expect(m.groups == [["a1"], ["w1", "w2"]])
    }

    @Test(arguments: Matcher.allCases)
    func removalPrunesAndUpdatesMatches(mode: Matcher) {
        let h = MatchHarness(mode)
        let a = Sub("a"), b = Sub("b"), q = Sub("q")
        h.insert("foo.*", a)
        h.insert("foo.*", b)
        h.insert("foo.*", queue: "g", q)
        #expect(h.match("foo.x").plain == ["a", "b"])  // also warms the cache
        #expect(h.remove("foo.*", a))
        #expect(!h.remove("foo.*", a))
        #expect(h.match("foo.x").plain == ["b"])
        #expect(h.remove("foo.*", queue: "g", q))
        #expect(h.match("foo.x").groups.isEmpty)
        #expect(h.remove("foo.*", b))
        #expect(h.count == 0)
        #expect(h.match("foo.x").plain.isEmpty)
        #expect(!h.remove("never.there", a))
    }

    @Test func cacheStaysBoundedAndAnswersMatchTheTrie() {
        let h = MatchHarness(.cachedIndex)
        h.insert("s.*", Sub("s"))
        for i in 0..<100 { #expect(h.match("s.\(i)").plain == ["s"]) }
        #expect(h.cache.count <= 4)
    }

    @Test func concurrentInsertRemoveAndMatchStayConsistent() async {
        let index = SubjectIndex<Sub>()
        let stable = Sub("stable")
        withBytes("load.>") { _ = index.insert($0, stable) }
        await withTaskGroup(of: Bool.self) { group in
            for t in 0..<4 {
                group.addTask {
                    let mine = (0..<50).map { Sub("t\(t)-\($0)") }
                    for (i, s) in mine.enumerated() { withBytes("load.\(t).\(i)") { _ = index.insert($0, s) } }
                    for (i, s) in mine.enumerated() { withBytes("load.\(t).\(i)") { _ = index.remove($0, s) } }
                    return true
                }
                group.addTask {
                    var cache = MatchCache<Sub>(limit: 16)
                    for i in 0..<2000 {
                        let m = withBytes("load.\(t).\(i % 50)") { index.match($0, cache: &cache) }
                        if !m.plain.contains(where: { $0 === stable }) { return false }
                    }
                    return true
                }
            }
            for await ok in group { #expect(ok) }
        }
        #expect(index.count == 1)
    }
}
