/// Headers every response carries (the server adds each one a response does not set itself).
///
/// The Content-Security-Policy lets pages run only scripts and styles served from this server's own routes (no
/// inline code, no `eval`, nothing from elsewhere), connect only back to it, post forms only to it, and never be
/// framed (clickjacking); `X-Frame-Options` says the same to older browsers. `nosniff` keeps a browser from
/// running a JSON reply as a script; `no-referrer` keeps URLs (goal ids) out of other sites' logs; `no-store`
/// keeps API replies out of caches shared with other users of the machine. Over HTTPS, `Strict-Transport-Security`
/// has a browser that saw it use HTTPS for this host for a year, so a network attacker cannot downgrade a later
/// visit to plain HTTP (where the session cookie, `Secure` or not, would be the least of it); browsers ignore it
/// over plain HTTP, so it is sent only with TLS.
public enum SecurityHeaders {
    public static let contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
        + "img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

    public static let all: [(name: String, value: String)] = [
        ("Content-Security-Policy", contentSecurityPolicy),
        ("X-Frame-Options", "DENY"),
        ("X-Content-Type-Options", "nosniff"),
        ("Referrer-Policy", "no-referrer"),
        ("Cache-Control", "no-store"),
    ]

    public static let strictTransportSecurity = (name: "Strict-Transport-Security", value: "max-age=31536000")

    /// `headers` plus every standard header it does not set itself (and HSTS when the response goes `overTLS`).
    public static func added(to headers: [(name: String, value: String)], overTLS: Bool = false) -> [(name: String, value: String)] {
        let present = Set(headers.map { $0.name.lowercased() })
        return headers + (overTLS ? all + [strictTransportSecurity] : all).filter { !present.contains($0.name.lowercased()) }
    }
}
