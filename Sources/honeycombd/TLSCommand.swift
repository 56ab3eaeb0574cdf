#if canImport(Glibc)
import Glibc
#endif
import Foundation
import HiveLog
import HiveTLS

/// `honeycombd tls init DIR --host NAME…` and `honeycombd tls client DIR NAME`: a private CA for a LAN without a
/// PKI, and the command lines that use it.
enum TLSCommand {
    static let usage = """
        usage: honeycombd tls init DIR [--host NAME|IP ...] [--days N]
               honeycombd tls client DIR NAME [--days N]
          init    make a private CA in DIR (kept if DIR already has one) and a certificate for honeycombd that
                  names every --host (plus localhost and 127.0.0.1): the names drones will dial
          client  make a client certificate NAME.pem/NAME-key.pem signed by DIR's CA (mutual TLS: a principal
                  with "certificate": "NAME" connects with it)
        """

    static func run(_ args: [String]) -> Int32 {
        guard let verb = args.first, ["init", "client"].contains(verb), args.count >= 2 else {
            fail("tls needs 'init DIR' or 'client DIR NAME'\n\n\(usage)")
            return 64
        }
        let directory = args[1]
        var hosts: [String] = []
        var days = 825
        var positional: [String] = []
        var i = 2
        while i < args.count {
            let a = args[i]
            switch a {
            case "--host", "--days":
                guard i + 1 < args.count else { fail("\(a) needs a value\n\n\(usage)"); return 64 }
                if a == "--host" {
                    hosts += args[i + 1].split(separator: ",").map { String($0) }
                } else {
                    guard let n = Int(args[i + 1]), (1...36_500).contains(n) else {
                        fail("--days must be a number of days from 1 to 36500, not '\(args[i + 1])'")
                        return 64
                    }
                    days = n
                }
                i += 2
            case "--help", "-h":
                print(usage)
                return 0
            default:
                if a.hasPrefix("-") { fail("unknown option '\(a)'\n\n\(usage)"); return 64 }
                positional.append(a)
                i += 1
            }
        }
        do {
            if verb == "init" {
                guard positional.isEmpty else { fail("unexpected '\(positional[0])': give hosts with --host\n\n\(usage)"); return 64 }
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
                guard positional.count == 1 else { fail("tls client needs DIR and one NAME\n\n\(usage)"); return 64 }
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
