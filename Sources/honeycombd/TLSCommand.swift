#if canImport(Glibc)
import Glibc
#endif
import Foundation
import HiveCommandLine
import HiveLog
import HiveTLS

/// `honeycombd tls init DIR --host NAME…` and `honeycombd tls client DIR NAME`: a private CA for a LAN without a
/// PKI, and the command lines that use it.
enum TLSCommand {
    static func run(_ parsed: ParsedArguments) -> Int32 {
        let verb = parsed.path.last ?? ""
        let directory = parsed.positionals[0]
        let hosts = parsed.strings("--host").flatMap { $0.split(separator: ",").map(String.init) }
        let days: Int
        do { days = try parsed.integer("--days", in: 1...36_500) ?? 825 } catch { honeycombdProgram.fail(error, in: parsed) }
        let positional = Array(parsed.positionals.dropFirst())
        do {
            if verb == "init" {
                let made = try TLSAuthority.initialize(directory: directory, hosts: hosts, days: days)
                let ca = absolute(made.ca), cert = absolute(made.certificate), key = absolute(made.key)
                print(made.newCA ? "made a private CA: \(ca) (its key \(absolute(directory + "/" + TLSAuthority.caKeyFile)) never leaves this machine)"
                                 : "kept the CA already in \(ca)")
                print("made honeycombd's certificate for \(made.hosts.joined(separator: ", ")): \(cert)")
                print("")
                print("run honeycombd with:")
                print("  honeycombd --listen 0.0.0.0:4222 --tls-cert \(cert) --tls-key \(key) --tls-ca \(ca)")
                print("copy \(ca) to each drone's machine and run:")
                let host = made.hosts.first { $0 != "localhost" && $0 != "127.0.0.1" } ?? "localhost"
                print("  drone --honeycomb tls://\(host):4222 --tls-ca ca.pem")
                print("and the CLI:  hive --honeycomb tls://\(host):4222 --tls-ca ca.pem goals")
                print("(the dashboard is then https://\(host):8420 once honeycombd listens there: --http 0.0.0.0:8420)")
            } else {
                let (cert, key) = try TLSAuthority.issueClient(directory: directory, name: positional[0], days: days)
                print("made a client certificate for \(positional[0]): \(absolute(cert)) (key \(absolute(key)))")
                print("add {\"name\": \"\(positional[0])\", \"role\": \"drone\", \"certificate\": \"\(positional[0])\"} to principals, then:")
                print("  drone --honeycomb tls://HOST:4222 --tls-ca ca.pem --tls-cert \(positional[0]).pem --tls-key \(positional[0])-key.pem")
            }
            return 0
        } catch {
            fail(error.description)
            return 1
        }
    }

    /// Warns when the served certificate has expired or expires within two weeks.
    static func reportExpiry(_ context: TLSContext, log: Log) {
        guard let left = context.certificateSecondsLeft else { return }
        if left <= 0 {
            log.warn("tls_certificate_expired", ["certificate": context.files.certificate ?? "", "expired_seconds_ago": -left,
                                                 "effect": "clients will refuse to connect; renew it and send SIGHUP"])
        } else if left < 14 * 86_400 {
            log.warn("tls_certificate_expiring", ["certificate": context.files.certificate ?? "", "days_left": left / 86_400])
        }
    }

    private static func absolute(_ path: String) -> String {
        path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
    }

    private static func fail(_ text: String) {
        FileHandle.standardError.write(Data("honeycombd: \(text)\n".utf8))
    }
}
