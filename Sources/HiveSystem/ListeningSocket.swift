#if canImport(Glibc)
import Glibc
#endif
import CEpoll

/// A bound, listening TCP socket: the broker's client port and the HTTP server's, made one way.
///
/// `open` resolves the host (`0.0.0.0`, `::1`, `localhost`…), tries each address it resolves to in turn with
/// `SO_REUSEADDR` (a restart must not wait out TIME_WAIT), and reports the port actually bound, so a caller that
/// asked for port 0 learns which one the kernel picked (tests bind port 0 instead of guessing a free port).
public struct ListeningSocket: Sendable {
    public let fd: Int32
    /// The bound port (the kernel's pick when port 0 was asked for).
    public let port: Int

    /// Why no socket could listen.
    public enum Failure: Error, CustomStringConvertible, Sendable {
        /// `getaddrinfo` failed: the host, and its words.
        case unresolvable(host: String, reason: String)
        /// Every resolved address failed: the last system call's error.
        case cannotListen(SystemError)

        public var description: String {
            switch self {
            case .unresolvable(let host, let reason): return "cannot resolve listen host '\(host)': \(reason)"
            case .cannotListen(let e): return e.description
            }
        }
    }

    /// Binds and listens on `host:port` with `backlog`; `nonBlocking` for an epoll loop, blocking for a thread that
    /// waits in `accept`. The descriptor is close-on-exec.
    public static func open(host: String, port: Int, backlog: Int32, nonBlocking: Bool) throws(Failure) -> ListeningSocket {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_flags = AI_PASSIVE
        var res: UnsafeMutablePointer<addrinfo>?
        let rc = getaddrinfo(host, String(port), &hints, &res)
        guard rc == 0, let first = res else {
            throw .unresolvable(host: host, reason: String(cString: gai_strerror(rc)))
        }
        defer { freeaddrinfo(res) }
        var lastError = SystemError(call: "socket", errno: EADDRNOTAVAIL)
        var ai: UnsafeMutablePointer<addrinfo>? = first
        while let a = ai {
            defer { ai = a.pointee.ai_next }
            let fd = socket(a.pointee.ai_family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            if fd < 0 { lastError = SystemError(call: "socket", errno: hive_errno()); continue }
            var one: Int32 = 1
            _ = setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
            if bind(fd, a.pointee.ai_addr, a.pointee.ai_addrlen) != 0 {
                lastError = SystemError(call: "bind", errno: hive_errno())
                close(fd)
                continue
            }
            if listen(fd, backlog) != 0 {
                lastError = SystemError(call: "listen", errno: hive_errno())
                close(fd)
                continue
            }
            if nonBlocking { Syscall.setNonBlocking(fd) }
            return ListeningSocket(fd: fd, port: boundPort(fd))
        }
        throw .cannotListen(lastError)
    }

    private static func boundPort(_ fd: Int32) -> Int {
        var storage = sockaddr_storage()
        var len = socklen_t(MemoryLayout<sockaddr_storage>.size)
        _ = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
        }
        return port(of: storage)
    }

    /// The port in an IPv4 or IPv6 socket address.
    public static func port(of s: sockaddr_storage) -> Int {
        var s = s
        if Int32(s.ss_family) == AF_INET6 {
            return withUnsafePointer(to: &s) { $0.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { Int(UInt16(bigEndian: $0.pointee.sin6_port)) } }
        }
        return withUnsafePointer(to: &s) { $0.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { Int(UInt16(bigEndian: $0.pointee.sin_port)) } }
    }

    /// The numeric host of an accepted peer (`127.0.0.1`, `::1`), or "" when it cannot be written.
    public static func numericHost(of s: sockaddr_storage, length: socklen_t) -> String {
        var s = s
        var host = [CChar](repeating: 0, count: Int(NI_MAXHOST))
        let rc = withUnsafePointer(to: &s) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                getnameinfo($0, length, &host, socklen_t(host.count), nil, 0, NI_NUMERICHOST)
            }
        }
        return rc == 0 ? String(decoding: host.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self) : ""
    }
}
