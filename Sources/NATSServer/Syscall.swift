#if canImport(Glibc)
import Glibc
#endif
import CEpoll

/// A failed system call: the call's name and errno, with the system's message.
public struct SystemError: Error, CustomStringConvertible, Sendable {
    public let call: String
    public let errno: Int32
    public var description: String { "\(call) failed: \(String(cString: strerror(errno))) (errno \(errno))" }
}

/// Outcome of a non-blocking read or write.
enum IOResult: Equatable {
    case bytes(Int)
    case wouldBlock
    case eof
    case failed(Int32)
}

/// One wrapper per syscall: retries EINTR, maps EAGAIN to `.wouldBlock`, carries errno otherwise.
enum Syscall {
    static func check(_ call: String, _ result: Int32) throws(SystemError) -> Int32 {
        if result < 0 { throw SystemError(call: call, errno: hive_errno()) }
        return result
    }

    static func read(_ fd: Int32, _ buffer: UnsafeMutableRawPointer, _ count: Int) -> IOResult {
        while true {
            let n = recv(fd, buffer, count, 0)
            if n > 0 { return .bytes(n) }
            if n == 0 { return .eof }
            let e = hive_errno()
            if e == EINTR { continue }
            if e == EAGAIN || e == EWOULDBLOCK { return .wouldBlock }
            return .failed(e)
        }
    }

    /// `send` with MSG_NOSIGNAL: a peer that went away must not SIGPIPE the daemon.
    static func write(_ fd: Int32, _ buffer: UnsafeRawPointer, _ count: Int) -> IOResult {
        while true {
            let n = send(fd, buffer, count, Int32(MSG_NOSIGNAL))
            if n >= 0 { return .bytes(n) }
            let e = hive_errno()
            if e == EINTR { continue }
            if e == EAGAIN || e == EWOULDBLOCK { return .wouldBlock }
            return .failed(e)
        }
    }

    static func setNonBlocking(_ fd: Int32) {
        let flags = fcntl(fd, F_GETFL, 0)
        _ = fcntl(fd, F_SETFL, flags | O_NONBLOCK)
    }

    static func setNoDelay(_ fd: Int32) {
        var one: Int32 = 1
        _ = setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
    }

}
