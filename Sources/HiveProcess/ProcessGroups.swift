#if canImport(Glibc)
import Glibc
#endif
import HiveSystem

/// Every process group this process has running (exec tasks and MCP servers, each the leader of its own session,
/// started by `ChildProcess.start`), so a stopping drone can kill them all (`killAll`), and, once the drone knows
/// its id, on disk too (`ProcessGroupRecord`), so a drone that died without stopping has them killed by its
/// successor. One home for both kinds: an exec task and an MCP server are swept alike.
///
/// The record is rewritten when a group starts (it must be on disk before the drone can die with it running), not
/// when one ends: a group that ended stays in the file until the next start rewrites it, or until the last group
/// ends (then the file goes). A stale line is harmless: the sweep kills a recorded group only while its leader's
/// pid still has the recorded start time or no leader at all, and a drone running many short exec tasks pays one
/// rewrite per task instead of two.
public enum ProcessGroups {
    private static let lock = PosixLock()
    /// Leader pid (= group id) → the leader's start time (from /proc, for the record).
    nonisolated(unsafe) private static var live: [pid_t: UInt64] = [:]
    nonisolated(unsafe) private static var record: ProcessGroupRecord?

    /// A group started (its leader is `pid`).
    public static func add(_ pid: pid_t) {
        let start = ProcStat(pid)?.startTime ?? 0
        lock.withLock {
            live[pid] = start
            record?.write(live)
        }
    }

    /// A group's leader exited. Called with the leader still a zombie, so the group id cannot have been recycled.
    public static func remove(_ pid: pid_t) {
        lock.withLock {
            live.removeValue(forKey: pid)
            if live.isEmpty { record?.remove() }
        }
    }

    /// Groups running now.
    public static var count: Int { lock.withLock { live.count } }

    /// Kills every group running (the drone is leaving).
    public static func killAll() {
        lock.withLock { for pid in live.keys { _ = killpg(pid, SIGKILL) } }
    }

    /// Takes over drone `id`'s record: kills the groups a dead predecessor under that id left running (returns
    /// how many), then records this drone's own from now on.
    @discardableResult
    public static func adopt(drone id: String) -> Int {
        guard let r = ProcessGroupRecord(drone: id), let killed = r.killLeftovers() else { return 0 }
        lock.withLock {
            record = r
            if live.isEmpty { r.remove() } else { r.write(live) }
        }
        return killed
    }

    /// The drone left cleanly (its groups killed): nothing for a successor to sweep.
    public static func discardRecord() {
        lock.withLock {
            record?.remove()
            record = nil
        }
    }
}
