#if canImport(Glibc)
import Glibc
#endif
import Foundation
import HiveCore
import HiveSystem

/// Runs an allow-listed executable: arguments, stdin and environment from the task, in a fresh scratch
/// directory, with a timeout and capped output. Exit status 0 is success. This is how verifiers run tests.
///
/// Each process is run from its own OS thread (blocking reads and waits never touch Swift's pool).
public struct ExecBackend: Backend {
    /// Absolute paths this drone may run, as given; anything else is refused.
    public let allowed: Set<String>
    /// The same, resolved through symlinks: `/bin/sh` and `/usr/bin/sh` name one program on a merged-/usr
    /// system, and either spelling of an allowed program is allowed.
    private let allowedCanonical: Set<String>
    /// Bytes of combined stdout+stderr kept (the rest is read and dropped, so the child never blocks).
    public let outputCap: Int

    /// Ignores SIGPIPE for the process: a child that exits without reading its stdin must cost an EPIPE on
    /// our write, not the drone.
    public init(allowed: [String], outputCap: Int = 64 * 1024) {
        signal(SIGPIPE, SIG_IGN)
        self.allowed = Set(allowed)
        allowedCanonical = Set(allowed.map(ExecBackend.canonical))
        self.outputCap = outputCap
    }

    static func canonical(_ path: String) -> String {
        guard let resolved = realpath(path, nil) else { return path }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    public var kind: String { "exec" }
    /// `exec:<path>` for each allowed path, its canonical path, and its merged-/usr alias (`/bin/x` and
    /// `/usr/bin/x` are one file on current Debian), so a task naming any of them is placed here.
    public var capabilities: [String] {
        var paths = Set<String>()
        for p in allowed {
            paths.insert(p)
            let canonical = ExecBackend.canonical(p)
            paths.insert(canonical)
            for (a, b) in [("/bin/", "/usr/bin/"), ("/sbin/", "/usr/sbin/")] {
                let alias = p.hasPrefix(a) ? b + p.dropFirst(a.count) : p.hasPrefix(b) ? a + p.dropFirst(b.count) : nil
                if let alias, ExecBackend.canonical(alias) == canonical { paths.insert(alias) }
            }
        }
        return paths.sorted().map { "exec:\($0)" }
    }

    public func run(_ task: Assignment) async -> BackendOutcome {
        guard let command = task.input?.command else { return .failure("exec task without a command") }
        guard command.hasPrefix("/"), allowedCanonical.contains(ExecBackend.canonical(command)) else {
            return .failure("command '\(command)' is not on this drone's allow-list (drone --allow-exec)")
        }
        let run = ExecRun(command: command, args: task.input?.args ?? [], stdin: task.input?.stdin,
                          env: (task.input?.env ?? [:]).merging([
                              "HIVE_TASK_INDEX": String(task.index), "HIVE_TASK_ID": task.task, "HIVE_GOAL_ID": task.goal,
                              "HIVE_ATTEMPT": String(task.attempt),
                          ]) { _, hive in hive },
                          timeoutMillis: task.timeoutMillis, outputCap: outputCap)
        return await withTaskCancellationHandler {
            await run.start()
        } onCancel: {
            run.kill(reason: "cancelled")
        }
    }
}

/// One process run, shared between the thread that runs it and whoever cancels it.
final class ExecRun: @unchecked Sendable {
    let command: String
    let args: [String]
    let stdin: String?
    let env: [String: String]
    let timeoutMillis: Int
    let outputCap: Int
    private let lock = NSLock()
    private var process: Process?
    private var killedBecause: String?

    init(command: String, args: [String], stdin: String?, env: [String: String], timeoutMillis: Int, outputCap: Int) {
        self.command = command
        self.args = args
        self.stdin = stdin
        self.env = env
        self.timeoutMillis = timeoutMillis
        self.outputCap = outputCap
    }

    func start() async -> BackendOutcome {
        await withCheckedContinuation { (c: CheckedContinuation<BackendOutcome, Never>) in
            OSThread(name: "exec") { c.resume(returning: self.runBlocking()) }.detach()
        }
    }

    func kill(reason: String) {
        lock.withLock {
            if killedBecause == nil { killedBecause = reason }
            if let p = process, p.isRunning { Glibc.kill(p.processIdentifier, SIGKILL) }
        }
    }

    private func runBlocking() -> BackendOutcome {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("hive-exec-\(UUID().uuidString)")
        do { try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true) } catch {
            return .failure("cannot create a scratch directory: \(error)")
        }
        defer { try? FileManager.default.removeItem(at: scratch) }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: command)
        p.arguments = args
        p.currentDirectoryURL = scratch
        var environment = ["PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": scratch.path, "TMPDIR": scratch.path]
        environment.merge(env) { _, task in task }
        p.environment = environment
        let out = Pipe()
        let input = Pipe()
        p.standardOutput = out
        p.standardError = out
        p.standardInput = input
        let started: Bool = lock.withLock {
            guard killedBecause == nil else { return false }
            do { try p.run() } catch { return false }
            process = p
            return true
        }
        guard started else {
            return .failure(lock.withLock { killedBecause } ?? "cannot start \(command)")
        }
        // Stdin is fed from its own thread while this one reads the output: a child that writes before it has
        // read everything cannot deadlock against us, and one that exits without reading (EPIPE) is not an error.
        let feed = input.fileHandleForWriting
        if let stdin, !stdin.isEmpty {
            let bytes = Data(stdin.utf8)
            OSThread(name: "exec-stdin") {
                try? feed.write(contentsOf: bytes)
                try? feed.close()
            }.detach()
        } else {
            try? feed.close()
        }
        // The timeout: a watchdog thread kills the process group's leader when it outlives the task.
        let deadline = DispatchTime.now() + .milliseconds(timeoutMillis)
        let watchdog = DispatchSemaphore(value: 0)
        OSThread(name: "exec-timeout") { [self] in
            if watchdog.wait(timeout: deadline) == .timedOut { kill(reason: "timed out after \(timeoutMillis) ms") }
        }.detach()
        var kept = Data()
        let reader = out.fileHandleForReading
        while true {
            let chunk = reader.availableData
            if chunk.isEmpty { break }
            if kept.count < outputCap { kept.append(chunk.prefix(outputCap - kept.count)) }
        }
        p.waitUntilExit()
        watchdog.signal()
        let text = String(decoding: kept, as: UTF8.self)
        if let why = lock.withLock({ killedBecause }) {
            return BackendOutcome(succeeded: false, exitCode: nil, output: text, error: why)
        }
        let code = Int(p.terminationStatus)
        if p.terminationReason == .uncaughtSignal {
            return BackendOutcome(succeeded: false, output: text, error: "killed by signal \(code)")
        }
        return BackendOutcome(succeeded: code == 0, exitCode: code, output: text)
    }
}
