import HiveCore
import HiveSystem
import NATSWire

/// The control plane's clock, in milliseconds since the Unix epoch.
///
/// Times the state machine records (`created_at`, `finished_at`, ledger wall time, trace spans) are persisted in
/// the journal, so they must mean the same thing after a restart: the clock starts from the wall clock. Within a
/// run it advances with the monotonic clock, so a wall-clock step (NTP, an operator) never makes a timeout fire
/// early or late. And it never starts before the latest time already recorded, so after a restart on a machine
/// whose clock went back, new goals still sort after old ones and no duration comes out negative.
struct ControlClock: Sendable {
    private let startMillis: Int64
    private let startMonotonic: UInt64

    init(notBefore latest: Int64) {
        startMillis = max(WallClock.unixNanos() / 1_000_000, latest &+ 1)
        startMonotonic = Monotonic.now()
    }

    func now() -> Int64 {
        let elapsed = Monotonic.elapsed(from: startMonotonic, to: Monotonic.now()) / 1_000_000
        return startMillis &+ Int64(clamping: elapsed)
    }
}
