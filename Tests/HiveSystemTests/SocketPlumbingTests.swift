#if canImport(Glibc)
import Glibc
#endif
import HiveSystem
import Testing

/// The socket plumbing every server and client shares: `ListeningSocket`, `Syscall.writeAll`, `SystemError`.
@Suite struct SocketPlumbingTests {
    /// Polls `condition` until it holds or `seconds` pass.
    private func waitUntil(seconds: Double = 5, _ condition: () -> Bool) -> Bool {
        let deadline = Monotonic.after(Monotonic.now(), nanos: Monotonic.nanos(seconds: seconds))
        while Monotonic.now() < deadline {
            if condition() { return true }
            var p = pollfd(fd: -1, events: 0, revents: 0)
            _ = poll(&p, 0, 1)  // yield a millisecond between checks
        }
        return condition()
    }

    @Test func listeningSocketBindsPortZeroAndReportsThePort() throws {
        let listener = try ListeningSocket.open(host: "127.0.0.1", port: 0, backlog: 16, nonBlocking: false)
        defer { close(listener.fd) }
        #expect(listener.port > 0 && listener.port <= 65535)

        // A client reaches it on exactly that port.
        let client = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(client) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(listener.port).bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let rc = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(client, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        #expect(rc == 0)
        let accepted = accept(listener.fd, nil, nil)
        #expect(accepted >= 0)
        close(accepted)
    }

    @Test func listeningOnATakenPortNamesTheCall() throws {
        let first = try ListeningSocket.open(host: "127.0.0.1", port: 0, backlog: 16, nonBlocking: true)
        defer { close(first.fd) }
        #expect(fcntl(first.fd, F_GETFL, 0) & O_NONBLOCK != 0)
        #expect(throws: ListeningSocket.Failure.self) {
            try ListeningSocket.open(host: "127.0.0.1", port: first.port, backlog: 16, nonBlocking: true)
        }
        do {
            _ = try ListeningSocket.open(host: "127.0.0.1", port: first.port, backlog: 16, nonBlocking: true)
        } catch {
            guard case .cannotListen(let e) = error else { Issue.record("expected cannotListen, got \(error)"); return }
            #expect(e.call == "bind" && e.errno == EADDRINUSE)
            #expect(error.description.hasPrefix("bind failed: "))
        }
        #expect(throws: ListeningSocket.Failure.self) {
            try ListeningSocket.open(host: "no-such-host.invalid", port: 0, backlog: 16, nonBlocking: true)
        }
    }

    @Test func syscallWrapperNamesTheCallInItsError() {
        do {
            try Syscall.retrying("close") { Int(close(-1)) }
            Issue.record("close(-1) succeeded")
        } catch {
            #expect(error == SystemError(call: "close", errno: EBADF))
            #expect(error.description == "close failed: Bad file descriptor (errno \(EBADF))")
        }
        #expect(throws: SystemError(call: "fcntl", errno: EBADF)) { try Syscall.check("fcntl", fcntl(-1, F_GETFL, 0)) }
    }

    @Test func writeAllToAClosedPeerThrowsNamingSend() {
        var fds: [Int32] = [0, 0]
        #expect(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &fds) == 0)
        close(fds[1])
        defer { close(fds[0]) }
        #expect(throws: SystemError(call: "send", errno: EPIPE)) { try Syscall.writeAll(fds[0], [1, 2, 3]) }
    }

    /// A blocking send into a small socket buffer, interrupted by signals while it waits: each interruption
    /// returns a partial count (or EINTR before any byte), and `writeAll` must go on from where the kernel stopped
    /// until every byte is through, in order.
    @Test func writeAllCompletesAcrossPartialWritesAndInterruptions() throws {
        var fds: [Int32] = [0, 0]
        #expect(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &fds) == 0)
        let (writer, reader) = (fds[0], fds[1])
        defer { close(reader) }
        var small: Int32 = 4096
        _ = setsockopt(writer, SOL_SOCKET, SO_SNDBUF, &small, socklen_t(MemoryLayout<Int32>.size))
        _ = setsockopt(reader, SOL_SOCKET, SO_RCVBUF, &small, socklen_t(MemoryLayout<Int32>.size))

        // A handler without SA_RESTART, so the signal interrupts the blocked send.
        var action = sigaction()
        action.__sigaction_handler.sa_handler = { _ in }
        sigemptyset(&action.sa_mask)
        action.sa_flags = 0
        // Left installed afterwards: restoring the default action would kill the process if a signal sent here
        // were still pending (ThreadSanitizer defers delivery).
        sigaction(SIGUSR2, &action, nil)

        let payload = (0..<(1 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 >> 9) }
        let state = PosixLock()
        nonisolated(unsafe) var thread: pthread_t?
        nonisolated(unsafe) var outcome: Result<Void, SystemError>?
        let writerThread = OSThread(name: "writeall-test") {
            var unblock = sigset_t()
            sigemptyset(&unblock)
            sigaddset(&unblock, SIGUSR2)
            pthread_sigmask(SIG_UNBLOCK, &unblock, nil)
            state.withLock { thread = pthread_self() }
            let r = Result { () throws(SystemError) in try Syscall.writeAll(writer, payload) }
            close(writer)
            state.withLock { outcome = r }
        }

        // Wait until the writer is blocked: its buffer is full (not writable) and nothing is read yet.
        #expect(waitUntil {
            var p = pollfd(fd: writer, events: Int16(POLLOUT), revents: 0)
            return state.withLock { thread != nil } && poll(&p, 1, 0) == 0
        })
        var received: [UInt8] = []
        for _ in 0..<5 {
            if let t = state.withLock({ thread }) { pthread_kill(t, SIGUSR2) }
            // Let a KiB through between interruptions, so the next send starts mid-buffer.
            var chunk = [UInt8](repeating: 0, count: 1024)
            let n = recv(reader, &chunk, chunk.count, 0)
            if n > 0 { received.append(contentsOf: chunk[0..<n]) }
        }

        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = recv(reader, &buffer, buffer.count, 0)
            if n <= 0 { break }
            received.append(contentsOf: buffer[0..<n])
        }
        writerThread.join()
        #expect(state.withLock { outcome.map { (try? $0.get()) != nil } } == true)
        #expect(received.count == payload.count)
        let intact = received == payload  // not inside #expect: a failure would diff two MiB arrays
        #expect(intact)
    }
}
