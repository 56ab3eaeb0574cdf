import Drone
import Foundation

/// Whether the drone has joined, and whether a signal asked it to stop: the one place the signal task and the
/// start-up path agree on who shuts the drone down (whichever comes second).
final class DroneLifecycle: @unchecked Sendable {
    private let lock = NSLock()
    private var drone: DroneRuntime?
    private var stopping = false

    /// The signal arrived: the drone to shut down, or nil when it has not joined yet (the caller just exits).
    func stop() -> DroneRuntime? {
        lock.withLock {
            stopping = true
            return drone
        }
    }

    /// The drone joined. False when a signal came first: the caller shuts it down.
    func joined(_ d: DroneRuntime) -> Bool {
        lock.withLock {
            drone = d
            return !stopping
        }
    }
}
