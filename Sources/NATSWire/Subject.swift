/// Subject rules, exactly as nats-server 2.9 applies them (see shared/reference/nats-protocol.md §6).
///
/// A subject is `.`-separated tokens; no token may be empty. `*` and `>` are wildcards only as whole tokens
/// (`foo*` is a literal), and `>` must be the last token.
public enum Subject {
    /// Valid as a SUB subject (wildcards allowed).
    public static func isValidSubscription(_ s: Bytes) -> Bool {
        if s.isEmpty { return false }
        var tokenStart = 0
        var sawTail = false
        for i in 0...s.count {
            if i < s.count && s[i] != ASCII.dot { continue }
            let len = i - tokenStart
            if len == 0 || sawTail { return false }
            if len == 1 && s[tokenStart] == ASCII.gt { sawTail = true }
            tokenStart = i + 1
        }
        return true
    }

    /// Valid and free of wildcard tokens: what Hive accepts as a PUB subject.
    public static func isValidLiteral(_ s: Bytes) -> Bool {
        if s.isEmpty { return false }
        var tokenStart = 0
        for i in 0...s.count {
            if i < s.count && s[i] != ASCII.dot { continue }
            let len = i - tokenStart
            if len == 0 { return false }
            if len == 1 && (s[tokenStart] == ASCII.star || s[tokenStart] == ASCII.gt) { return false }
            tokenStart = i + 1
        }
        return true
    }

    /// True when the literal subject `literal` matches the (possibly wildcard) `pattern`.
    ///
    /// Given a wildcard subject as `literal`, its tokens are compared as text, as nats-server's sublist does
    /// for permission checks: pattern `*` takes any one token (even `>`), `>` the rest.
    public static func matches(pattern: Bytes, literal: Bytes) -> Bool {
        matchTokens(pattern: pattern, subject: literal, starTakesTail: true)
    }

    /// True when every subject that `subscription` (possibly wildcard) can match is matched by `pattern`: `foo.*`
    /// covers `foo.bar` and `foo.*` but not `foo.>`, which would also receive `foo.a.b`.
    public static func covers(pattern: Bytes, subscription: Bytes) -> Bool {
        matchTokens(pattern: pattern, subject: subscription, starTakesTail: false)
    }

    /// True when the subject has a `*` or `>` token.
    public static func hasWildcard(_ s: Bytes) -> Bool {
        var tokenStart = 0
        for i in 0...s.count where i == s.count || s[i] == ASCII.dot {
            if i - tokenStart == 1 && (s[tokenStart] == ASCII.star || s[tokenStart] == ASCII.gt) { return true }
            tokenStart = i + 1
        }
        return false
    }

    private static func matchTokens(pattern: Bytes, subject literal: Bytes, starTakesTail: Bool) -> Bool {
        if !hasNoEmptyTokens(literal) { return false }  // `foo.` matches nothing, not even `>`
        var p = 0, l = 0
        let pn = pattern.count, ln = literal.count
        while true {
            // Bounds of the current tokens.
            var pe = p
            while pe < pn && pattern[pe] != ASCII.dot { pe += 1 }
            var le = l
            while le < ln && literal[le] != ASCII.dot { le += 1 }
            if le == l { return false }  // empty literal token never matches
            let pTok = pattern.slice(p, pe)
            if pTok.count == 1 && pTok[0] == ASCII.gt { return true }
            let lTok = literal.slice(l, le)
            if pTok.count == 1 && pTok[0] == ASCII.star {
                if !starTakesTail && lTok.count == 1 && lTok[0] == ASCII.gt { return false }
            } else if !pTok.bytesEqual(lTok) {
                return false
            }
            let pDone = pe >= pn, lDone = le >= ln
            if pDone || lDone { return pDone && lDone }
            p = pe + 1
            l = le + 1
        }
    }

    /// True when no token is empty (and the subject is not empty).
    static func hasNoEmptyTokens(_ s: Bytes) -> Bool {
        if s.isEmpty || s[0] == ASCII.dot || s[s.count - 1] == ASCII.dot { return false }
        var prevDot = false
        for b in s {
            if b == ASCII.dot && prevDot { return false }
            prevDot = b == ASCII.dot
        }
        return true
    }

    /// Splits a subject into token ranges. Returns nil if any token is empty.
    @usableFromInline
    static func tokens(_ s: Bytes, into out: inout [Range<Int>]) -> Bool {
        out.removeAll(keepingCapacity: true)
        if s.isEmpty { return false }
        var start = 0
        for i in 0...s.count where i == s.count || s[i] == ASCII.dot {
            if i == start { return false }
            out.append(start..<i)
            start = i + 1
        }
        return true
    }
}
