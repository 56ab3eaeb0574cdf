#if canImport(Glibc)
import Glibc
#endif
import CSpawn
import Foundation
import HiveLog
import HiveProcess
import HiveSystem

/// One stdio MCP server's process: the leader of its own session and process group (`ChildProcess`, the spawner
/// exec tasks use too), so closing it kills whatever it started too, and its group is in `ProcessGroups` (killed
/// when a drone stops, swept by its successor after a `kill -9`). One OS thread starts it and stays with it until
/// it is reaped: the leader has PR_SET_PDEATHSIG tied to that thread, so it dies with the drone even on `kill -9`.
///
/// The thread polls stdout (lines handed to `onLine`, each at most `maxLineBytes`), stderr (logged, bounded)
/// and the leader's exit (a pidfd); writes come from a serial queue, never from the cooperative pool.
final class ServerProcess: @unchecked Sendable {
    let server: String
    let argv: [String]
    let environment: [String: String]
    let limits: MCPLimits
    private let log = Log("mcp")
    private let lock = PosixLock()
    private var pid: pid_t = 0
    private var reaped = false
    private var stdinFD: Int32 = -1
    private var exitWaiters: [CheckedContinuation<Void, Never>] = []
    private var exited = false
    private let writes: DispatchQueue
    /// The last stderr line, for the error that says why the server is gone.
    private(set) var lastStderr = ""

    /// Called on the process's thread: a complete stdout line (no newline), or nil with a reason when the
    /// stream ends (exit, or a line over the limit: then the process is killed).
    var onLine: (@Sendable ([UInt8]) -> Void)?
    var onEnd: (@Sendable (String) -> Void)?

    init(server: String, argv: [String], environment: [String: String], limits: MCPLimits) {
        self.server = server
        self.argv = argv
        self.environment = environment
        self.limits = limits
        writes = DispatchQueue(label: "mcp-\(server)-stdin")
    }

    var processID: pid_t { lock.withLock { pid } }

    /// Starts the process; returns once it runs (or throws why it cannot).
    func start() async throws(MCPError) {
        // A server that exits without reading its stdin must cost a write an EPIPE, not this process its life
        // (the drone ignores SIGPIPE already; a library user or a test may not).
        signal(SIGPIPE, SIG_IGN)
        let result: Result<Void, MCPError> = await withCheckedContinuation { c in
            OSThread(name: "mcp-\(server)") { self.run(started: c) }.detach()
        }
        try result.get()
    }

    private static func errnoText(_ e: Int32) -> String { String(cString: strerror(e)) }

    /// Finds `argv[0]` on PATH when it has no slash (execve does not search).
    private func executable() -> String? {
        let name = argv[0]
        if name.contains("/") { return name }
        for dir in (environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin").split(separator: ":") {
            let path = "\(dir)/\(name)"
            if access(path, X_OK) == 0 { return path }
        }
        return nil
    }

    private func run(started: CheckedContinuation<Result<Void, MCPError>, Never>) {
        let command = argv.joined(separator: " ")
        guard let path = executable() else {
            started.resume(returning: .failure(.spawn(server: server, command: command, reason: "\(argv[0]) not found on PATH")))
            return finish()
        }
        var input: [Int32] = [-1, -1], output: [Int32] = [-1, -1], errors: [Int32] = [-1, -1]
        var exitFD: Int32 = -1
        defer { for fd in [input[0], output[0], output[1], errors[0], errors[1], exitFD] where fd >= 0 { close(fd) } }
        guard hive_pipe(&input) == 0, hive_pipe(&output) == 0, hive_pipe(&errors) == 0 else {
            started.resume(returning: .failure(.spawn(server: server, command: command, reason: "pipe: \(Self.errnoText(errno))")))
            for fd in [input[1]] where fd >= 0 { close(fd) }
            return finish()
        }
        for fd in [input[1], output[0], errors[0]] { _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) }
        let spawned = ChildProcess.start(path: path, argv: argv, environment: environment,
                                         directory: FileManager.default.currentDirectoryPath,
                                         stdin: input[0], stdout: output[1], stderr: errors[1])
        close(input[0]); input[0] = -1
        close(output[1]); output[1] = -1
        close(errors[1]); errors[1] = -1
        let child: pid_t
        switch spawned {
        case .success(let pid): child = pid
        case .failure(let e):
            close(input[1])
            started.resume(returning: .failure(.spawn(server: server, command: command, reason: e.description)))
            return finish()
        }
        lock.withLock {
            pid = child
            stdinFD = input[1]
        }
        log.info("server_started", ["server": server, "pid": child, "command": command])
        started.resume(returning: .success(()))
        exitFD = hive_pidfd_open(child)

        var line: [UInt8] = []
        var errLine: [UInt8] = []
        var errLogged = 0
        var endReason: String?
        let chunk = UnsafeMutableRawBufferPointer.allocate(byteCount: 64 * 1024, alignment: 16)
        defer { chunk.deallocate() }
        var status: Int32 = -1
        var stdoutClosedAt: UInt64?
        while true {
            // A server that closed its stdout can answer nothing more: it gets a second to exit, then is killed.
            if let closed = stdoutClosedAt, endReason == nil,
               Monotonic.now() > Monotonic.after(closed, nanos: Monotonic.nanos(millis: 1_000)) {
                endReason = "it closed its stdout"
                kill()
            }
            if hive_has_exited(child) != 0 {
                lock.withLock {
                    _ = killpg(child, SIGKILL)
                    reaped = true
                }
                status = ChildProcess.reap(child)
                break
            }
            var fds: [pollfd] = []
            if output[0] >= 0 { fds.append(pollfd(fd: output[0], events: Int16(POLLIN), revents: 0)) }
            if errors[0] >= 0 { fds.append(pollfd(fd: errors[0], events: Int16(POLLIN), revents: 0)) }
            if exitFD >= 0 { fds.append(pollfd(fd: exitFD, events: Int16(POLLIN), revents: 0)) }
            _ = poll(&fds, nfds_t(fds.count), exitFD >= 0 ? 1_000 : 50)
            for p in fds where p.revents != 0 && p.fd != exitFD {
                let n = read(p.fd, chunk.baseAddress, chunk.count)
                if n <= 0 {
                    if n == 0 || (errno != EAGAIN && errno != EINTR) {
                        if p.fd == output[0] {
                            close(output[0]); output[0] = -1
                            stdoutClosedAt = Monotonic.now()
                        } else {
                            close(errors[0]); errors[0] = -1
                        }
                    }
                    continue
                }
                let bytes = UnsafeRawBufferPointer(rebasing: chunk[0..<n])
                if p.fd == output[0] {
                    for b in bytes {
                        if b == UInt8(ascii: "\n") {
                            if !line.isEmpty, endReason == nil { onLine?(line) }
                            line.removeAll(keepingCapacity: true)
                        } else if line.count < limits.maxMessageBytes {
                            line.append(b)
                        } else if endReason == nil {
                            endReason = "a message of more than \(limits.maxMessageBytes) bytes (--mcp-max-message-bytes)"
                            kill()
                        }
                    }
                } else {
                    for b in bytes {
                        if b == UInt8(ascii: "\n") {
                            logStderr(errLine, logged: &errLogged)
                            errLine.removeAll(keepingCapacity: true)
                        } else if errLine.count < limits.maxStderrLineBytes {
                            errLine.append(b)
                        }
                    }
                }
            }
        }
        if !errLine.isEmpty { logStderr(errLine, logged: &errLogged) }
        let how = status < 0 ? "its exit status was lost"
            : hive_signaled(status) != 0 ? "killed by signal \(hive_term_signal(status))"
            : "exited with status \(hive_exit_status(status))"
        let last = lock.withLock { lastStderr }
        let reason = endReason ?? (last.isEmpty ? how : "\(how); last stderr: \(last)")
        log.info("server_ended", ["server": server, "pid": child, "how": how])
        onEnd?(reason)
        finish()
    }

    private func logStderr(_ bytes: [UInt8], logged: inout Int) {
        let text = String(decoding: bytes, as: UTF8.self)
        lock.withLock { lastStderr = text }
        guard logged < limits.maxStderrBytes else { return }
        logged += bytes.count + 1
        if logged >= limits.maxStderrBytes {
            log.warn("server_stderr_muted", ["server": server, "limit": "MCPLimits.maxStderrBytes", "bytes": limits.maxStderrBytes])
        } else {
            log.info("server_stderr", ["server": server, "line": text])
        }
    }

    /// The thread is done (process reaped, or never started): whoever waits in `terminate` goes on.
    private func finish() {
        let waiters: [CheckedContinuation<Void, Never>] = lock.withLock {
            exited = true
            if stdinFD >= 0 { close(stdinFD); stdinFD = -1 }
            defer { exitWaiters = [] }
            return exitWaiters
        }
        for w in waiters { w.resume() }
    }

    /// Writes one message and a newline, waiting at most `MCPLimits.writeTimeoutMillis` for a full pipe.
    func write(_ message: [UInt8]) async throws(MCPError) {
        let result: Result<Void, MCPError> = await withCheckedContinuation { c in
            writes.async { c.resume(returning: self.writeBlocking(message + [UInt8(ascii: "\n")])) }
        }
        try result.get()
    }

    private func writeBlocking(_ bytes: [UInt8]) -> Result<Void, MCPError> {
        let deadline = Monotonic.after(Monotonic.now(), nanos: Monotonic.nanos(millis: limits.writeTimeoutMillis))
        var sent = 0
        while sent < bytes.count {
            let (fd, gone): (Int32, Bool) = lock.withLock { (stdinFD, exited) }
            guard fd >= 0, !gone else { return .failure(.transportClosed(server: server, detail: "its stdin is closed")) }
            let n = bytes[sent...].withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
            if n > 0 { sent += n; continue }
            if n < 0 && errno != EAGAIN && errno != EINTR {
                return .failure(.transportClosed(server: server, detail: "writing to its stdin: \(Self.errnoText(errno))"))
            }
            let now = Monotonic.now()
            guard now < deadline else {
                return .failure(.limit(server: server, limit: "MCPLimits.writeTimeoutMillis",
                                       detail: "the server stopped reading its stdin for \(limits.writeTimeoutMillis) ms"))
            }
            var p = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
            _ = poll(&p, 1, Int32(min((deadline - now) / 1_000_000 + 1, 100)))
        }
        return .success(())
    }

    /// Kills the process group now (a malformed stream, a write that cannot finish).
    func kill() {
        lock.withLock { if pid > 0 && !reaped { _ = killpg(pid, SIGKILL) } }
    }

    /// Ends the server: stdin closed (a well-behaved server exits on that), then after `graceMillis` the whole
    /// group killed. Returns once the leader is reaped: no process of it is left.
    func terminate(graceMillis: Int = 500) async {
        let running: Bool = lock.withLock {
            if stdinFD >= 0 { close(stdinFD); stdinFD = -1 }
            return !exited
        }
        guard running else { return }
        let killer = Task {
            try? await Task.sleep(for: .milliseconds(graceMillis))
            if !Task.isCancelled { self.kill() }
        }
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            let done: Bool = lock.withLock {
                if exited { return true }
                exitWaiters.append(c)
                return false
            }
            if done { c.resume() }
        }
        killer.cancel()
    }
}
