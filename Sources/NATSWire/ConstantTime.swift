/// Compares secrets (tokens, passwords, CSRF tokens) without an early exit on the first differing byte, so the
/// time taken says nothing about where a guess went wrong. The broker's logins and the HTTP API's both use it.
public func constantTimeEqual(_ a: String, _ b: String) -> Bool {
    let x = Array(a.utf8), y = Array(b.utf8)
    var diff: UInt8 = x.count == y.count ? 0 : 1
    for i in 0..<max(x.count, y.count) {
        diff |= (i < x.count ? x[i] : 0) ^ (i < y.count ? y[i] : 0)
    }
    return diff == 0
}
