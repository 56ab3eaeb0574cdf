#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// The fields of /proc/<pid>/stat a `ProcessGroupRecord` needs.
struct ProcStat {
    var group: pid_t
    var session: pid_t
    /// Clock ticks after boot the process started.
    var startTime: UInt64

    init?(_ pid: pid_t) {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = text.lastIndex(of: ")") else { return nil }
        // After the command name (which may hold spaces and parentheses): field 3 (state) onwards.
        let fields = text[text.index(after: close)...].split(separator: " ")
        guard fields.count > 19, let g = pid_t(fields[2]), let s = pid_t(fields[3]), let t = UInt64(fields[19]) else { return nil }
        group = g
        session = s
        startTime = t
    }
}
