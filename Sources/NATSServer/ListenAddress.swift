#if canImport(Glibc)
import Glibc
#endif
import CEpoll

/// A `HOST:PORT` to listen on (`127.0.0.1:4222`, `[::1]:4222`, `localhost:0`, `:4222`, `0.0.0.0:4222`).
public struct ListenAddress: Sendable, Equatable, CustomStringConvertible {
    public var host: String
    public var port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// Parses `HOST:PORT`; nil with a reason in `error` on bad input.
    public static func parse(_ text: String) -> Result<ListenAddress, ListenAddressError> {
        var host: Substring
        var portText: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]"), text[text.index(after: close)...].hasPrefix(":") else {
                return .failure(.malformed(text))
            }
            host = text[text.index(after: text.startIndex)..<close]
            portText = text[text.index(close, offsetBy: 2)...]
        } else {
            guard let colon = text.lastIndex(of: ":") else { return .failure(.malformed(text)) }
            host = text[..<colon]
            portText = text[text.index(after: colon)...]
        }
        guard let port = Int(portText), (0...65535).contains(port) else { return .failure(.badPort(text)) }
        if host.isEmpty { host = "0.0.0.0" }
        return .success(ListenAddress(host: String(host), port: port))
    }

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}

/// Why a listen address was refused.
public enum ListenAddressError: Error, CustomStringConvertible, Sendable {
    case malformed(String)
    case badPort(String)
    case unresolvable(String, String)
    case cannotListen(String, SystemError)

    public var description: String {
        switch self {
        case .malformed(let t): return "listen address '\(t)' is not HOST:PORT (e.g. 127.0.0.1:4222 or [::1]:4222)"
        case .badPort(let t): return "listen address '\(t)' has no valid port (0-65535)"
        case .unresolvable(let h, let why): return "cannot resolve listen host '\(h)': \(why)"
        case .cannotListen(let a, let e): return "cannot listen on \(a): \(e)"
        }
    }
}

/// A bound, listening, non-blocking TCP socket.
struct ListeningSocket {
    let fd: Int32
    let port: Int

    static func open(_ address: ListenAddress) throws(ListenAddressError) -> ListeningSocket {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_flags = AI_PASSIVE
        var res: UnsafeMutablePointer<addrinfo>?
        let rc = getaddrinfo(address.host, String(address.port), &hints, &res)
        guard rc == 0, let first = res else {
            throw .unresolvable(address.host, String(cString: gai_strerror(rc)))
        }
        defer { freeaddrinfo(res) }
        var lastError = SystemError(call: "socket", errno: EINVAL)
        var ai: UnsafeMutablePointer<addrinfo>? = first
        while let a = ai {
            defer { ai = a.pointee.ai_next }
            let fd = socket(a.pointee.ai_family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            if fd < 0 { lastError = SystemError(call: "socket", errno: hive_errno()); continue }
            var one: Int32 = 1
            _ = setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
            if bind(fd, a.pointee.ai_addr, a.pointee.ai_addrlen) != 0 || listen(fd, 4096) != 0 {
                lastError = SystemError(call: "bind/listen", errno: hive_errno())
                close(fd)
                continue
            }
            Syscall.setNonBlocking(fd)
            return ListeningSocket(fd: fd, port: boundPort(fd))
        }
        throw .cannotListen(address.description, lastError)
    }

    private static func boundPort(_ fd: Int32) -> Int {
        var storage = sockaddr_storage()
        var len = socklen_t(MemoryLayout<sockaddr_storage>.size)
        _ = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
        }
        return peerPort(storage)
    }

    static func peerPort(_ s: sockaddr_storage) -> Int {
        var s = s
        if Int32(s.ss_family) == AF_INET6 {
            return withUnsafePointer(to: &s) { $0.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { Int(UInt16(bigEndian: $0.pointee.sin6_port)) } }
        }
        return withUnsafePointer(to: &s) { $0.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { Int(UInt16(bigEndian: $0.pointee.sin_port)) } }
    }

    /// Numeric host of an accepted peer (for INFO's client_ip and logs).
    static func peerIP(_ s: sockaddr_storage, _ len: socklen_t) -> String {
        var s = s
        var host = [CChar](repeating: 0, count: Int(NI_MAXHOST))
        let rc = withUnsafePointer(to: &s) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                getnameinfo($0, len, &host, socklen_t(host.count), nil, 0, NI_NUMERICHOST)
            }
        }
        return rc == 0 ? String(decoding: host.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self) : ""
    }
}
