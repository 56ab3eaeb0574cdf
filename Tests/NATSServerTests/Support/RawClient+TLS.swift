#if canImport(Glibc)
import Glibc
#endif
import Foundation
import HiveSystem
import HiveTLS
import NATSWire

extension RawClient {
    /// Connects to a TLS port the way NATS clients do: INFO in plain text, then the handshake (verifying the
    /// broker's certificate for `host`), then (unless `connect` is nil) CONNECT + PING, waiting for the PONG.
    static func connectedTLS(port: Int, context: TLSContext, host: String = "127.0.0.1",
                             connect: String? = #"{"verbose":false,"pedantic":false}"#) throws -> RawClient {
        let c = try RawClient(port: port)
        let info = try c.next()
        guard info.line.contains(#""tls_required":true"#) else { throw RawClientError.unexpected("INFO without tls_required: \(info)") }
        if let error = c.startTLS(context: context, host: host) { throw error }
        if let connect {
            c.send("CONNECT \(connect)\r\nPING\r\n")
            try c.expect("PONG")
        }
        return c
    }

    /// Runs the client side of the handshake (bounded); the error when it failed.
    func startTLS(context: TLSContext, host: String, timeout: TimeInterval = 5) -> TLSError? {
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL, 0) | O_NONBLOCK)
        let s: TLSSession
        do { s = try context.session(fd: fd, peer: "broker", host: host) } catch { return error }
        if let error = s.handshake(until: Monotonic.after(Monotonic.now(), nanos: UInt64(timeout * 1e9))) { return error }
        setSession(s)
        return nil
    }

    /// Decrypts more bytes: what OpenSSL already holds first, then waits on the socket until `deadline`.
    func fillTLS(_ session: TLSSession, until deadline: Date) throws -> Bool {
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let got = chunk.withUnsafeMutableBytes { session.read($0.baseAddress!, $0.count) }
            switch got {
            case .bytes(let n):
                appendReceived(chunk[0..<n])
                return true
            case .closed, .failed:
                markClosed()
                return false
            case .wantRead, .wantWrite:
                let remaining = deadline.timeIntervalSinceNow
                if remaining <= 0 { throw RawClientError.timeout("no data") }
                var p = pollfd(fd: fd, events: Int16(got == .wantRead ? POLLIN : POLLOUT), revents: 0)
                if poll(&p, 1, Int32(remaining * 1000) + 1) == 0 { throw RawClientError.timeout("no data within deadline") }
            }
        }
    }
}
