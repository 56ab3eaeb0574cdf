#if canImport(Glibc)
import Glibc
#endif

/// Wall-clock time (CLOCK_REALTIME): log timestamps, trace spans, the start of honeycombd's `ControlClock`. For
/// durations and deadlines use `Monotonic`, which never jumps.
public enum WallClock {
    /// Unix time in nanoseconds.
    public static func unixNanos() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Int64(ts.tv_sec) &* 1_000_000_000 &+ Int64(ts.tv_nsec)
    }

    /// Unix time in milliseconds.
    public static func unixMillis() -> Int64 { unixNanos() / 1_000_000 }
}
