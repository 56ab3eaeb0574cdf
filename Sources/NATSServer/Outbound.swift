#if canImport(Glibc)
import Glibc
#endif
import NATSWire

/// A connection's outbound queue: appended to by any event-loop thread, written to the socket by whichever
/// thread flushes it.
///
/// Producers append under the lock. One writer at a time (`writing`) takes the queued bytes (swapping buffers,
/// no copy) and writes them outside the lock, so publishers on other threads never wait on a socket. Pending
/// bytes are counted from enqueue until written; over `maxPending` the connection is a slow consumer.
final class Outbound: @unchecked Sendable {
    struct State: ~Copyable {
        var queue = ByteBuffer(capacity: 16 * 1024)
        var inflight = ByteBuffer(capacity: 16 * 1024)
        var pending = 0
        /// A producer has made sure a flush will happen (it is on some loop's flush list, or EPOLLOUT is armed).
        var scheduled = false
        var writing = false
        var closed = false
        /// Set when the connection closed while another thread was mid-write: that writer closes the fd.
        var closeFDWhenWritten = false
        /// Monotonic ns when the socket last refused bytes with data still queued; 0 when not blocked.
        var blockedSince: UInt64 = 0
        /// EPOLLOUT arming was already requested for the current blocked episode.
        var armRequested = false
    }

    /// What a producer learns from an enqueue.
    enum Enqueued {
        /// Queued; the caller must flush this connection (put it on its flush list).
        case needsFlush
        /// Queued; a flush is already scheduled.
        case queued
        /// Queued, and the queue is past the early-flush threshold: write it now rather than at the end of the
        /// publisher's read batch, so a burst cannot push a subscriber that reads promptly over max_pending.
        case flushNow
        /// The connection is closed: nothing queued.
        case closed
        /// Queuing would pass max_pending: nothing queued, the connection is now closed for output.
        case slowConsumer
    }

    /// What a flush achieved.
    enum Flushed {
        case drained
        /// The socket is full; EPOLLOUT must be armed on the owning loop.
        case wouldBlock
        /// Another thread is writing; it will pick up what we queued.
        case busy
        case closed
        case failed(Int32)
    }

    let fd: Int32
    let maxPending: Int
    /// Pending bytes past which producers flush at once (an eighth of max_pending, 64 KiB to 1 MiB).
    let earlyFlushThreshold: Int
    /// Guards `state`. A pthread lock so ThreadSanitizer can check the protocol (see `PosixLock`).
    private let lock = PosixLock()
    private var state = State()

    init(fd: Int32, maxPending: Int) {
        self.fd = fd
        self.maxPending = maxPending
        earlyFlushThreshold = min(max(maxPending / 8, 64 * 1024), 1 << 20)
    }

    /// Appends the bytes `encode` writes, at most `maxSize` of them (the bound is checked against max_pending
    /// before encoding; the exact count written is what is accounted).
    @inline(__always)
    func enqueue(maxSize: Int, _ encode: (inout ByteBuffer) -> Void) -> Enqueued {
        lock.withLock {
            if state.closed { return .closed }
            if state.pending + maxSize > maxPending {
                state.closed = true
                return .slowConsumer
            }
            let before = state.queue.count
            encode(&state.queue)
            state.pending += state.queue.count - before
            // Not while the socket is known to be full: EPOLLOUT will resume writing, and trying now would cost
            // a failing syscall per delivery to a stuck subscriber.
            if state.pending >= earlyFlushThreshold && !state.writing && state.blockedSince == 0 {
                state.scheduled = true
                return .flushNow
            }
            if state.scheduled { return .queued }
            state.scheduled = true
            return .needsFlush
        }
    }

    /// Convenience for control replies (`PONG`, `+OK`, `-ERR`, `INFO`).
    func enqueue(_ text: String) -> Enqueued {
        let n = text.utf8.count
        return enqueue(maxSize: n) { $0.appendString(text) }
    }

    /// Writes as much as the socket takes. Safe from any thread.
    func flush(now: @autoclosure () -> UInt64 = Monotonic.now()) -> Flushed {
        while true {
            let chunk: (UnsafeRawPointer, Int)? = lock.withLock {
                if state.closed || state.writing { return nil }
                if state.inflight.isEmpty {
                    if state.queue.isEmpty {
                        state.scheduled = false
                        state.blockedSince = 0
                        state.armRequested = false
                        return (UnsafeRawPointer(state.inflight.base), 0)
                    }
                    state.promoteQueue()
                }
                state.writing = true
                return (UnsafeRawPointer(state.inflight.base), state.inflight.count)
            }
            guard let (ptr, len) = chunk else {
                return lock.withLock { state.closed } ? .closed : .busy
            }
            if len == 0 { return .drained }
            let result = Syscall.write(fd, ptr, len)
            let outcome: Flushed? = lock.withLock {
                state.writing = false
                if state.closed {
                    if state.closeFDWhenWritten {
                        state.closeFDWhenWritten = false
                        Glibc.close(fd)
                    }
                    return .closed
                }
                switch result {
                case .bytes(let n):
                    state.pending -= n
                    state.inflight.removeFirst(n)
                    // Progress restarts the write-deadline clock: the deadline measures time without progress.
                    state.blockedSince = 0
                    if n < len { return state.blocked(now()) }
                    state.inflight.shrink(to: 64 * 1024, ifAbove: 4 << 20)
                    return nil
                case .wouldBlock:
                    return state.blocked(now())
                case .eof:
                    return .failed(EPIPE)
                case .failed(let e):
                    return .failed(e)
                }
            }
            if let outcome { return outcome }
        }
    }

    /// Marks the queue closed and closes the fd now, or hands that to the thread that is mid-write.
    /// Called exactly once, by the owning loop's close path.
    func closeAndRelease() {
        lock.withLock {
            state.closed = true
            if state.writing { state.closeFDWhenWritten = true } else { Glibc.close(fd) }
        }
    }

    /// Stops accepting output (slow consumer, shutting down) without closing the fd yet.
    func stopOutput() {
        lock.withLock { state.closed = true }
    }

    /// Bytes queued and not yet written.
    var pendingBytes: Int { lock.withLock { state.pending } }

    /// Monotonic ns since which the socket has refused writes, or 0.
    var blockedSince: UInt64 { lock.withLock { state.blockedSince } }

    /// Writes the queue once, ignoring `closed` (used right before closing with an `-ERR`).
    func finalWrite() {
        lock.withLock {
            guard !state.writing else { return }
            if !state.inflight.isEmpty { _ = Syscall.write(fd, state.inflight.base, state.inflight.count) }
            if !state.queue.isEmpty { _ = Syscall.write(fd, state.queue.base, state.queue.count) }
        }
    }
}

extension Outbound.State {
    /// Makes the queued bytes the in-flight bytes (a buffer swap, no copy).
    mutating func promoteQueue() { queue.swapContents(with: &inflight) }

    /// Records that the socket refused bytes. Only the first refusal of an episode asks for EPOLLOUT (`.wouldBlock`);
    /// later ones report `.busy`, since the arming is already on its way.
    mutating func blocked(_ now: UInt64) -> Outbound.Flushed {
        if blockedSince == 0 { blockedSince = now }
        if armRequested { return .busy }
        armRequested = true
        return .wouldBlock
    }
}
