#if canImport(Glibc)
import Glibc
#endif
import Foundation
import NATSTestSupport
@testable import HiveTLS

/// A private CA and server certificate in a temporary directory, made as `honeycombd tls init` makes them
/// (`localhost` and `127.0.0.1` are always named).
final class TestAuthority {
    let dir: String
    let made: TLSAuthority.Made

    init(hosts: [String] = ["hive.test"]) throws {
        dir = NSTemporaryDirectory() + "hive-client-tls-\(UUID().uuidString)"
        made = try TLSAuthority.initialize(directory: dir, hosts: hosts)
    }

    deinit { try? FileManager.default.removeItem(atPath: dir) }

    var ca: String { made.ca }

    /// A server certificate with exactly these subject names (`san` as OpenSSL writes it: "DNS:a,IP:1.2.3.4"),
    /// valid `days` days (negative: expired that long ago): what `init` cannot make.
    func serverCertificate(_ name: String, san: String, days: Int = 30) throws -> (certificate: String, key: String) {
        let cert = "\(dir)/\(name).pem", key = "\(dir)/\(name)-key.pem"
        try TLSAuthority.issue(directory: dir, commonName: name, san: san, kind: 1, days: days, certPath: cert, keyPath: key)
        return (cert, key)
    }

    func client(_ name: String) throws -> (certificate: String, key: String) {
        try TLSAuthority.issueClient(directory: dir, name: name)
    }
}

/// A real nats-server serving TLS on 127.0.0.1 (`--tls --tlscert --tlskey`, and `--tlsverify --tlscacert` for
/// mutual TLS), stopped when released.
final class TLSNATSServer {
    let port: Int
    private let process: Process

    init(certificate: String, key: String, verifyClientsWith ca: String? = nil, port fixed: Int = 0,
         extra: [String] = []) throws {
        port = fixed != 0 ? fixed : try freePort()
        var args = ["-a", "127.0.0.1", "-p", String(port), "--tls", "--tlscert", certificate, "--tlskey", key]
        if let ca { args += ["--tlsverify", "--tlscacert", ca] }
        process = Process()
        process.executableURL = URL(fileURLWithPath: try natsServerPath())
        process.arguments = args + extra
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        try waitUntilListening(port: port, process: process)
    }

    func stop() {
        guard process.isRunning else { return }
        process.terminate()
        process.waitUntilExit()
    }

    /// SIGKILL: no goodbye to the clients.
    func kill() {
        guard process.isRunning else { return }
        Glibc.kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    deinit { stop() }
}
