import HiveJSON
import NATSWire

/// Principals written as a nats-server 2.9 `authorization { users = [...] }` block, for running Hive on a NATS
/// cluster with the same permissions the embedded broker enforces.
///
/// nats-server's `users` list has no per-user token, so a token principal becomes user = its name and password =
/// its token: on a cluster it connects as `nats://NAME:TOKEN@HOST:PORT`. A certificate principal becomes a user named
/// by its certificate name and no password, which nats-server matches with `tls { verify_and_map: true }`.
public enum NATSServerAuthorization {
    public static func block(_ principals: [Principal]) -> String {
        var out = "authorization {\n  users = [\n"
        for p in principals {
            let (user, password): (String, String?)
            switch p.credential {
            case .token(let t): (user, password) = (p.name, t)
            case .userPassword(let u, let pw): (user, password) = (u, pw)
            case .certificate(let name): (user, password) = (name, nil)
            }
            out += "    {user: \(JSONWriter.quoted(user))"
            if let password { out += ", password: \(JSONWriter.quoted(password))" }
            let perms = permissions(p.permissions)
            if !perms.isEmpty { out += ", permissions: {\(perms)}" }
            out += "}\n"
        }
        return out + "  ]\n}\n"
    }

    private static func permissions(_ p: Permissions) -> String {
        var parts: [String] = []
        if let r = rules(p.publish) { parts.append("publish: {\(r)}") }
        if let r = rules(p.subscribe) { parts.append("subscribe: {\(r)}") }
        if let r = p.allowResponses {
            parts.append("allow_responses: {max: \(r.maxMessages), expires: \"\(r.expiresMillis)ms\"}")
        }
        return parts.joined(separator: ", ")
    }

    private static func rules(_ r: SubjectRules) -> String? {
        if r.isUnrestricted { return nil }
        var parts: [String] = []
        if let allow = r.allow { parts.append("allow: [\(allow.map(JSONWriter.quoted).joined(separator: ", "))]") }
        if !r.deny.isEmpty { parts.append("deny: [\(r.deny.map(JSONWriter.quoted).joined(separator: ", "))]") }
        return parts.joined(separator: ", ")
    }
}
