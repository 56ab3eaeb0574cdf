import Testing
import NATSWire

@Suite struct SubjectTests {
    @Test(arguments: ["foo", "foo.bar", "foo.*", "foo.>", ">", "*", "*.*.>", "foo*", "*bar", "foo>", "foo.*-", "_INBOX.a.b"])
    func validSubscriptionSubjects(subject: String) {
        #expect(withBytes(subject) { Subject.isValidSubscription($0) })
    }

    @Test(arguments: ["", ".", ".foo", "foo.", "foo..bar", "foo.bar..baz", "foo.>.bar", ">.foo", "foo.>.>"])
    func invalidSubscriptionSubjects(subject: String) {
        #expect(!withBytes(subject) { Subject.isValidSubscription($0) })
    }

    @Test func literalSubjectsExcludeWholeTokenWildcardsOnly() {
        for s in ["foo", "foo.bar", "foo*", "foo>", "*bar.x"] { #expect(withBytes(s) { Subject.isValidLiteral($0) }, "\(s)") }
        for s in ["foo.*", "*", ">", "a.>", "", "a..b", "a."] { #expect(!withBytes(s) { Subject.isValidLiteral($0) }, "\(s)") }
    }

    @Test(arguments: [
        ("foo", "foo", true), ("foo", "bar", false), ("foo.*", "foo.bar", true), ("foo.*", "foo.bar.baz", false),
        ("foo.*", "foo", false), ("foo.>", "foo.bar", true), ("foo.>", "foo.bar.baz", true), ("foo.>", "foo", false),
        (">", "anything.at.all", true), ("*", "one", true), ("*", "two.tokens", false), ("*.bar", "foo.bar", true),
        ("foo.*.baz", "foo.x.baz", true), ("foo.*.baz", "foo.x.qux", false), ("Foo", "foo", false),
        ("foo.>", "foo..bar", false), (">", "foo.", false),
    ])
    func patternMatching(pattern: String, literal: String, matches: Bool) {
        let got = withBytes(pattern) { p in withBytes(literal) { l in Subject.matches(pattern: p, literal: l) } }
        #expect(got == matches)
    }
}
