#if canImport(Glibc)
import Glibc
#endif

/// A Server-Sent Events stream to one client: producers `send` frames from any thread, the connection's thread
/// writes them. Bounded: when a client reads too slowly, frames past `capacity` are dropped and the client gets an
/// `overflow` event saying how many, so a stuck browser tab costs a fixed amount of memory and never slows the
/// producer (the scheduler).
public final class EventStream: @unchecked Sendable {
    public let capacity: Int
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let cond = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private var frames: [String] = []
    private var dropped = 0
    private var closed = false
    private var closeHandlers: [@Sendable () -> Void] = []

    public init(capacity: Int = 4096) {
        self.capacity = capacity
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(cond, nil)
    }

    deinit {
        pthread_mutex_destroy(mutex)
        pthread_cond_destroy(cond)
        mutex.deallocate()
        cond.deallocate()
    }

    /// One SSE frame: `event: NAME` (optional), the data (one `data:` line per line of it) and an optional `id`.
    public static func frame(event: String?, data: String, id: String? = nil) -> String {
        var f = ""
        if let id { f += "id: \(id)\n" }
        if let event { f += "event: \(event)\n" }
        for line in data.split(separator: "\n", omittingEmptySubsequences: false) { f += "data: \(line)\n" }
        return f + "\n"
    }

    /// Queues a frame; false once the stream is closed (the producer should forget it).
    @discardableResult
    public func send(event: String? = nil, data: String, id: String? = nil) -> Bool {
        send(frame: Self.frame(event: event, data: data, id: id))
    }

    /// Queues a frame built with `frame(event:data:id:)` (built once when it goes to many streams).
    @discardableResult
    public func send(frame f: String) -> Bool {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        guard !closed else { return false }
        if frames.count >= capacity {
            dropped += 1
        } else {
            frames.append(f)
        }
        pthread_cond_signal(cond)
        return true
    }

    /// Runs `handler` once when the stream closes (the client went away, or `close`); at once if it already has.
    public func onClose(_ handler: @escaping @Sendable () -> Void) {
        pthread_mutex_lock(mutex)
        if closed {
            pthread_mutex_unlock(mutex)
            handler()
            return
        }
        closeHandlers.append(handler)
        pthread_mutex_unlock(mutex)
    }

    public func close() {
        pthread_mutex_lock(mutex)
        guard !closed else {
            pthread_mutex_unlock(mutex)
            return
        }
        closed = true
        let handlers = closeHandlers
        closeHandlers = []
        pthread_cond_broadcast(cond)
        pthread_mutex_unlock(mutex)
        for h in handlers { h() }
    }

    /// The frames queued so far, waiting up to `seconds` for one: empty after the wait with nothing queued, nil
    /// once the stream is closed and drained.
    func take(waiting seconds: Double) -> [String]? {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        if frames.isEmpty && dropped == 0 && !closed {
            var now = timespec()
            clock_gettime(CLOCK_REALTIME, &now)
            let nanos = Int(now.tv_nsec) + Int(seconds.truncatingRemainder(dividingBy: 1) * 1e9)
            var until = timespec(tv_sec: now.tv_sec + Int(seconds) + nanos / 1_000_000_000, tv_nsec: nanos % 1_000_000_000)
            _ = pthread_cond_timedwait(cond, mutex, &until)
        }
        if frames.isEmpty && dropped == 0 && closed { return nil }
        var out = frames
        frames.removeAll(keepingCapacity: true)
        if dropped > 0 {
            out.append(Self.frame(event: "overflow", data: "{\"dropped\":\(dropped)}"))
            dropped = 0
        }
        return out
    }
}
