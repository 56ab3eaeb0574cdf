#if canImport(Glibc)
import Glibc
#endif
import CSpawn
import Foundation
import HiveProcess
import HiveSystem
import NATSWire

/// One exec task's process, shared between the thread that runs it and whoever cancels it.
///
/// The process is the leader of its own session and process group (`ChildProcess.start`), so a timeout, a cancel or the
/// drone stopping kills everything it started, grandchildren included; when the leader exits, what is left of its
/// group is killed too (a task's background processes end with it). The leader is always reaped, after the loop
/// sees it exit without reaping it first (`waitid(WNOWAIT)`): the group is killed while its id is
/// still reserved. Output, stdin and the leader's exit (a pidfd) move through one `poll` loop on one thread, so
/// nothing blocks on a child that neither reads nor writes, and no second thread has to exist for a run to end. The
/// thread is one of `threads`, reused from run to run: it starts the child (PR_SET_PDEATHSIG ties the child to it)
/// and stays with it until it is reaped.
final class ExecRun: @unchecked Sendable {
    let command: String
    let args: [String]
    let stdin: [UInt8]
    let env: [String: String]
    let timeoutMillis: Int
    let outputCap: Int
    let limits: ExecLimits
    private let lock = PosixLock()
    private var pid: pid_t = 0
    private var reaped = false
    private var killedBecause: String?
    /// Watch the leader's exit through a pidfd when the kernel has them (tests turn it off to cover the fallback).
    var exitThroughFD = true
    /// Output read after the leader exited, for a process that left the group while holding the pipe.
    static let drainMillis: UInt64 = 1_000

    init(command: String, args: [String], stdin: [UInt8], env: [String: String], timeoutMillis: Int, outputCap: Int,
         limits: ExecLimits) {
        self.command = command
        self.args = args
        self.stdin = stdin
        self.env = env
        self.timeoutMillis = min(max(1, timeoutMillis), 1 << 40)
        self.outputCap = max(0, outputCap)
        self.limits = limits
    }

    /// The threads runs block on: reused, not one created per run (and never ending, so a child's
    /// PR_SET_PDEATHSIG fires only with the drone).
    static let threads = ThreadPool(name: "exec")

    func start() async -> BackendOutcome {
        await withCheckedContinuation { (c: CheckedContinuation<BackendOutcome, Never>) in
            Self.threads.run { c.resume(returning: self.runBlocking()) }
        }
    }

    /// Kills the process group (timeout, cancel). Safe from any thread, before, during or after the run.
    func kill(reason: String) {
        lock.withLock {
            if killedBecause == nil { killedBecause = reason }
            if pid > 0 && !reaped { _ = killpg(pid, SIGKILL) }
        }
    }

    private static func errnoText(_ e: Int32) -> String { String(cString: strerror(e)) }

    private func runBlocking() -> BackendOutcome {
        let scratch: String
        switch ExecScratch.make() {
        case .success(let dir): scratch = dir
        case .failure(let e): return .failure(e.description)
        }
        defer { ExecScratch.remove(scratch) }
        var environment = ["PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": scratch, "TMPDIR": scratch]
        environment.merge(env) { _, task in task }

        // Pipes: [read, write]. Every fd here is closed on every path.
        var input: [Int32] = [-1, -1], output: [Int32] = [-1, -1]
        var exitFD: Int32 = -1
        defer { for fd in input + output + [exitFD] where fd >= 0 { close(fd) } }
        guard hive_pipe(&input) == 0, hive_pipe(&output) == 0 else {
            return .failure(ExecTaskError.resources("pipe: \(Self.errnoText(errno))").description)
        }
        _ = fcntl(input[1], F_SETFL, fcntl(input[1], F_GETFL) | O_NONBLOCK)
        _ = fcntl(output[0], F_SETFL, fcntl(output[0], F_GETFL) | O_NONBLOCK)

        let started: Result<pid_t, ExecTaskError> = lock.withLock {
            if let why = killedBecause { return .failure(.spawn(command: command, reason: why)) }
            switch ChildProcess.start(path: command, argv: [command] + args, environment: environment, directory: scratch,
                                      stdin: input[0], stdout: output[1], stderr: output[1], limits: limits.rlimits) {
            case .success(let child):
                pid = child
                return .success(child)
            case .failure(let e):
                return .failure(.spawn(command: command, reason: e.description))
            }
        }
        guard case .success(let child) = started else {
            if case .failure(let e) = started { return .failure(lock.withLock { killedBecause } ?? e.description) }
            return .failure("cannot start \(command)")
        }
        close(input[0]); input[0] = -1
        close(output[1]); output[1] = -1
        // The leader's exit as a readable fd (Linux 5.3+); without one, the loop asks waitid(WNOHANG) in short slices.
        exitFD = exitThroughFD ? hive_pidfd_open(child) : -1

        var kept: [UInt8] = []
        kept.reserveCapacity(min(outputCap, 64 * 1024))
        let chunk = UnsafeMutableRawBufferPointer.allocate(byteCount: 64 * 1024, alignment: 16)
        defer { chunk.deallocate() }
        var fed = 0
        if stdin.isEmpty { close(input[1]); input[1] = -1 }
        let deadline = Monotonic.after(Monotonic.now(), nanos: Monotonic.nanos(millis: timeoutMillis))
        var status: Int32 = -1
        var leaderDone = false
        var drainUntil: UInt64 = 0
        var sliceMillis: Int32 = 1
        while true {
            // The leader exited (a zombie still: its group id is reserved): kill what is left of its group, reap it.
            if !leaderDone && hive_has_exited(child) != 0 {
                lock.withLock {
                    _ = killpg(child, SIGKILL)
                    reaped = true
                }
                status = ChildProcess.reap(child)
                leaderDone = true
                drainUntil = Monotonic.after(Monotonic.now(), nanos: Monotonic.nanos(millis: Int(Self.drainMillis)))
                if input[1] >= 0 { close(input[1]); input[1] = -1 }
            }
            let now = Monotonic.now()
            if leaderDone && (output[0] < 0 || now >= drainUntil) { break }
            if !leaderDone && now >= deadline { kill(reason: "timed out after \(timeoutMillis) ms") }
            var fds: [pollfd] = []
            if output[0] >= 0 { fds.append(pollfd(fd: output[0], events: Int16(POLLIN), revents: 0)) }
            if input[1] >= 0 { fds.append(pollfd(fd: input[1], events: Int16(POLLOUT), revents: 0)) }
            if !leaderDone && exitFD >= 0 { fds.append(pollfd(fd: exitFD, events: Int16(POLLIN), revents: 0)) }
            let until = leaderDone ? drainUntil : deadline
            var waitMillis = Int32(min((until > now ? until - now : 0) / 1_000_000 + 1, 1_000))
            if !leaderDone && exitFD < 0 {
                // No exit fd: short slices, growing while nothing happens (1, 2, 4 … 50 ms).
                waitMillis = min(waitMillis, sliceMillis)
                sliceMillis = min(sliceMillis * 2, 50)
            }
            if poll(&fds, nfds_t(fds.count), waitMillis) > 0 { sliceMillis = 1 }
            for p in fds where p.revents != 0 {
                if p.fd == output[0] {
                    let n = read(p.fd, chunk.baseAddress, chunk.count)
                    if n > 0 {
                        if kept.count < outputCap { kept.append(contentsOf: chunk.prefix(min(n, outputCap - kept.count))) }
                    } else if n == 0 || (errno != EAGAIN && errno != EINTR) {
                        close(output[0]); output[0] = -1
                    }
                } else if p.fd == input[1] {
                    let n = stdin[fed...].withUnsafeBytes { write(p.fd, $0.baseAddress, min($0.count, 64 * 1024)) }
                    if n > 0 { fed += n }
                    // Everything fed, or the child stopped reading (EPIPE: not an error, the drone ignores SIGPIPE).
                    if fed >= stdin.count || (n < 0 && errno != EAGAIN && errno != EINTR) { close(input[1]); input[1] = -1 }
                }
            }
        }
        let text = String(decoding: kept, as: UTF8.self)
        var outcome: BackendOutcome
        if let why = lock.withLock({ killedBecause }) {
            outcome = BackendOutcome(succeeded: false, exitCode: nil, output: text, error: why)
        } else if status < 0 {
            outcome = BackendOutcome(succeeded: false, output: text, error: "lost the process's exit status")
        } else if hive_signaled(status) != 0 {
            outcome = BackendOutcome(succeeded: false, output: text, error: "killed by signal \(hive_term_signal(status))")
        } else {
            let code = Int(hive_exit_status(status))
            outcome = BackendOutcome(succeeded: code == 0, exitCode: code, output: text)
        }
        outcome.keepRaw(kept)
        return outcome
    }
}
