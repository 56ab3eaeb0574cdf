#if canImport(Glibc)
import Glibc
#endif
import HiveSystem
import HiveTLS
import NATSWire

/// A connection's outbound queue: appended to by any event-loop thread, written to the socket by whichever
/// thread flushes it.
///
/// Producers append under the lock. One writer at a time (`writing`) takes the queued bytes (swapping buffers,
/// no copy) and writes them outside the lock, so publishers on other threads never wait on a socket. Pending
/// bytes are counted from enqueue until written; over `maxPending` the connection is a slow consumer.
///
/// On a TLS connection the bytes go through the session (set once the handshake is done, before any encrypted
/// output), and only the owning loop flushes (`EventLoop.postFlush`). `TLSSession.write` takes all the bytes or none (`wantWrite`: retry with the same bytes), so the
/// in-flight bytes are offered in `tlsWriteChunk` pieces: the written prefix counts as progress (a slow reader is
/// not mistaken for a stuck one by the write deadline), and a retry offers exactly the refused piece again
/// (nothing else touches the front of `inflight`, and its length has not changed).
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
        /// The connection's TLS session once its handshake is done; nil for plain text.
        var tls: TLSSession?
        /// TLS: a flush was posted to the owning loop and has not started (later producers need not post).
        var flushPosted = false
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

    /// Most bytes offered to one `TLSSession.write` (16 records).
    static let tlsWriteChunk = 256 * 1024

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
            let chunk: (UnsafeRawPointer, Int, TLSSession?)? = lock.withLock {
                if state.closed || state.writing { return nil }
                if state.inflight.isEmpty {
                    if state.queue.isEmpty {
                        state.scheduled = false
                        state.blockedSince = 0
                        state.armRequested = false
                        return (UnsafeRawPointer(state.inflight.base), 0, nil)
                    }
                    state.promoteQueue()
                }
                state.writing = true
                return (UnsafeRawPointer(state.inflight.base), state.inflight.count, state.tls)
            }
            guard let (ptr, len, tls) = chunk else {
                return lock.withLock { state.closed } ? .closed : .busy
            }
            if len == 0 { return .drained }
            let result = tls == nil ? Syscall.write(fd, ptr, len) : Self.write(tls!, ptr, len)
            let outcome: Flushed? = lock.withLock {
                state.writing = false
                if state.closed {
                    if state.closeFDWhenWritten {
                        state.closeFDWhenWritten = false
                        state.tls?.close()
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

    /// Marks the queue closed and closes the fd now (after a TLS close_notify, best effort), or hands that to the
    /// thread that is mid-write. Called exactly once, by the owning loop's close path.
    func closeAndRelease() {
        lock.withLock {
            state.closed = true
            if state.writing {
                state.closeFDWhenWritten = true
            } else {
                state.tls?.close()
                Glibc.close(fd)
            }
        }
    }

    /// TLS: true when the caller should post a flush to the owning loop (none is on its way yet).
    func claimPostedFlush() -> Bool {
        lock.withLock {
            if state.flushPosted || state.closed { return false }
            state.flushPosted = true
            return true
        }
    }

    /// TLS: the posted flush is starting; bytes queued from now on need another.
    func postedFlushStarts() {
        lock.withLock { state.flushPosted = false }
    }

    /// From now on bytes go out through `session` (the handshake just completed; nothing encrypted was queued
    /// before, and the plain INFO went out before the client could start the handshake).
    func startTLS(_ session: TLSSession) {
        lock.withLock { state.tls = session }
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
            if let tls = state.tls {
                // In the same chunks as `flush`, so a write that was refused earlier is offered the same bytes.
                guard Self.writeChunks(tls, state.inflight.base, state.inflight.count) else { return }
                _ = Self.writeChunks(tls, state.queue.base, state.queue.count)
                return
            }
            if !state.inflight.isEmpty { _ = Syscall.write(fd, state.inflight.base, state.inflight.count) }
            if !state.queue.isEmpty { _ = Syscall.write(fd, state.queue.base, state.queue.count) }
        }
    }

    /// Encrypted writes of `tlsWriteChunk` pieces while the session takes them, reported as the plain path's
    /// outcomes: the bytes written so far (fewer than `count`: the socket is full), or why none were.
    /// (`wantRead` waits for the socket too: OpenSSL retries its pending record first.)
    private static func write(_ tls: TLSSession, _ ptr: UnsafeRawPointer, _ count: Int) -> IOResult {
        var off = 0
        while off < count {
            let n = min(count - off, tlsWriteChunk)
            switch tls.write(ptr + off, n) {
            case .bytes: off += n
            case .wantWrite, .wantRead: return off > 0 ? .bytes(off) : .wouldBlock
            case .closed: return off > 0 ? .bytes(off) : .eof
            case .failed: return off > 0 ? .bytes(off) : .failed(EPROTO)
            }
        }
        return .bytes(off)
    }

    /// Writes `count` bytes in `tlsWriteChunk` pieces while the socket takes them; false at the first refusal.
    private static func writeChunks(_ tls: TLSSession, _ base: UnsafeMutableRawPointer, _ count: Int) -> Bool {
        if count == 0 { return true }
        if case .bytes(let n) = write(tls, base, count) { return n == count }
        return false
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
