import HiveSystem

/// A Server-Sent Events stream to one client: producers `send` frames from any thread, the connection's thread
/// writes them. Bounded: when a client reads too slowly, frames past `capacity` are dropped and the client gets an
/// `overflow` event saying how many, so a stuck browser tab costs a fixed amount of memory and never slows the
/// producer (the scheduler).
public final class EventStream: @unchecked Sendable {
    public let capacity: Int
    private let lock = PosixLock()
    private let wake: PosixCondition
    private var frames: [String] = []
    private var dropped = 0
    private var closed = false
    private var closeHandlers: [@Sendable () -> Void] = []

    public init(capacity: Int = 4096) {
        self.capacity = capacity
        wake = PosixCondition(lock: lock)
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
        lock.withLock {
            guard !closed else { return false }
            if frames.count >= capacity {
                dropped += 1
            } else {
                frames.append(f)
            }
            wake.signal()
            return true
        }
    }

    /// Runs `handler` once when the stream closes (the client went away, or `close`); at once if it already has.
    public func onClose(_ handler: @escaping @Sendable () -> Void) {
        let already = lock.withLock {
            if !closed { closeHandlers.append(handler) }
            return closed
        }
        if already { handler() }
    }

    public func close() {
        let handlers: [@Sendable () -> Void] = lock.withLock {
            guard !closed else { return [] }
            closed = true
            let handlers = closeHandlers
            closeHandlers = []
            wake.broadcast()
            return handlers
        }
        for h in handlers { h() }
    }

    /// The frames queued so far, waiting up to `seconds` for one: empty after the wait with nothing queued, nil
    /// once the stream is closed and drained.
    func take(waiting seconds: Double) -> [String]? {
        lock.withLock {
            if frames.isEmpty && dropped == 0 && !closed { wake.wait(timeoutNanos: Monotonic.nanos(seconds: seconds)) }
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
}
