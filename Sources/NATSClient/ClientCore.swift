#if canImport(Glibc)
import Glibc
#endif
import CEpoll
import HiveLog
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
    var outbound = ByteBuffer(capacity: 64 * 1024)
    var writerBusy = false
    var fdToCloseAfterWrite: Int32 = -1
    var maxPayload = 1 << 20
    var pongWaiters: [PongWaiter] = []
    var pingsOut = 0
    var subs: [UInt64: SubscriptionState] = [:]
    var nextSid: UInt64 = 1
    var responders: [String: PendingRequest] = [:]
    var earliestDeadline: UInt64 = .max
    var inbox: SubscriptionState?
    let inboxPrefix: String
    var nextToken: UInt64 = 0
    var pool: ServerPool
    var currentServer: ServerAddress?
    var initialWaiter: CheckedContinuation<Void, Error>?

    // Reader thread only.
    var parser = ServerParser()
    var readerSubs: [UInt64: SubscriptionState] = [:]
    var readerSubsGeneration = -1
    var handshake = HandshakeProgress()
    var lastPingAt: UInt64 = 0
    var reportedSlow: Set<UInt64> = []

    init(options: NATSClientOptions) {
        self.options = options
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
        _ = ClientThread(name: "nats-reader") { [self] in runReader() }
        _ = ClientThread(name: "nats-writer") { [self] in runWriter() }
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
        try lock.withLock { () throws(NATSClientError) in
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
            if wasEmpty { writerWake.signal() }
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
        let (stream, continuation) = AsyncStream.makeStream(
            of: NATSMessage.self, bufferingPolicy: .bufferingOldest(options.subscriptionBufferLimit))
        let state: SubscriptionState = try lock.withLock { () throws(NATSClientError) in
            if status == .closed || status == .draining { throw .closed }
            let sid = nextSid
            nextSid += 1
            let state = SubscriptionState(sid: sid, subject: subject, queue: queue, isInbox: isInbox,
                                          continuation: continuation)
            subs[sid] = state
            subsGeneration.add(1, ordering: .releasing)
            queueControl(state.subscribeProtocol())
            return state
        }
        // A consumer that stops iterating (its task ended or was cancelled), or drops the subscription unread,
        // ends it on the server too. Not the inbox: its stream is never iterated, replies are routed directly.
        if !isInbox { continuation.onTermination = { [weak self] _ in self?.forget(state) } }
        return NATSSubscription(state: state, stream: stream, core: self)
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
        if finish { state.continuation.finish() }
    }

    /// Drops a subscription whose stream ended on the consumer's side.
    func forget(_ state: SubscriptionState) {
        lock.withLock {
            if subs[state.sid] != nil && status != .closed { removeSubscription(state) }
        }
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
            if inbox == nil { inbox = sub.state } else { removeSubscription(sub.state) }
        }
    }

    func request(subject: String, payload: [UInt8], headers: NATSHeaders?, timeout: Double) async throws -> NATSMessage {
        try ensureInbox()
        let token: String = lock.withLock {
            nextToken += 1
            return String(nextToken, radix: 36)
        }
        let deadline = ClientSocket.nowNanos() + UInt64(max(timeout, 0) * 1e9)
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
        let deadline = ClientSocket.nowNanos() + UInt64(max(timeout, 0) * 1e9)
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
        for s in ended { s.continuation.finish() }
        try await flush(timeout: timeout)  // and every publish made before drain() is on the server
    }

    func close() {
        let taken: (pongs: [PongWaiter], requests: [PendingRequest], subs: [SubscriptionState],
                    initial: CheckedContinuation<Void, Error>?)? = lock.withLock {
            guard status != .closed else { return nil }
            status = .closed
            if fd >= 0 { shutdown(fd, Int32(SHUT_RDWR)) }
            let result = (pongWaiters, Array(responders.values), Array(subs.values), initialWaiter)
            pongWaiters = []
            responders = [:]
            subs = [:]
            initialWaiter = nil
            subsGeneration.add(1, ordering: .releasing)
            writerWake.broadcast()
            spaceFreed.broadcast()
            return result
        }
        guard let taken else { return }
        wakeReader()
        for w in taken.pongs { w.continuation?.resume(throwing: NATSClientError.closed) }
        for r in taken.requests { r.continuation.resume(throwing: NATSClientError.closed) }
        for s in taken.subs { s.continuation.finish() }
        taken.initial?.resume(throwing: NATSClientError.closed)
        emit(.closed)
        eventSink.finish()
    }

    var isClosed: Bool { lock.withLock { status == .closed } }
}

/// Starts a detached OS thread (the client's threads block in `poll`/`send`, never on Swift's pool).
final class ClientThread: @unchecked Sendable {
    private let body: @Sendable () -> Void

    @discardableResult
    init(name: String, _ body: @escaping @Sendable () -> Void) {
        self.body = body
        var handle = pthread_t()
        let box = Unmanaged.passRetained(self).toOpaque()
        pthread_create(&handle, nil, { arg in
            let thread = Unmanaged<ClientThread>.fromOpaque(arg!).takeRetainedValue()
            thread.body()
            return nil
        }, box)
        pthread_detach(handle)
    }
}

/// Unique tokens for inbox names: 22 random base-62 characters.
enum Nuid {
    static func next() -> String {
        let alphabet = Array("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
        var rng = SystemRandomNumberGenerator()
        return String((0..<22).map { _ in alphabet[Int(rng.next() % 62)] })
    }
}
