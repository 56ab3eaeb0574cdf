#if canImport(Glibc)
import Glibc
#endif
import CSpawn

/// Why a child process could not start: the errno of the step that failed (vfork in this process; setsid, dup2,
/// chdir, setrlimit or execve in the child), as `hive_spawn_io` reports it.
public struct SpawnFailure: Error, CustomStringConvertible, Sendable {
    public let code: Int32
    public var description: String { String(cString: strerror(code)) }
}

/// Starting and collecting a process-group leader: the one spawner of exec tasks (`ExecRun`) and MCP servers
/// (`ServerProcess`). The child is the leader of its own session and process group, so killing the group kills
/// whatever it started; each group is recorded in `ProcessGroups` from start to reap.
///
/// Call `start` from a thread that outlives the child: the child gets PR_SET_PDEATHSIG, which fires when the
/// *thread* that created it ends, not the process (both callers start the child on the thread that then watches
/// it until it is reaped).
public enum ChildProcess {
    /// Starts `path` with `argv` (argv[0] included) and exactly `environment`, in `directory`, with the given fds as
    /// its stdin, stdout and stderr and `limits` applied (soft = hard). Returns the leader's pid.
    public static func start(path: String, argv: [String], environment: [String: String], directory: String,
                             stdin: Int32, stdout: Int32, stderr: Int32,
                             limits: [hive_rlimit] = []) -> Result<pid_t, SpawnFailure> {
        let cargv = argv.map { strdup($0) } + [nil]
        let cenv = environment.sorted { $0.key < $1.key }.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { for p in cargv + cenv { free(p) } }
        var rlimits = limits
        var error: Int32 = 0
        let child = directory.withCString { dir in
            hive_spawn_io(path, cargv, cenv, dir, stdin, stdout, stderr, &rlimits, Int32(rlimits.count), &error)
        }
        guard child > 0 else { return .failure(SpawnFailure(code: error)) }
        ProcessGroups.add(child)
        return .success(child)
    }

    /// Reaps leader `pid` once it has exited, and forgets its group; its wait status, or -1. Kill what is left of
    /// the group before this (`killpg`), while the leader is still a zombie and its group id cannot be reused.
    public static func reap(_ pid: pid_t) -> Int32 {
        let status = hive_reap(pid)
        ProcessGroups.remove(pid)
        return status
    }
}
