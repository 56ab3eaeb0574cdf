import CSpawn

/// Resource limits a drone applies to every exec task's process (and so to everything it starts: rlimits are
/// inherited). Each is the drone operator's, never the task's. 0 means "not limited" where noted.
public struct ExecLimits: Sendable, Equatable {
    /// Open files per process (`RLIMIT_NOFILE`); never above the drone's own hard limit.
    public var maxOpenFiles: UInt64 = 1_024
    /// Largest file a process may write, in MiB (`RLIMIT_FSIZE`: past it the write fails and SIGXFSZ kills).
    public var maxFileSizeMB: UInt64 = 1_024
    /// CPU seconds per process (`RLIMIT_CPU`); 0: not limited (the task's wall-clock timeout still applies).
    public var maxCPUSeconds: UInt64 = 0
    /// Address space per process in MiB (`RLIMIT_AS`); 0: not limited (runtimes that reserve large virtual ranges,
    /// such as Go or the JVM, fail under a low one).
    public var maxAddressSpaceMB: UInt64 = 0

    public init() {}

    /// The rlimits to set in the child. Core dumps are always off: a crashing task must not write its memory to disk.
    var rlimits: [hive_rlimit] {
        var out = [hive_rlimit(resource: HIVE_RLIMIT_CORE, value: 0),
                   hive_rlimit(resource: HIVE_RLIMIT_NOFILE, value: Self.belowHardLimit(HIVE_RLIMIT_NOFILE, maxOpenFiles))]
        if maxFileSizeMB > 0 { out.append(hive_rlimit(resource: HIVE_RLIMIT_FSIZE, value: Self.bytes(mib: maxFileSizeMB))) }
        if maxCPUSeconds > 0 { out.append(hive_rlimit(resource: HIVE_RLIMIT_CPU, value: maxCPUSeconds)) }
        if maxAddressSpaceMB > 0 { out.append(hive_rlimit(resource: HIVE_RLIMIT_AS, value: Self.bytes(mib: maxAddressSpaceMB))) }
        return out
    }

    static func bytes(mib: UInt64) -> UInt64 {
        let (v, overflow) = mib.multipliedReportingOverflow(by: 1 << 20)
        return overflow ? .max : v
    }

    /// An unprivileged process cannot raise a hard limit: ask for at most what the drone itself may have.
    static func belowHardLimit(_ resource: Int32, _ value: UInt64) -> UInt64 {
        var current = rlimit()
        guard getrlimit(__rlimit_resource_t(UInt32(resource)), &current) == 0 else { return value }
        return min(value, UInt64(current.rlim_max))
    }
}
