#if canImport(Glibc)
import Glibc
#endif
import Foundation
import HiveLog

/// The process groups a drone has running (exec tasks, MCP servers), kept in a small file so that a drone that dies without cleaning up
/// (`kill -9`, the OOM killer, a crash) does not leave its tasks running for ever: the next drone started under the
/// same id kills what its predecessor left (`killLeftovers`) before it takes work.
///
/// Without cgroups this is as far as Linux goes: each task's leader also dies with the drone (PR_SET_PDEATHSIG in
/// `hive_spawn_io`), but what the leader started lives on in its group until this sweep. Under systemd the unit's
/// `KillMode=control-group` (the default) kills every process of the unit, which covers it as well.
///
/// The file is `<dir>/<drone id>.pgids`, `dir` being `$XDG_RUNTIME_DIR/hive-drone` or `/tmp/hive-drone-<uid>`
/// (made 0700, refused if another user owns it or it is a symlink). It is rewritten atomically (a temporary file
/// renamed over it) whenever a group starts or ends, and removed while none runs. Line 1: `drone <pid> <start time> <boot id>`; then one
/// `<pgid> <leader start time>` per group (start times in clock ticks since boot, from /proc/<pid>/stat).
struct ProcessGroupRecord: Sendable {
    let path: String
    private static let log = Log("drone")

    /// The record for drone `id`, or nil when no safe directory can be had (the drone runs without one, saying so).
    init?(drone id: String, environment: [String: String] = ProcessInfo.processInfo.environment) {
        let base = environment["XDG_RUNTIME_DIR"].flatMap { $0.hasPrefix("/") ? "\($0)/hive-drone" : nil } ?? "/tmp/hive-drone-\(getuid())"
        guard Self.privateDirectory(base) else {
            Self.log.warn("pgid_record_off", ["dir": base, "reason": "not a directory of this user's own (0700, no symlink)",
                                              "effect": "exec tasks of a killed drone are not swept at its next start"])
            return nil
        }
        path = "\(base)/\(id).pgids"
    }

    /// `dir` exists (made if missing), is a real directory, is ours and no one else may write in it.
    static func privateDirectory(_ dir: String) -> Bool {
        if mkdir(dir, 0o700) != 0 && errno != EEXIST { return false }
        var st = stat()
        guard lstat(dir, &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR, st.st_uid == getuid() else { return false }
        if st.st_mode & 0o077 != 0 { return chmod(dir, 0o700) == 0 }
        return true
    }

    /// Writes the groups running now (leader pid, leader start time), replacing the file in one rename.
    func write(_ groups: [pid_t: UInt64]) {
        var text = "drone \(getpid()) \(Self.ownStartTime) \(Self.bootID)\n"
        for (pgid, start) in groups.sorted(by: { $0.key < $1.key }) { text += "\(pgid) \(start)\n" }
        let temporary = "\(path).\(getpid()).tmp"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard fd >= 0 else { return }
        let bytes = Array(text.utf8)
        let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        close(fd)
        if n == bytes.count { rename(temporary, path) } else { unlink(temporary) }
    }

    /// Removes the file (the drone left cleanly, its groups killed).
    func remove() { unlink(path) }

    /// Kills every process group a previous drone under this id left running, and returns how many; nil when that
    /// drone still runs (same pid and start time: two drones share an id), and then nothing is touched. Nor is
    /// anything when the machine has rebooted since (another
    /// boot id: everything it started is gone). A group is killed only if it still exists as the session we made:
    /// some process has that pgid as both its process group and its session (our leaders are session leaders,
    /// `setsid`), started no earlier than the recorded leader; and if a process holds the leader's pid it must be
    /// the recorded leader (same start time), not a newer process that got the number.
    func killLeftovers() -> Int? {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return 0 }
        var lines = text.split(separator: "\n").map { $0.split(separator: " ") }
        guard let head = lines.first, head.count == 4, head[0] == "drone", let owner = pid_t(head[1]), let ownerStart = UInt64(head[2]) else {
            return 0
        }
        lines.removeFirst()
        guard String(head[3]) == Self.bootID else { return 0 }
        if owner != getpid(), let running = ProcStat(owner), running.startTime == ownerStart {
            Self.log.warn("pgid_record_in_use", ["path": path, "pid": owner, "reason": "another drone with this id is running",
                                                 "effect": "this drone's exec groups are not recorded"])
            return nil
        }
        let recorded: [pid_t: UInt64] = Dictionary(lines.compactMap { l in
            l.count == 2 ? pid_t(l[0]).flatMap { p in UInt64(l[1]).map { (p, $0) } } : nil
        }) { a, _ in a }
        guard !recorded.isEmpty else { return 0 }
        // One pass over /proc: the members of each recorded session.
        var members: [pid_t: Int] = [:]
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
            guard let pid = pid_t(entry), let s = ProcStat(pid), s.group == s.session,
                  let leaderStart = recorded[s.group], s.startTime >= leaderStart else { continue }
            members[s.group, default: 0] += 1
        }
        var killed = 0
        for (pgid, start) in recorded.sorted(by: { $0.key < $1.key }) {
            guard let count = members[pgid], count > 0 else { continue }
            if let leader = ProcStat(pgid), leader.startTime != start { continue }  // the pid is someone else's now
            if killpg(pgid, SIGKILL) == 0 {
                killed += 1
                Self.log.warn("leftover_group_killed", ["pgid": pgid, "processes": count,
                                                        "reason": "a previous drone with this id died with the task running"])
            }
        }
        return killed
    }

    /// This process's start time, read once (the record is rewritten at every exec task's start).
    static let ownStartTime: UInt64 = ProcStat(getpid())?.startTime ?? 0

    /// This boot's id (a reboot ends every process a record could name).
    static let bootID: String = {
        (try? String(contentsOfFile: "/proc/sys/kernel/random/boot_id", encoding: .utf8))?
            .trimmingCharacters(in: .whitespacesAndNewlines) ?? "unknown"
    }()
}
