#if canImport(Glibc)
import Glibc
#endif
import Foundation
import HiveCore
import HiveProcess
import HiveSystem

/// Runs an allow-listed executable: arguments, stdin and environment from the task, in a fresh scratch
/// directory, with a timeout and capped output. Exit status 0 is success. This is how verifiers run tests.
///
/// Each process runs in its own session and process group under the drone's rlimits (`ExecLimits`), with only the
/// task variables the drone allows (`ExecEnvironmentPolicy`), watched from an OS thread of its own while it runs
/// (`ExecRun.threads`, reused from run to run; blocking reads and waits never touch Swift's pool); see `ExecRun`.
public struct ExecBackend: Backend {
    /// Absolute paths this drone may run, as given; anything else is refused.
    public let allowed: Set<String>
    /// The same, resolved through symlinks: `/bin/sh` and `/usr/bin/sh` name one program on a merged-/usr
    /// system, and either spelling of an allowed program is allowed.
    private let allowedCanonical: Set<String>
    /// Bytes of combined stdout+stderr kept (the rest is read and dropped, so the child never blocks).
    public let outputCap: Int
    public let limits: ExecLimits
    public let environment: ExecEnvironmentPolicy
    /// Where a `stdin_blob` comes from.
    public let inputs: BlobInputs

    /// Ignores SIGPIPE for the process: a child that exits without reading its stdin must cost an EPIPE on
    /// our write, not the drone.
    public init(allowed: [String], outputCap: Int = 64 * 1024, limits: ExecLimits = ExecLimits(),
                environment: ExecEnvironmentPolicy = ExecEnvironmentPolicy(), inputs: BlobInputs = BlobInputs()) {
        signal(SIGPIPE, SIG_IGN)
        self.inputs = inputs
        self.allowed = Set(allowed)
        allowedCanonical = Set(allowed.map(ExecBackend.canonical))
        self.outputCap = max(0, outputCap)
        self.limits = limits
        self.environment = environment
    }

    /// Kills every process group still running, exec tasks' and MCP servers' (the drone is leaving).
    public static func killAll() { ProcessGroups.killAll() }

    /// Exec process groups running now.
    public static var runningProcessGroups: Int { ProcessGroups.count }

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
        guard let command = task.input?.command else { return .failure(ExecTaskError.noCommand.description) }
        // A path given exactly as allowed needs no realpath (four readlinks per task on a hot exec path).
        guard command.hasPrefix("/"), !command.utf8.contains(0),
              allowed.contains(command) || allowedCanonical.contains(ExecBackend.canonical(command)) else {
            return .failure(ExecTaskError.notAllowed(command: command).description)
        }
        let args = task.input?.args ?? []
        if args.contains(where: { $0.utf8.contains(0) }) { return .failure(ExecTaskError.nulInArgument.description, permanent: true) }
        let taskEnv: [String: String]
        switch environment.check(task.input?.env ?? [:]) {
        case .success(let env): taskEnv = env
        case .failure(let e): return .failure(e.description)
        }
        let stdin: [UInt8]
        switch await inputs.stdin(of: task.input) {
        case .bytes(let bytes): stdin = bytes
        case .refused(let outcome): return outcome
        }
        let run = ExecRun(command: command, args: args, stdin: stdin,
                          env: taskEnv.merging([
                              "HIVE_TASK_INDEX": String(task.index), "HIVE_TASK_ID": task.task, "HIVE_GOAL_ID": task.goal,
                              "HIVE_ATTEMPT": String(task.attempt),
                          ]) { _, hive in hive },
                          timeoutMillis: task.timeoutMillis, outputCap: outputCap, limits: limits)
        return await withTaskCancellationHandler {
            await run.start()
        } onCancel: {
            run.kill(reason: "cancelled")
        }
    }
}
