#if canImport(Glibc)
import Glibc
#endif
import CEpoll

/// Blocking TCP helpers for the client's two threads.
enum ClientSocket {
    /// Connects to `server` within `timeoutMillis` (a non-blocking connect polled for completion), returning
    /// a blocking socket with TCP_NODELAY.
    static func connect(_ server: ServerAddress, timeoutMillis: Int) throws(NATSClientError) -> Int32 {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var res: UnsafeMutablePointer<addrinfo>?
        let rc = getaddrinfo(server.host, String(server.port), &hints, &res)
        guard rc == 0, let first = res else {
            throw .connectionFailed(server: server.description, reason: String(cString: gai_strerror(rc)))
        }
        defer { freeaddrinfo(res) }
        var reason = "no address"
        var ai: UnsafeMutablePointer<addrinfo>? = first
        while let a = ai {
            ai = a.pointee.ai_next
            let fd = socket(a.pointee.ai_family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            if fd < 0 { reason = errnoText(); continue }
            let flags = fcntl(fd, F_GETFL, 0)
            _ = fcntl(fd, F_SETFL, flags | O_NONBLOCK)
            var ok = Glibc.connect(fd, a.pointee.ai_addr, a.pointee.ai_addrlen) == 0
            if !ok && hive_errno() == EINPROGRESS {
                var p = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
                if poll(&p, 1, Int32(timeoutMillis)) == 1 {
                    var err: Int32 = 0
                    var len = socklen_t(4)
                    getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len)
                    ok = err == 0
                    if !ok { reason = String(cString: strerror(err)) }
                } else {
                    reason = "connect timed out after \(timeoutMillis) ms"
                }
            } else if !ok {
                reason = errnoText()
            }
            if ok {
                _ = fcntl(fd, F_SETFL, flags & ~O_NONBLOCK)
                var one: Int32 = 1
                setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(4))
                return fd
            }
            close(fd)
        }
        throw .connectionFailed(server: server.description, reason: reason)
    }

    static func errnoText() -> String { String(cString: strerror(hive_errno())) }
}
