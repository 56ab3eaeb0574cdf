#if canImport(Glibc)
import Glibc
#endif
import CEpoll
import HiveSystem
import HiveTLS
import NATSWire

/// Where the reader is in a connection handshake.
struct HandshakeProgress {
    enum Stage { case idle, awaitingInfo, awaitingPong, done }
    var stage = Stage.idle
    var fd: Int32 = -1
    /// Set once the connection upgraded to TLS (after INFO).
    var session: TLSSession?
    var info: ServerInfoMessage?
    var error: String?
}

extension ClientCore: ServerOpHandler {
    // MARK: Reader thread

    func runReader() {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 256 * 1024, alignment: 16)
        defer { buffer.deallocate() }
        var initial = true
        var tlsNext = TLSReadNext.waitReadable
        while !isClosed {
            let (current, tls) = lock.withLock { (fd, session) }
            if current < 0 {
                if !establish(initial: initial, buffer: buffer) { break }
                initial = false
                tlsNext = .waitReadable
                continue
            }
            let events = tlsNext == .waitWritable ? Int16(POLLIN | POLLOUT) : Int16(POLLIN)
            var fds = [pollfd(fd: current, events: events, revents: 0),
                       pollfd(fd: wakeFD, events: Int16(POLLIN), revents: 0)]
            let ready = poll(&fds, 2, tlsNext == .readAgain ? 0 : pollTimeoutMillis())
            if ready > 0 && fds[1].revents != 0 {
                var counter: UInt64 = 0
                _ = read(wakeFD, &counter, 8)
            }
            if let tls {
                if tlsNext == .readAgain || (ready > 0 && fds[0].revents != 0) { tlsNext = readTLS(tls, buffer) }
            } else if ready > 0 && fds[0].revents != 0 {
                switch Syscall.read(current, buffer.baseAddress!, buffer.count) {
                case .bytes(let n): consume(UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
                case .wouldBlock: break
                case .eof: disconnect(reason: "server closed the connection")
                case .failed(let e): disconnect(reason: SystemError(call: "recv", errno: e).reason)
                }
            }
            runTimers()
        }
        lock.withLock {
            if fd >= 0 {
                if writerBusy { fdToCloseAfterWrite = fd } else { Glibc.close(fd) }
                fd = -1
                session = nil
            }
        }
    }

    /// Parses what one read brought (plain or decrypted) and hands the deliveries on; an unparseable stream drops
    /// the connection (the reader reconnects). False then.
    @discardableResult
    func consume(_ bytes: UnsafeRawBufferPointer) -> Bool {
        defer { pushDeliveries() }
        do {
            try parser.parse(bytes, handler: self)
            return true
        } catch {
            emit(.error("unparseable data from the server (\(error)); reconnecting"))
            disconnect(reason: "protocol error from server")
            return false
        }
    }

    /// How long the reader may sleep: until the next keepalive or the earliest request/flush deadline.
    private func pollTimeoutMillis() -> Int32 {
        let now = Monotonic.now()
        let pingDue = Monotonic.after(lastPingAt, nanos: Monotonic.nanos(millis: options.pingIntervalMillis))
        let next = min(pingDue, lock.withLock { earliestDeadline })
        if next <= now { return 0 }
        return Monotonic.waitMillis(until: next, now: now, cap: 999) + 1
    }

    /// Keepalive PINGs with stale detection, and request/flush timeouts.
    private func runTimers() {
        let now = Monotonic.now()
        if now >= Monotonic.after(lastPingAt, nanos: Monotonic.nanos(millis: options.pingIntervalMillis)) {
            lastPingAt = now
            let stale: Bool = lock.withLock {
                guard fd >= 0 else { return false }
                if pingsOut >= options.maxPingsOut { return true }
                pingsOut += 1
                pongWaiters.append(PongWaiter(nil, deadline: .max, timeoutSeconds: 0))
                queueControl("PING\r\n")
                return false
            }
            if stale { disconnect(reason: "stale connection: \(options.maxPingsOut) PINGs unanswered") }
        }
        let (expired, flushes): ([PendingRequest], [(CheckedContinuation<Void, Error>, Double)]) = lock.withLock {
            guard now >= earliestDeadline else { return ([], []) }
            var expired: [PendingRequest] = []
            var next = UInt64.max
            for (token, r) in responders {
                if r.deadline <= now {
                    expired.append(r)
                    responders[token] = nil
                } else {
                    next = min(next, r.deadline)
                }
            }
            var flushes: [(CheckedContinuation<Void, Error>, Double)] = []
            for w in pongWaiters where w.continuation != nil {
                if w.deadline <= now {
                    flushes.append((w.continuation!, w.timeoutSeconds))
                    w.continuation = nil
                } else {
                    next = min(next, w.deadline)
                }
            }
            earliestDeadline = next
            return (expired, flushes)
        }
        for r in expired { r.continuation.resume(throwing: NATSClientError.timeout(seconds: r.timeoutSeconds)) }
        for (c, t) in flushes { c.resume(throwing: NATSClientError.timeout(seconds: t)) }
    }

    // MARK: Connecting

    /// Connects to some server, retrying with backoff as the options allow. False when the client closed.
    private func establish(initial: Bool, buffer: UnsafeMutableRawBufferPointer) -> Bool {
        var passes = 0
        var lastError = NATSClientError.noServers
        var lastWarned: UInt64 = 0
        while !isClosed {
            for server in lock.withLock({ pool.rotation() }) {
                if isClosed { return false }
                do {
                    try connect(to: server, buffer: buffer, initial: initial)
                    if passes > 0 { log.info("connected", ["server": server.description, "after_attempts": passes]) }
                    return true
                } catch {
                    lastError = error
                    log.debug("connect_failed", ["server": server.description, "reason": error.description])
                }
                runTimers()
            }
            passes += 1
            let giveUp = (initial && !options.retryOnFailedConnect)
                || (!initial && !options.allowReconnect)
                || (options.maxReconnectAttempts >= 0 && passes > options.maxReconnectAttempts)
            // A client that keeps retrying says why at warn: after the first failed pass, then at most every
            // `connectWarnIntervalMillis` (a retry loop must not flood the log). One that gives up on its first
            // connect leaves the reporting to its caller, which gets the error.
            let now = Monotonic.now()
            if !giveUp && (passes == 1 || now &- lastWarned >= UInt64(Self.connectWarnIntervalMillis) * 1_000_000) {
                lastWarned = now
                log.warn(initial ? "connect_failed" : "reconnect_failed",
                         ["reason": lastError.description, "attempts": passes, "retrying": "yes"])
            }
            if giveUp {
                if !initial { log.warn("reconnect_gave_up", ["reason": lastError.description, "attempts": passes]) }
                let waiter = lock.withLock { () -> CheckedContinuation<Void, Error>? in
                    let w = initialWaiter
                    initialWaiter = nil
                    return w
                }
                waiter?.resume(throwing: lastError)
                if !initial { emit(.error("giving up reconnecting: \(lastError)")) }
                close()
                return false
            }
            let backoff = min(options.reconnectWaitMillis << min(passes - 1, 16), options.maxReconnectWaitMillis)
            let jitter = Int.random(in: 0...max(1, backoff / 5))
            waitOutBackoff(millis: backoff + jitter)
        }
        return false
    }

    /// Sleeps between reconnect passes, running the timers at every request's and flush's deadline on the way: a
    /// request's timeout holds while no server answers (without this a request made while the bus was down waited
    /// for the next connection, however long). Ends early at `close()`. While a connect attempt is under way the
    /// timers wait for it, so a deadline may pass by up to `connectTimeoutMillis` before it is reported.
    private func waitOutBackoff(millis: Int) {
        let end = Monotonic.after(Monotonic.now(), nanos: Monotonic.nanos(millis: max(0, millis)))
        while !isClosed {
            let now = Monotonic.now()
            if now >= end { return }
            let next = min(end, lock.withLock { earliestDeadline })
            var p = pollfd(fd: wakeFD, events: Int16(POLLIN), revents: 0)
            if poll(&p, 1, next <= now ? 0 : Monotonic.waitMillis(until: next, now: now, cap: 999) + 1) > 0 {
                var counter: UInt64 = 0
                _ = read(wakeFD, &counter, 8)
            }
            runTimers()
        }
    }

    /// How often a retrying client repeats its connection failure at warn level.
    static let connectWarnIntervalMillis = 30_000

    /// Handshake with one server: INFO, CONNECT+PING, PONG; then re-subscribe and hand the socket to the writer.
    private func connect(to server: ServerAddress, buffer: UnsafeMutableRawBufferPointer, initial: Bool) throws(NATSClientError) {
        let sock: Int32
        if let dial = options.dial {
            sock = try dial(server)
        } else {
            sock = try ClientSocket.connect(server, timeoutMillis: options.connectTimeoutMillis)
        }
        parser = ServerParser()
        handshake = HandshakeProgress(stage: .awaitingInfo, fd: sock)
        let deadline = Monotonic.after(Monotonic.now(), nanos: Monotonic.nanos(millis: options.connectTimeoutMillis))
        do {
            try readHandshake(until: .awaitingPong, sock, deadline, buffer, server)
            guard let info = handshake.info else { throw NATSClientError.connectionFailed(server: server.description, reason: "no INFO") }
            handshake.session = try startTLS(sock, server, info, deadline)
            let line = connectLine(options, server, headers: info.headers ?? false)
            guard withBytes(line, { send(sock, handshake.session, $0.baseAddress!, $0.count) }) else {
                throw NATSClientError.connectionFailed(server: server.description,
                                                       reason: handshake.session == nil ? ClientSocket.errnoText() : "the TLS write of CONNECT failed")
            }
            try readHandshake(until: .done, sock, deadline, buffer, server)
        } catch {
            handshake = HandshakeProgress()
            Glibc.close(sock)
            throw error as! NATSClientError
        }
        let tls = handshake.session
        handshake = HandshakeProgress()
        let info = lock.withLock { () -> [String] in
            // Re-subscribe ahead of anything publishers queued while we were away.
            var prefix = ByteBuffer(capacity: 4096)
            for s in subs.values.sorted(by: { $0.sid < $1.sid }) { prefix.appendString(s.subscribeProtocol()) }
            prefix.append(outbound.bytes)
            outbound.swapContents(with: &prefix)
            fd = sock
            session = tls
            status = status == .draining ? .draining : .connected
            pingsOut = 0
            currentServer = server
            connections += 1
            pool.markCurrent(server)
            writerWake.signal()
            return []
        }
        _ = info
        lastPingAt = Monotonic.now()
        let waiter = lock.withLock { () -> CheckedContinuation<Void, Error>? in
            let w = initialWaiter
            initialWaiter = nil
            return w
        }
        if let waiter {
            emit(.connected(server: server.description))
            waiter.resume()
        } else {
            emit(initial ? .connected(server: server.description) : .reconnected(server: server.description))
        }
    }

    private func readHandshake(until stage: HandshakeProgress.Stage, _ sock: Int32, _ deadline: UInt64,
                               _ buffer: UnsafeMutableRawBufferPointer, _ server: ServerAddress) throws(NATSClientError) {
        while handshake.stage != stage && handshake.stage != .done {
            let now = Monotonic.now()
            guard now < deadline else {
                throw .connectionFailed(server: server.description, reason: "handshake timed out")
            }
            let n: Int
            if let session = handshake.session {
                // Bytes may wait inside OpenSSL with the socket empty: read those before waiting.
                if !session.hasBufferedInput {
                    var p = pollfd(fd: sock, events: Int16(POLLIN), revents: 0)
                    guard poll(&p, 1, Monotonic.waitMillis(until: deadline, now: now, cap: 1_000_000) + 1) > 0 else { continue }
                }
                switch session.read(buffer.baseAddress!, buffer.count) {
                case .bytes(let k): n = k
                case .wantRead: continue
                case .wantWrite:
                    var p = pollfd(fd: sock, events: Int16(POLLOUT), revents: 0)
                    _ = poll(&p, 1, Monotonic.waitMillis(until: deadline, now: now, cap: 1_000_000) + 1)
                    continue
                case .closed: n = 0
                case .failed(let e):
                    if let text = handshake.error { throw handshakeError(text, server) }
                    throw tlsFailure(e, server, handshake.info)
                }
            } else {
                var p = pollfd(fd: sock, events: Int16(POLLIN), revents: 0)
                guard poll(&p, 1, Monotonic.waitMillis(until: deadline, now: now, cap: 1_000_000) + 1) > 0 else { continue }
                n = recv(sock, buffer.baseAddress, buffer.count, 0)
            }
            guard n > 0 else {
                if let e = handshake.error { throw handshakeError(e, server) }
                throw .connectionFailed(server: server.description, reason: n == 0 ? "closed during handshake" : ClientSocket.errnoText())
            }
            do {
                try parser.parse(UnsafeRawBufferPointer(rebasing: buffer[0..<n]), handler: self)
            } catch {
                throw .connectionFailed(server: server.description, reason: "unparseable handshake: \(error)")
            }
            if let e = handshake.error { throw handshakeError(e, server) }
        }
    }

    private func handshakeError(_ text: String, _ server: ServerAddress) -> NATSClientError {
        text.lowercased().contains("authorization") ? .authorizationViolation(server: server.description) : .serverError(text)
    }

    /// Drops the current connection; the reader loop reconnects (or closes, without reconnect).
    func disconnect(reason: String) {
        let waiters: [PongWaiter]? = lock.withLock {
            // After close() the reader sees the EOF that close's shutdown caused: not a lost connection.
            guard fd >= 0, status != .closed else { return nil }
            let old = fd
            fd = -1
            session = nil
            shutdown(old, Int32(SHUT_RDWR))
            if writerBusy { fdToCloseAfterWrite = old } else { Glibc.close(old) }
            if status == .connected { status = .reconnecting }
            let w = pongWaiters
            pongWaiters = []
            pingsOut = 0
            return w
        }
        guard let waiters else { return }
        for w in waiters { w.continuation?.resume(throwing: NATSClientError.connectionLost) }
        emit(.disconnected(reason: reason))
        if !options.allowReconnect { close() }
    }

    // MARK: Server ops

    func handle(_ op: ServerOp) throws(NATSProtocolError) -> Bool {
        switch op {
        case .msg(let m):
            deliver(m)
        case .ping:
            if handshake.stage != .idle {
                _ = withBytes("PONG\r\n") { send(handshake.fd, handshake.session, $0.baseAddress!, $0.count) }
            } else {
                lock.withLock { queueControl("PONG\r\n") }
            }
        case .pong:
            // Messages that arrived before this PONG reach their queues before whoever waits on it resumes
            // (drain ends subscriptions right after its flush).
            pushDeliveries()
            if handshake.stage == .awaitingPong {
                handshake.stage = .done
                return true
            }
            let waiter: PongWaiter? = lock.withLock {
                pingsOut = 0
                return pongWaiters.isEmpty ? nil : pongWaiters.removeFirst()
            }
            waiter?.continuation?.resume()
        case .info(let json):
            guard let info = ServerInfoMessage.parse(json) else {
                emit(.error("server sent an unreadable INFO"))
                return true
            }
            let added: [String] = lock.withLock {
                if let mp = info.maxPayload { maxPayload = mp }
                serverName = info.serverName
                return pool.add(discovered: info.connectURLs ?? [])
            }
            if !added.isEmpty { emit(.discoveredServers(added)) }
            if handshake.stage == .awaitingInfo {
                handshake.info = info
                handshake.stage = .awaitingPong
            }
        case .err(let text):
            if handshake.stage != .idle {
                handshake.error = text.string
                return false
            }
            emit(.error(text.string))
        case .ok:
            break
        }
        return true
    }

    private func deliver(_ m: Message) {
        let generation = subsGeneration.load(ordering: .acquiring)
        if generation != readerSubsGeneration {
            readerSubs = lock.withLock { subs }
            readerSubsGeneration = generation
        }
        guard let sid = parseDecimal(m.sid), let sub = readerSubs[UInt64(sid)] else { return }
        if sub.isInbox {
            routeReply(m)
            return
        }
        let n = sub.delivered.wrappingAdd(1, ordering: .relaxed).newValue
        let max = sub.maxMessages.load(ordering: .relaxed)
        if max > 0 && n > max { return }
        if sub.staged.isEmpty { touched.append(sub) }
        sub.staged.append(NATSMessage(m))
        if max > 0 && n == max {
            lock.withLock {
                if subs[sub.sid] === sub {
                    subs[sub.sid] = nil
                    subsGeneration.add(1, ordering: .releasing)
                }
            }
            sub.finishAfterPush = true
        }
    }

    /// Hands the messages staged during a read to their subscriptions' queues: one lock and at most one
    /// consumer wake-up per subscription per read.
    func pushDeliveries() {
        guard !touched.isEmpty else { return }
        for sub in touched {
            let dropped = sub.queue.push(&sub.staged)
            if dropped > 0 {
                sub.dropped.add(dropped, ordering: .relaxed)
                if reportedSlow.insert(sub.sid).inserted { emit(.slowConsumer(subject: sub.subject)) }
            }
            if sub.finishAfterPush {
                sub.finishAfterPush = false
                sub.queue.finish()
            }
        }
        touched.removeAll(keepingCapacity: true)
    }

    private func routeReply(_ m: Message) {
        let subject = m.subject.string
        guard subject.hasPrefix(inboxPrefix) else { return }
        let token = String(subject.dropFirst(inboxPrefix.count))
        guard let pending = lock.withLock({ responders.removeValue(forKey: token) }) else { return }
        let message = NATSMessage(m)
        if message.status == 503 {
            pending.continuation.resume(throwing: NATSClientError.noResponders(subject: pending.subject))
        } else {
            pending.continuation.resume(returning: message)
        }
    }

    // MARK: Writer thread

    func runWriter() {
        var local = ByteBuffer(capacity: 64 * 1024)
        while true {
            var target: Int32 = -1
            var targetSession: TLSSession?
            let proceed: Bool = lock.withLock {
                while status != .closed && (fd < 0 || outbound.isEmpty || writerBusy) {
                    writerWake.wait(timeoutNanos: 1_000_000_000)
                }
                if status == .closed { return false }
                outbound.swapContents(with: &local)
                target = fd
                targetSession = session
                writerBusy = true
                spaceFreed.broadcast()
                return true
            }
            if !proceed { break }
            let ok = send(target, targetSession, local.base, local.count)
            local.removeAll()
            local.shrink(to: 64 * 1024, ifAbove: 8 << 20)
            finishWrite(target: target, ok: ok)
        }
        lock.withLock {
            if fdToCloseAfterWrite >= 0 {
                Glibc.close(fdToCloseAfterWrite)
                fdToCloseAfterWrite = -1
            }
        }
    }
}
