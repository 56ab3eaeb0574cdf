#if canImport(Glibc)
import Glibc
#endif
import CEpoll

/// Outcome of a non-blocking read or write.
public enum IOResult: Equatable, Sendable {
    case bytes(Int)
    case wouldBlock
    case eof
    case failed(Int32)
}

/// The one home of Hive's raw system calls on descriptors: every wrapper retries EINTR and turns errno into a
/// `SystemError` naming the call (or, for the non-blocking hot path, an `IOResult`).
public enum Syscall {
    /// `result`, or a `SystemError` naming `call` when it is negative (for calls that never fail with EINTR).
    @discardableResult
    public static func check(_ call: String, _ result: Int32) throws(SystemError) -> Int32 {
        if result < 0 { throw SystemError(call: call, errno: hive_errno()) }
        return result
    }

    /// Runs `body` (one system call returning -1 on failure) until it does not fail with EINTR: its result, or a
    /// `SystemError` naming `call`.
    @discardableResult
    public static func retrying(_ call: String, _ body: () -> Int) throws(SystemError) -> Int {
        while true {
            let n = body()
            if n >= 0 { return n }
            let e = hive_errno()
            if e != EINTR { throw SystemError(call: call, errno: e) }
        }
    }

    /// Non-blocking `recv`: EAGAIN is `.wouldBlock`, 0 is `.eof`. Inlinable, as `write` is: the broker's loops call
    /// both per wake-up, and they lived in NATSServer itself before they moved here.
    @inlinable
    public static func read(_ fd: Int32, _ buffer: UnsafeMutableRawPointer, _ count: Int) -> IOResult {
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

    /// Non-blocking `send` with MSG_NOSIGNAL (a peer that went away must not SIGPIPE the daemon): may write
    /// part of the buffer; EAGAIN is `.wouldBlock`.
    @inlinable
    public static func write(_ fd: Int32, _ buffer: UnsafeRawPointer, _ count: Int) -> IOResult {
        while true {
            let n = send(fd, buffer, count, Int32(MSG_NOSIGNAL))
            if n >= 0 { return .bytes(n) }
            let e = hive_errno()
            if e == EINTR { continue }
            if e == EAGAIN || e == EWOULDBLOCK { return .wouldBlock }
            return .failed(e)
        }
    }

    /// How `writeAll` hands bytes to the kernel.
    public enum WriteCall: Sendable {
        /// `send` with MSG_NOSIGNAL: sockets.
        case send
        /// `write`: files and pipes.
        case write
    }

    /// Writes all `count` bytes to a blocking descriptor, however many calls the kernel's partial writes take.
    /// EINTR is retried; anything else (EAGAIN included: on a blocking socket it means `SO_SNDTIMEO` ran out)
    /// throws, naming the call. A call that writes nothing throws too (errno EIO), rather than spinning.
    public static func writeAll(_ fd: Int32, _ base: UnsafeRawPointer, _ count: Int, with call: WriteCall = .send) throws(SystemError) {
        var off = 0
        while off < count {
            let n: Int
            switch call {
            case .send: n = try retrying("send") { Glibc.send(fd, base + off, count - off, Int32(MSG_NOSIGNAL)) }
            case .write: n = try retrying("write") { Glibc.write(fd, base + off, count - off) }
            }
            guard n > 0 else { throw SystemError(call: call == .send ? "send" : "write", errno: EIO) }
            off += n
        }
    }

    /// `writeAll` for an array.
    public static func writeAll(_ fd: Int32, _ bytes: [UInt8], with call: WriteCall = .send) throws(SystemError) {
        let r: Result<Void, SystemError> = bytes.withUnsafeBytes { b in
            guard let base = b.baseAddress, b.count > 0 else { return .success(()) }
            return Result { () throws(SystemError) in try writeAll(fd, base, b.count, with: call) }
        }
        try r.get()
    }

    public static func setNonBlocking(_ fd: Int32) {
        let flags = fcntl(fd, F_GETFL, 0)
        _ = fcntl(fd, F_SETFL, flags | O_NONBLOCK)
    }

    public static func setNoDelay(_ fd: Int32) {
        var one: Int32 = 1
        _ = setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
    }
}
