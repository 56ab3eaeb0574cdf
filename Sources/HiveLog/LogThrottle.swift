import Synchronization

/// Lets one line through per interval and counts the rest, so an event a client can trigger at will (a refused
/// login, a failed reconnect) is seen by the operator without letting that client flood the log.
///
/// Lock-free: any thread may call `admit`. The caller passes the time (monotonic nanoseconds), so this type
/// reads no clock of its own.
public final class LogThrottle: Sendable {
    private let intervalNanos: UInt64
    private let nextAllowed = Atomic<UInt64>(0)
    private let suppressed = Atomic<Int>(0)

    public init(intervalMillis: Int) { intervalNanos = UInt64(max(intervalMillis, 0)) &* 1_000_000 }

    /// `nil` when this occurrence should not be logged; otherwise how many were suppressed since the last line.
    public func admit(now: UInt64) -> Int? {
        let next = nextAllowed.load(ordering: .relaxed)
        let (until, overflow) = now.addingReportingOverflow(intervalNanos)
        if now >= next,
           nextAllowed.compareExchange(expected: next, desired: overflow ? .max : until, ordering: .relaxed).exchanged {
            return suppressed.exchange(0, ordering: .relaxed)
        }
        suppressed.wrappingAdd(1, ordering: .relaxed)
        return nil
    }
}
