import Foundation
import HiveCore
import HiveSystem
import NATSClient

/// The drone's heartbeat: an OS thread of its own that publishes `Heartbeat` on a fixed schedule, whatever the rest
/// of the drone is doing.
///
/// Why a thread and not a task: a heartbeat that waits for Swift's cooperative pool (two threads on a two-core
/// machine), for the drone's actor, or for the previous heartbeat's reply is late exactly when the machine is busy —
/// a model decoding on every core, grammar compilation or a tokenizer holding a pool thread — and honeycombd then
/// declares a live drone lost and runs its work again elsewhere. Here the only things between the timer and the
/// socket are this thread's wake-up and the NATS client's writer thread. The schedule is fixed-rate (the next beat
/// is one period after the last one was due, not after its reply came back), so a slow reply does not stretch the
/// gap honeycombd sees. Replies come on `replySubject`, read by the drone's actor (`known` false: announce again).
final class HeartbeatSender: @unchecked Sendable {
    private let client: NATSClient
    private let subject: String
    private let replySubject: String
    private let drone: DroneID
    private let lock = PosixLock()
    private let wake: PosixCondition
    // Guarded by `lock`.
    private var periodNanos: UInt64
    /// Every slot in use, by task (a task may hold two slots: a timed-out run still stopping and its next attempt).
    private var running: [TaskID: Int] = [:]
    private var stopped = false

    init(client: NATSClient, drone: DroneID, replySubject: String, periodMillis: Int) {
        self.client = client
        self.drone = drone
        subject = APISubject.heartbeat(drone)
        self.replySubject = replySubject
        periodNanos = Self.nanos(periodMillis)
        wake = PosixCondition(lock: lock)
    }

    /// Starts the thread; the first heartbeat goes one period from now.
    func start() { OSThread(name: "drone-heartbeat") { [self] in beat() }.detach() }

    /// A slot was taken by `task` (the next heartbeat names it). Counted, not listed: the list is built only when a
    /// beat goes out, not on every task's start and end.
    func slotTaken(_ task: TaskID) { lock.withLock { running[task, default: 0] += 1 } }

    /// A slot `task` held is free again.
    func slotFreed(_ task: TaskID) {
        lock.withLock {
            guard let n = running[task] else { return }
            running[task] = n > 1 ? n - 1 : nil
        }
    }

    /// honeycombd's period (from its hello reply), clamped: a zero would spin the thread, a huge one stop it.
    func setPeriod(millis: Int) { lock.withLock { periodNanos = Self.nanos(millis) } }

    /// The period now (clamped as `setPeriod` clamps it).
    var period: Duration { .nanoseconds(Int64(lock.withLock { periodNanos })) }

    /// Ends the thread at its next wake-up, which this brings forward.
    func stop() {
        lock.withLock {
            stopped = true
            wake.signal()
        }
    }

    private static func nanos(_ millis: Int) -> UInt64 { UInt64(min(max(100, millis), 60_000)) * 1_000_000 }

    private func beat() {
        let encoder = JSONEncoder()
        var due = Monotonic.after(Monotonic.now(), nanos: lock.withLock { periodNanos })
        while true {
            let next: (tasks: [TaskID], period: UInt64)? = lock.withLock {
                while !stopped, case let now = Monotonic.now(), now < due {
                    wake.wait(timeoutNanos: Monotonic.elapsed(from: now, to: due))
                }
                return stopped ? nil : (running.keys.sorted(), periodNanos)
            }
            guard let next else { return }
            if let body = try? encoder.encode(Heartbeat(drone: drone, running: next.tasks)) {
                // Queued for the client's writer thread; fails only while disconnected (the reconnect resends nothing,
                // the next beat goes out on the new connection).
                try? client.publish(subject, Array(body), reply: replySubject)
            }
            // Fixed rate; after a stall longer than a period (the thread itself starved), one beat now and the
            // schedule restarts from it, rather than a burst of the missed ones.
            let now = Monotonic.now()
            due = Monotonic.after(due, nanos: next.period)
            if due <= now { due = Monotonic.after(now, nanos: next.period) }
        }
    }
}
