#if canImport(Glibc)
import Glibc
#endif

/// The monotonic clock every socket-level component reads (broker loops, client timers, lock waits), in
/// nanoseconds, with the only arithmetic allowed on its readings.
///
/// Readings taken on different threads, or taken before and after a cached value, are not ordered: a loop that
/// caches `now` at wake-up may meet a connection stamped a microsecond later by another thread. So elapsed time
/// saturates at zero instead of trapping, and every conversion from a configured or user-supplied duration
/// saturates instead of overflowing. (The broker once exited with `arithmetic overflow` on `now - acceptedAt`.)
public enum Monotonic {
    /// Nanoseconds on CLOCK_MONOTONIC.
    @inlinable @inline(__always)
    public static func now() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
    }

    /// Now in fractional seconds (benchmark timers; differences only).
    @inlinable @inline(__always)
    public static func seconds() -> Double { Double(now()) / 1e9 }

    /// Now in fractional milliseconds (benchmark timers; differences only).
    @inlinable @inline(__always)
    public static func millis() -> Double { Double(now()) / 1e6 }

    /// `later - earlier`, or 0 when `earlier` is the later reading.
    @inlinable @inline(__always)
    public static func elapsed(from earlier: UInt64, to later: UInt64) -> UInt64 {
        later >= earlier ? later - earlier : 0
    }

    /// `time + nanos`, saturating at `UInt64.max` (a deadline that never comes rather than a trap).
    @inlinable @inline(__always)
    public static func after(_ time: UInt64, nanos: UInt64) -> UInt64 {
        let (sum, overflow) = time.addingReportingOverflow(nanos)
        return overflow ? .max : sum
    }

    /// Milliseconds as nanoseconds: negative is 0, too large saturates.
    @inlinable @inline(__always)
    public static func nanos(millis: Int) -> UInt64 {
        guard millis > 0 else { return 0 }
        let (product, overflow) = UInt64(millis).multipliedReportingOverflow(by: 1_000_000)
        return overflow ? .max : product
    }

    /// Seconds (as a user or caller wrote them) as nanoseconds: NaN and negative are 0, too large saturates.
    @inlinable @inline(__always)
    public static func nanos(seconds: Double) -> UInt64 {
        guard seconds > 0 else { return 0 }  // also false for NaN
        let n = seconds * 1e9
        return n < 1.8e19 ? UInt64(n) : .max
    }

    /// Milliseconds to wait until `deadline` (for `poll`/`epoll_wait`): 0 if past, capped at `cap`.
    @inlinable @inline(__always)
    public static func waitMillis(until deadline: UInt64, now: UInt64, cap: Int32 = Int32.max) -> Int32 {
        let ms = elapsed(from: now, to: deadline) / 1_000_000
        return ms >= UInt64(cap) ? cap : Int32(ms)
    }
}
