#if canImport(Glibc)
import Glibc
#endif
import CEpoll
import HiveLog
import HiveSystem
import HiveTLS
import NATSWire
import Synchronization

/// A request waiting for its reply on the shared inbox.
struct PendingRequest {
    let continuation: CheckedContinuation<NATSMessage, Error>
    let deadline: UInt64
    let subject: String
    let timeoutSeconds: Double
}

/// A flush (or keepalive PING) waiting for its PONG. PONGs answer PINGs in order, so a timed-out waiter stays
/// in the queue with its continuation taken, keeping later PONGs matched to the right PINGs.
final class PongWaiter {
    var continuation: CheckedContinuation<Void, Error>?
    let deadline: UInt64
    let timeoutSeconds: Double
    init(_ c: CheckedContinuation<Void, Error>?, deadline: UInt64, timeoutSeconds: Double) {
        continuation = c
        self.deadline = deadline
        self.timeoutSeconds = timeoutSeconds
    }
}

/// The client's shared state and its two threads.
///
/// Everything marked "guarded" is touched only with `lock` held. The reader thread owns the socket's read side,
/// the handshake and reconnects, and runs timers (keepalive PINGs, request and flush timeouts); the writer thread
/// sends what publishers queued in `outbound`, many publishes per `send`. API calls only take the lock briefly
/// and never block on the network (except `publish` waiting for the writer past `maxOutboundBytes`).
final class ClientCore: @unchecked Sendable {
    let options: NATSClientOptions
    let lock = PosixLock()
    let writerWake: PosixCondition
    let spaceFreed: PosixCondition
    let events: AsyncStream<NATSClientEvent>
    let eventSink: AsyncStream<NATSClientEvent>.Continuation
    let log = Log("nats-client")
    /// Wakes the reader out of `poll` (close, a request with an early deadline, the end of a backoff).
    let wakeFD: Int32
    let subsGeneration = Atomic<Int>(0)

    // Guarded by `lock`.
    var status = NATSClientStatus.connecting
    var fd: Int32 = -1
    /// The connection's TLS session (nil: plain text); set and cleared with `fd`.
    var session: TLSSession?
    var outbound = ByteBuffer(capacity: 64 * 1024)
    var writerBusy = false
    /// Monotonic ns of the last write: a connection idle for `inlineWriteIdleNanos` gets its next publish
    /// written by the publishing thread itself (no writer wake-up on the latency path).
    var lastWriteAt: UInt64 = 0
    /// Buffer for such inline writes; owned by whoever holds `writerBusy`.
    var inlineBuffer = ByteBuffer(capacity: 4096)
    static let inlineWriteIdleNanos: UInt64 = 50_000
    var fdToCloseAfterWrite: Int32 = -1
    var maxPayload = 1 << 20
    /// The connected server's `server_name` from its latest INFO.
    var serverName: String?
    var pongWaiters: [PongWaiter] = []
    var pingsOut = 0
    var subs: [UInt64: SubscriptionState] = [:]
    var nextSid: UInt64 = 1
    var responders: [String: PendingRequest] = [:]
    var earliestDeadline: UInt64 = .max
    var inbox: SubscriptionState?
    var inboxHandle: NATSSubscription?
    let inboxPrefix: String
    var nextToken: UInt64 = 0
    var pool: ServerPool
    var currentServer: ServerAddress?
    /// Connections made so far, the first included.
    var connections = 0
    var initialWaiter: CheckedContinuation<Void, Error>?

    // Reader thread only.
    /// Made once per client from `options.tls` (or at the first server that requires TLS), shared by reconnects.
    var tlsContext: TLSContext?
    var parser = ServerParser()
    var readerSubs: [UInt64: SubscriptionState] = [:]
    var readerSubsGeneration = -1
    var handshake = HandshakeProgress()
    var lastPingAt: UInt64 = 0
    var reportedSlow: Set<UInt64> = []
    /// Subscriptions with staged messages in the current read.
    var touched: [SubscriptionState] = []

    init(options: NATSClientOptions, tlsContext: TLSContext?) {
        self.options = options
        self.tlsContext = tlsContext
        writerWake = PosixCondition(lock: lock)
        spaceFreed = PosixCondition(lock: lock)
        (events, eventSink) = AsyncStream.makeStream(of: NATSClientEvent.self, bufferingPolicy: .bufferingNewest(256))
        wakeFD = hive_eventfd()
        pool = ServerPool(options.servers, randomize: options.randomizeServers,
                          user: options.user, password: options.password, token: options.token)
        inboxPrefix = "\(options.inboxPrefix).\(Nuid.next())."
    }

    deinit { Glibc.close(wakeFD) }

    func start(_ initial: CheckedContinuation<Void, Error>) {
        lock.withLock { initialWaiter = initial }
        OSThread(name: "nats-reader") { [self] in runReader() }.detach()
        OSThread(name: "nats-writer") { [self] in runWriter() }.detach()
    }

    func wakeReader() {
        var one: UInt64 = 1
        _ = write(wakeFD, &one, 8)
    }

    func emit(_ event: NATSClientEvent) {
        if Log.enabled(.debug) { log.debug("event", ["event": "\(event)"]) }
        eventSink.yield(event)
    }

    // MARK: Publishing

    /// Queues a PUB/HPUB for the writer.
    func publish(subject: String, reply: String?, headers: NATSHeaders?, payload: Bytes) throws(NATSClientError) {
        let headerBytes: [UInt8]?
        do { headerBytes = try headers?.encoded() } catch {
            switch error {
            case .invalidName(let n), .invalidValue(let n): throw .invalidHeader(n)
            }
        }
        var subject = subject
        let result: Result<Void, NATSClientError> = subject.withUTF8 { s in
            Result { () throws(NATSClientError) in
                try enqueuePublish(subject: UnsafeRawBufferPointer(s), reply: reply, headerBytes: headerBytes, payload: payload)
            }
        }
        try result.get()
    }

    private func enqueuePublish(subject sb: Bytes, reply: String?, headerBytes: [UInt8]?, payload: Bytes) throws(NATSClientError) {
        guard Subject.isValidLiteral(sb) else { throw .invalidSubject(String(decoding: sb, as: UTF8.self)) }
        var reply = reply
        let total = payload.count + (headerBytes?.count ?? 0)
        let inlineTarget: (fd: Int32, session: TLSSession?) = try lock.withLock { () throws(NATSClientError) -> (Int32, TLSSession?) in
            try admit(bytes: total + sb.count + (reply?.utf8.count ?? 0) + 32, payload: total)
            let wasEmpty = outbound.isEmpty
            if let headerBytes {
                outbound.append("HPUB ")
                outbound.append(sb)
                outbound.append(byte: 32)
                if reply != nil {
                    reply!.withUTF8 { outbound.append(UnsafeRawBufferPointer($0)) }
                    outbound.append(byte: 32)
                }
                outbound.appendDecimal(headerBytes.count)
                outbound.append(byte: 32)
                outbound.appendDecimal(total)
                outbound.append("\r\n")
                headerBytes.withUnsafeBytes { outbound.append($0) }
                outbound.append(payload)
                outbound.append("\r\n")
            } else if reply != nil {
                reply!.withUTF8 { r in outbound.appendPUB(subject: sb, reply: UnsafeRawBufferPointer(r), payload: payload) }
            } else {
                outbound.appendPUB(subject: sb, reply: nil, payload: payload)
            }
            guard wasEmpty else { return (-1, nil) }
            // An idle connection: write from this thread now. A busy one: leave it to the writer, which then
            // sends many publishes per syscall.
            if !writerBusy && fd >= 0 && Monotonic.now() &- lastWriteAt > Self.inlineWriteIdleNanos {
                writerBusy = true
                outbound.swapContents(with: &inlineBuffer)
                return (fd, session)
            }
            writerWake.signal()
            return (-1, nil)
        }
        if inlineTarget.fd >= 0 { writeInline(inlineTarget.fd, inlineTarget.session) }
    }

    /// Writes `inlineBuffer` on the caller's thread, then hands the writer role back. Called holding the
    /// writer role (`writerBusy`) but not the lock.
    private func writeInline(_ target: Int32, _ session: TLSSession?) {
        let ok = send(target, session, inlineBuffer.base, inlineBuffer.count)
        inlineBuffer.removeAll()
        finishWrite(target: target, ok: ok)
        lock.withLock { if !outbound.isEmpty { writerWake.signal() } }
    }

    /// Releases the writer role after a write: closes an fd the reader dropped meanwhile, or reports a failed
    /// write by shutting the socket down (the reader sees it and reconnects).
    func finishWrite(target: Int32, ok: Bool) {
        lock.withLock {
            writerBusy = false
            lastWriteAt = Monotonic.now()
            if fdToCloseAfterWrite >= 0 {
                Glibc.close(fdToCloseAfterWrite)
                fdToCloseAfterWrite = -1
            } else if !ok && fd == target {
                shutdown(target, Int32(SHUT_RDWR))
            }
        }
    }

    /// Checks, with the lock held, that `bytes` more may be queued now; waits for the writer if the outbound
    /// queue is past its bound while connected.
    private func admit(bytes: Int, payload: Int) throws(NATSClientError) {
        if status == .closed { throw .closed }
        if payload > maxPayload { throw .maxPayloadExceeded(size: payload, max: maxPayload) }
        if fd >= 0 {
            while outbound.count + bytes > options.maxOutboundBytes && fd >= 0 && status != .closed {
                spaceFreed.wait(timeoutNanos: 100_000_000)
            }
            if status == .closed { throw .closed }
        } else if outbound.count + bytes > options.reconnectBufferBytes {
            throw .reconnectBufferFull(limit: options.reconnectBufferBytes)
        }
    }

    /// Queues a control line (SUB, UNSUB, PING, PONG) if connected; with the lock held.
    func queueControl(_ line: String) {
        guard fd >= 0 else { return }
        let wasEmpty = outbound.isEmpty
        outbound.appendString(line)
        if wasEmpty { writerWake.signal() }
    }

    // MARK: Subscriptions

    func subscribe(subject: String, queue: String?, isInbox: Bool = false) throws(NATSClientError) -> NATSSubscription {
        let valid = withBytes(subject) { Subject.isValidSubscription($0) }
        guard valid, queue.map({ !$0.isEmpty && !$0.contains(" ") }) ?? true else { throw .invalidSubject(subject) }
        let state: SubscriptionState = try lock.withLock { () throws(NATSClientError) in
            if status == .closed || status == .draining { throw .closed }
            let sid = nextSid
            nextSid += 1
            let state = SubscriptionState(sid: sid, subject: subject, queue: queue, isInbox: isInbox,
                                          bufferLimit: options.subscriptionBufferLimit)
            subs[sid] = state
            subsGeneration.add(1, ordering: .releasing)
            queueControl(state.subscribeProtocol())
            return state
        }
        return NATSSubscription(state: state, core: self)
    }

    func unsubscribe(_ state: SubscriptionState, after: Int?) throws(NATSClientError) {
        let finish: Bool = try lock.withLock { () throws(NATSClientError) -> Bool in
            if status == .closed { throw .closed }
            guard subs[state.sid] != nil else { return false }
            if let after, after > state.delivered.load(ordering: .relaxed) {
                state.maxMessages.store(after, ordering: .relaxed)
                queueControl("UNSUB \(state.sid) \(state.remainingMessages ?? after)\r\n")
                return false
            }
            removeSubscription(state)
            return true
        }
        if finish { state.queue.finish() }
    }

    /// Drops a subscription whose handle was released (the inbox's handle is kept by `inboxHandle`).
    func forget(_ state: SubscriptionState) {
        lock.withLock {
            if subs[state.sid] === state && status != .closed { removeSubscription(state) }
        }
        state.queue.finish()
    }

    /// With the lock held.
    func removeSubscription(_ state: SubscriptionState) {
        subs[state.sid] = nil
        subsGeneration.add(1, ordering: .releasing)
        queueControl("UNSUB \(state.sid)\r\n")
    }

    // MARK: Requests

    private func ensureInbox() throws(NATSClientError) {
        let needed = lock.withLock { inbox == nil }
        guard needed else { return }
        let sub = try subscribe(subject: inboxPrefix + "*", queue: nil, isInbox: true)
        lock.withLock {
            if inbox == nil {
                inbox = sub.state
                inboxHandle = sub
            } else {
                removeSubscription(sub.state)
            }
        }
    }

    func request(subject: String, payload: [UInt8], headers: NATSHeaders?, timeout: Double) async throws -> NATSMessage {
        try ensureInbox()
        let token: String = lock.withLock {
            nextToken += 1
            return String(nextToken, radix: 36)
        }
        let deadline = Monotonic.after(Monotonic.now(), nanos: Monotonic.nanos(seconds: timeout))
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (c: CheckedContinuation<NATSMessage, Error>) in
                let wakeNeeded: Bool = lock.withLock {
                    responders[token] = PendingRequest(continuation: c, deadline: deadline, subject: subject,
                                                       timeoutSeconds: timeout)
                    let earlier = deadline < earliestDeadline
                    if earlier { earliestDeadline = deadline }
                    return earlier
                }
                if wakeNeeded { wakeReader() }
                do {
                    try payload.withUnsafeBytes { (p: UnsafeRawBufferPointer) throws -> Void in
                        try publish(subject: subject, reply: inboxPrefix + token, headers: headers, payload: p)
                    }
                } catch {
                    if let pending = lock.withLock({ responders.removeValue(forKey: token) }) {
                        pending.continuation.resume(throwing: error)
                    }
                }
            }
        } onCancel: {
            if let pending = lock.withLock({ responders.removeValue(forKey: token) }) {
                pending.continuation.resume(throwing: CancellationError())
            }
        }
    }

    // MARK: Flush, drain, close

    func flush(timeout: Double) async throws {
        let deadline = Monotonic.after(Monotonic.now(), nanos: Monotonic.nanos(seconds: timeout))
        try await withCheckedThrowingContinuation { (c: CheckedContinuation<Void, Error>) in
            let failure: NATSClientError? = lock.withLock {
                if status == .closed { return .closed }
                guard fd >= 0 else { return .notConnected }
                pongWaiters.append(PongWaiter(c, deadline: deadline, timeoutSeconds: timeout))
                if deadline < earliestDeadline { earliestDeadline = deadline }
                queueControl("PING\r\n")
                return nil
            }
            if let failure { c.resume(throwing: failure) } else { wakeReader() }
        }
    }

    func drain(timeout: Double) async throws {
        let proceed: Bool = lock.withLock {
            guard status != .closed else { return false }
            status = .draining
            for s in subs.values where !s.isInbox { queueControl("UNSUB \(s.sid)\r\n") }
            return true
        }
        guard proceed else { return }
        defer { close() }
        // Once the server has answered this PING it has processed the UNSUBs: everything still coming for the
        // subscriptions is already in our read buffers, and their streams can end after it.
        try await flush(timeout: timeout)
        let ended: [SubscriptionState] = lock.withLock {
            let user = subs.values.filter { !$0.isInbox }
            for s in user { subs[s.sid] = nil }
            subsGeneration.add(1, ordering: .releasing)
            return user
        }
        for s in ended { s.queue.finish() }
        try await flush(timeout: timeout)  // and every publish made before drain() is on the server
    }

    func close() {
        // The inbox handle leaves the lock inside `taken`: releasing it runs its deinit, which locks.
        let taken: (pongs: [PongWaiter], requests: [PendingRequest], subs: [SubscriptionState],
                    initial: CheckedContinuation<Void, Error>?, inbox: NATSSubscription?)? = lock.withLock {
            guard status != .closed else { return nil }
            status = .closed
            if fd >= 0 {
                session?.close()  // close_notify, best effort: the server sees a clean end
                shutdown(fd, Int32(SHUT_RDWR))
            }
            let result = (pongWaiters, Array(responders.values), Array(subs.values), initialWaiter, inboxHandle)
            pongWaiters = []
            responders = [:]
            subs = [:]
            initialWaiter = nil
            inboxHandle = nil
            subsGeneration.add(1, ordering: .releasing)
            writerWake.broadcast()
            spaceFreed.broadcast()
            return result
        }
        guard let taken else { return }
        wakeReader()
        for w in taken.pongs { w.continuation?.resume(throwing: NATSClientError.closed) }
        for r in taken.requests { r.continuation.resume(throwing: NATSClientError.closed) }
        for s in taken.subs { s.queue.finish() }
        taken.initial?.resume(throwing: NATSClientError.closed)
        emit(.closed)
        eventSink.finish()
    }

    var isClosed: Bool { lock.withLock { status == .closed } }
}

/// Unique tokens for inbox names: 22 random base-62 characters.
enum Nuid {
    static func next() -> String {
        let alphabet = Array("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
        var rng = SystemRandomNumberGenerator()
        return String((0..<22).map { _ in alphabet[Int(rng.next() % 62)] })
    }
}
