#if canImport(Glibc)
import Glibc
#endif
import Foundation
import HiveSystem
import Testing
@testable import HiveTLS

/// A private CA in a temporary directory, made by `TLSAuthority` as `honeycombd tls init` makes it.
final class Authority {
    let dir: String
    let made: TLSAuthority.Made

    init(hosts: [String] = ["hive.test"]) throws {
        dir = NSTemporaryDirectory() + "hive-tls-\(UUID().uuidString)"
        made = try TLSAuthority.initialize(directory: dir, hosts: hosts)
    }

    deinit { try? FileManager.default.removeItem(atPath: dir) }

    var serverFiles: TLSFiles { TLSFiles(certificate: made.certificate, key: made.key, ca: made.ca) }
}

/// Runs both ends of a handshake on a connected socket pair (non-blocking), each on its own thread.
func handshakePair(server: TLSContext, client: TLSContext, host: String?) throws -> (server: TLSError?, client: TLSError?, TLSSession, TLSSession) {
    var fds: [Int32] = [0, 0]
    #expect(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &fds) == 0)
    for fd in fds { _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL, 0) | O_NONBLOCK) }
    let s = try server.session(fd: fds[0], peer: "client")
    let c = try client.session(fd: fds[1], peer: "server", host: host)
    final class Box: @unchecked Sendable { var error: TLSError? }
    let box = Box()
    let deadline = Monotonic.after(Monotonic.now(), nanos: 5_000_000_000)
    let serverFD = fds[0]
    let done = DispatchSemaphore(value: 0)
    Thread.detachNewThread {
        box.error = s.handshake(until: deadline)
        if box.error != nil { shutdown(serverFD, Int32(SHUT_RDWR)) }
        done.signal()
    }
    let clientError = c.handshake(until: deadline)
    if clientError != nil { shutdown(fds[1], Int32(SHUT_RDWR)) }
    done.wait()
    return (box.error, clientError, s, c)
}

@Suite struct TLSSessionTests {
    @Test func aPrivateCAsCertificatesHandshakeAndCarryBytesBothWays() throws {
        let ca = try Authority()
        let server = try TLSContext.server(ca.serverFiles)
        let client = try TLSContext.client(TLSFiles(ca: ca.made.ca))
        let (se, ce, s, c) = try handshakePair(server: server, client: client, host: "hive.test")
        #expect(se == nil && ce == nil)
        #expect(c.negotiated.hasPrefix("TLSv1.3"))
        #expect(c.peerIdentity?.dnsNames.contains("hive.test") == true)
        #expect(c.peerIdentity?.ipAddresses.contains("127.0.0.1") == true)
        let message = Array("CONNECT {}\r\n".utf8)
        #expect(c.writeAll(message, message.count))
        var buf = [UInt8](repeating: 0, count: 100)
        var got: TLSSession.IO = .wantRead
        let deadline = Date().addingTimeInterval(5)
        while Date() < deadline {
            got = buf.withUnsafeMutableBytes { s.read($0.baseAddress!, $0.count) }
            if got != .wantRead { break }
            var p = pollfd(fd: s.fd, events: Int16(POLLIN), revents: 0)
            _ = poll(&p, 1, 100)
        }
        #expect(got == .bytes(message.count))
        #expect(Array(buf[0..<message.count]) == message)
        close(s.fd); close(c.fd)
    }

    @Test func aServerNamedOtherwiseIsRefusedWithTheNamesItHas() throws {
        let ca = try Authority()
        let (se, ce, s, c) = try handshakePair(server: try TLSContext.server(ca.serverFiles),
                                               client: try TLSContext.client(TLSFiles(ca: ca.made.ca)), host: "elsewhere.test")
        _ = se
        guard case .untrusted(_, let reason)? = ce else { Issue.record("expected untrusted, got \(String(describing: ce))"); return }
        #expect(reason.contains("hive.test") && reason.contains("not elsewhere.test"), "\(reason)")
        close(s.fd); close(c.fd)
    }

    @Test func aCertificateFromAnotherCAIsRefusedAsNotSignedByATrustedCA() throws {
        let ca = try Authority(), other = try Authority()
        let (_, ce, s, c) = try handshakePair(server: try TLSContext.server(ca.serverFiles),
                                              client: try TLSContext.client(TLSFiles(ca: other.made.ca)), host: "hive.test")
        guard case .untrusted(_, let reason)? = ce else { Issue.record("expected untrusted, got \(String(describing: ce))"); return }
        #expect(reason.contains("not signed by a trusted CA"), "\(reason)")
        close(s.fd); close(c.fd)
    }

    @Test func anExpiredCertificateIsRefusedSayingHowLongAgo() throws {
        let ca = try Authority()
        let expired = try TLSAuthority.issueClient(directory: ca.dir, name: "old", days: 1)
        _ = expired
        // A server certificate that expired two days ago (notAfter before notBefore is still "expired" first).
        try TLSAuthority.issue(directory: ca.dir, commonName: "hive.test", san: "DNS:hive.test", kind: 1, days: -2,
                               certPath: ca.dir + "/stale.pem", keyPath: ca.dir + "/stale-key.pem")
        let server = try TLSContext.server(TLSFiles(certificate: ca.dir + "/stale.pem", key: ca.dir + "/stale-key.pem"))
        #expect((server.certificateSecondsLeft ?? 0) < 0)
        let (_, ce, s, c) = try handshakePair(server: server, client: try TLSContext.client(TLSFiles(ca: ca.made.ca)), host: "hive.test")
        guard case .untrusted(_, let reason)? = ce else { Issue.record("expected untrusted, got \(String(describing: ce))"); return }
        #expect(reason.contains("expired") && reason.contains("ago"), "\(reason)")
        close(s.fd); close(c.fd)
    }

    @Test func aClientCertificateIsVerifiedAndItsNameIsTheIdentity() throws {
        let ca = try Authority()
        let (cert, key) = try TLSAuthority.issueClient(directory: ca.dir, name: "drone-7")
        var files = ca.serverFiles
        files.verifyClients = true
        let server = try TLSContext.server(files)
        let (se, ce, s, c) = try handshakePair(server: server, client: try TLSContext.client(TLSFiles(certificate: cert, key: key, ca: ca.made.ca)),
                                               host: "hive.test")
        #expect(se == nil && ce == nil)
        #expect(s.peerIdentity?.matches("drone-7") == true)
        #expect(s.peerIdentity?.matches("drone-8") == false)
        close(s.fd); close(c.fd)
    }

    @Test func aServerRequiringClientCertificatesRefusesAClientWithout() throws {
        let ca = try Authority()
        var files = ca.serverFiles
        files.verifyClients = true
        let (se, _, s, c) = try handshakePair(server: try TLSContext.server(files),
                                              client: try TLSContext.client(TLSFiles(ca: ca.made.ca)), host: "hive.test")
        guard case .handshakeFailed(_, let reason)? = se else { Issue.record("expected a failure, got \(String(describing: se))"); return }
        #expect(reason.contains("client certificate") || reason.contains("certificate"), "\(reason)")
        close(s.fd); close(c.fd)
    }

    @Test func badFilesSayWhichFileAndWhy() throws {
        let ca = try Authority()
        #expect(throws: TLSError.self) { try TLSContext.server(TLSFiles(certificate: ca.dir + "/missing.pem", key: ca.made.key)) }
        do {
            _ = try TLSContext.server(TLSFiles(certificate: ca.made.certificate, key: ca.dir + "/" + TLSAuthority.caKeyFile))
            Issue.record("a key of another certificate was accepted")
        } catch {
            #expect(error == .keyMismatch(certificate: ca.made.certificate, key: ca.dir + "/" + TLSAuthority.caKeyFile))
        }
        FileManager.default.createFile(atPath: ca.dir + "/junk.pem", contents: Data("not a certificate".utf8))
        do {
            _ = try TLSContext.client(TLSFiles(ca: ca.dir + "/junk.pem"))
            Issue.record("junk accepted as a CA")
        } catch {
            #expect(error.description.contains("junk.pem"))
        }
        #expect(TLSFiles(certificate: "a", key: nil).serverProblem?.contains("--tls-key") == true)
        #expect(TLSFiles(certificate: "a", key: "b", verifyClients: true).serverProblem?.contains("--tls-ca") == true)
    }

    @Test func initAgainKeepsTheCAAndReissuesTheServerCertificate() throws {
        let ca = try Authority()
        let before = try String(contentsOfFile: ca.made.ca, encoding: .utf8)
        let again = try TLSAuthority.initialize(directory: ca.dir, hosts: ["other.test"])
        #expect(!again.newCA)
        #expect(try String(contentsOfFile: ca.made.ca, encoding: .utf8) == before)
        var st = stat()
        #expect(stat(again.key, &st) == 0 && st.st_mode & 0o077 == 0)
        let identity = try TLSServerIdentity(ca.serverFiles)
        let first = identity.context
        try identity.reload()
        #expect(identity.context !== first)
    }
}
