#if canImport(Glibc)
import Glibc
#endif
import CEpoll
import HiveCollections
import HiveLog
import HiveSystem
import NATSWire

/// One epoll thread serving a share of the broker's connections.
///
/// Each iteration: wait for events, read and parse every readable connection (routing what they publish into
/// subscribers' outbound queues on any loop), then flush every queue this iteration touched, one `send` per
/// connection per iteration however many messages went into it. Periodic work (auth timeouts, PINGs, write
/// deadlines) runs from a 100 ms tick. Everything here except `post` runs on the loop's own thread.
final class EventLoop: @unchecked Sendable {
    static let wakeToken: UInt64 = 0
    static let listenerToken: UInt64 = 1
    static let readBufferSize = 256 * 1024
    static let tickNanos: UInt64 = 100_000_000

    let index: Int
    let shared: SharedBrokerState
    private let epfd: Int32
    private let wakeFD: Int32
    private let inboxLock = PosixLock()
    private var inbox: [@Sendable () -> Void] = []
    let log = Log("broker")

    private var connections: [UInt64: ClientConnection] = [:]
    /// Connections the tick looks at each time: not yet past the TLS handshake or CONNECT (their timeouts), or with
    /// output waiting on a full socket (the write deadline). The others need only their ping, which `pings` holds
    /// in order: the tick costs what is due, not the number of connections (10,000 drones are 10,000 connections).
    private var watched: [UInt64: ClientConnection] = [:]
    /// Each connection's `nextPingAt`, earliest first (an entry whose connection closed or moved on is skipped).
    private var pings = DeadlineHeap<UInt64, UInt64>()
    private var flushList: [ClientConnection] = []
    /// TLS connections with bytes waiting inside OpenSSL that epoll cannot see (see `EventLoop+TLS`); while it is
    /// not empty the loop polls epoll without waiting and reads these again.
    var readAgain: [ClientConnection] = []
    let readBuffer: UnsafeMutableRawPointer
    private var rngState: UInt64
    private var stopping = false
    private(set) var now: UInt64 = Monotonic.now()
    private var nextTick: UInt64 = 0
    private var thread: OSThread?

    /// Loop-local cache in front of the shared subject index.
    var matchCache = MatchCache<Subscription>()
    /// Deliveries queued in the current iteration (added to stats in bulk).
    var batchOutMsgs = 0

    /// Set on the accepting loop before it starts.
    var listener: ListeningSocket?
    var acceptTargets: [EventLoop] = []
    private var nextTarget = 0
    private var acceptPausedUntil: UInt64 = 0

    init(index: Int, shared: SharedBrokerState) throws(SystemError) {
        self.index = index
        self.shared = shared
        epfd = try Syscall.check("epoll_create1", hive_epoll_create())
        wakeFD = try Syscall.check("eventfd", hive_eventfd())
        readBuffer = UnsafeMutableRawPointer.allocate(byteCount: Self.readBufferSize, alignment: 16)
        var seed = SystemRandomNumberGenerator()
        rngState = seed.next() | 1
        _ = hive_epoll_ctl(epfd, HIVE_EPOLL_CTL_ADD, wakeFD, HIVE_EPOLLIN, Self.wakeToken)
    }

    deinit {
        readBuffer.deallocate()
        Glibc.close(epfd)
        Glibc.close(wakeFD)
    }

    func start() {
        if let listener {
            _ = hive_epoll_ctl(epfd, HIVE_EPOLL_CTL_ADD, listener.fd, HIVE_EPOLLIN, Self.listenerToken)
        }
        thread = OSThread(name: "hive-loop-\(index)") { [self] in run() }
    }

    /// Runs `task` on this loop's thread soon. Safe from any thread.
    func post(_ task: @escaping @Sendable () -> Void) {
        inboxLock.withLock { inbox.append(task) }
        var one: UInt64 = 1
        _ = write(wakeFD, &one, 8)
    }

    /// Asks the loop to close everything and exit, then waits for its thread.
    func stopAndJoin() {
        post { [self] in stopping = true }
        thread?.join()
    }

    /// xorshift64*: queue-group member choice needs speed, not cryptography.
    @inline(__always)
    func random() -> UInt64 {
        rngState ^= rngState >> 12
        rngState ^= rngState << 25
        rngState ^= rngState >> 27
        return rngState &* 2_685_821_657_736_338_717
    }

    @inline(__always)
    func scheduleFlush(_ c: ClientConnection) { flushList.append(c) }

    // MARK: The loop

    private func run() {
        var datas = [UInt64](repeating: 0, count: 256)
        var events = [UInt32](repeating: 0, count: 256)
        nextTick = Monotonic.after(Monotonic.now(), nanos: Self.tickNanos)
        while !stopping {
            let waitMillis = readAgain.isEmpty ? Monotonic.waitMillis(until: nextTick, now: Monotonic.now(), cap: 1_000) : 0
            let n = datas.withUnsafeMutableBufferPointer { d in
                events.withUnsafeMutableBufferPointer { e in
                    hive_epoll_wait(epfd, d.baseAddress, e.baseAddress, 256, waitMillis)
                }
            }
            now = Monotonic.now()
            if n > 0 {
                for i in 0..<Int(n) {
                    switch datas[i] {
                    case Self.wakeToken: runInbox()
                    case Self.listenerToken: acceptClients()
                    default: connectionEvent(datas[i], events[i])
                    }
                }
            }
            if !readAgain.isEmpty { readAgainAll() }
            flushAll()
            if now >= nextTick {
                tick()
                nextTick = Monotonic.after(now, nanos: Self.tickNanos)
            }
        }
        for c in Array(connections.values) { close(c, .serverShutdown) }
        flushList.removeAll()
        readAgain.removeAll()
        if let listener { Glibc.close(listener.fd) }
    }

    private func runInbox() {
        var counter: UInt64 = 0
        _ = read(wakeFD, &counter, 8)
        let tasks = inboxLock.withLock { () -> [@Sendable () -> Void] in
            let t = inbox
            inbox.removeAll(keepingCapacity: true)
            return t
        }
        for t in tasks { t() }
    }

    private func connectionEvent(_ id: UInt64, _ ev: UInt32) {
        guard let c = connections[id] else { return }
        if ev & (HIVE_EPOLLIN | HIVE_EPOLLERR | HIVE_EPOLLHUP | HIVE_EPOLLRDHUP) != 0 { readFrom(c) }
        if !c.isClosed && ev & HIVE_EPOLLOUT != 0 {
            if let tls = c.tls, tls.waitingWritable {
                // The handshake or a read wanted to write: resume it now that the socket takes bytes.
                tls.waitingWritable = false
                readFrom(c)
                if c.isClosed { return }
            }
            switch c.out.flush(now: now) {
            case .drained:
                if c.tls?.waitingWritable == true { break }
                c.epollOutArmed = false
                _ = hive_epoll_ctl(epfd, HIVE_EPOLL_CTL_MOD, c.fd, HIVE_EPOLLIN | HIVE_EPOLLRDHUP, c.id)
            case .wouldBlock, .busy, .closed: break
            case .failed(let e): close(c, .writeError(e))
            }
        }
    }

    func readFrom(_ c: ClientConnection) {
        var rounds = 0
        defer {
            if c.batchInMsgs > 0 {
                shared.stats.inMsgs.add(c.batchInMsgs, ordering: .relaxed)
                shared.stats.inBytes.add(c.batchInBytes, ordering: .relaxed)
                c.batchInMsgs = 0
                c.batchInBytes = 0
            }
        }
        if let tls = c.tls {
            readTLS(c, tls)
            return
        }
        while rounds < 16 && !c.isClosed {
            rounds += 1
            switch Syscall.read(c.fd, readBuffer, Self.readBufferSize) {
            case .bytes(let n):
                c.lastActivity = now
                if let error = c.consume(UnsafeRawBufferPointer(start: readBuffer, count: n)) {
                    close(c, .protocolError(error))
                    return
                }
                if n < Self.readBufferSize { return }
            case .wouldBlock: return
            case .eof:
                close(c, .clientClosed)
                return
            case .failed(let e):
                close(c, .readError(e))
                return
            }
        }
    }

    private func flushAll() {
        if batchOutMsgs > 0 {
            shared.stats.outMsgs.add(batchOutMsgs, ordering: .relaxed)
            batchOutMsgs = 0
        }
        guard !flushList.isEmpty else { return }
        // Connections scheduled by this iteration; flushing may schedule no more, but copy defensively.
        let list = flushList
        flushList.removeAll(keepingCapacity: true)
        for c in list { flush(c) }
    }

    /// Writes `c`'s queue from this thread; if the socket is full, has `c`'s own loop watch for EPOLLOUT.
    /// A TLS connection is written by its own loop only: from another loop the flush is posted there.
    func flush(_ c: ClientConnection) {
        if c.tls != nil && c.loop !== self {
            postFlush(c)
            return
        }
        switch c.out.flush(now: now) {
        case .drained, .busy, .closed: break
        case .wouldBlock:
            if c.loop === self { armOutput(c) } else { c.loop.post { c.loop.armOutput(c) } }
        case .failed(let e):
            if c.loop === self { close(c, .writeError(e)) } else { c.loop.post { c.loop.close(c, .writeError(e)) } }
        }
    }

    /// Asks epoll to report when `c`'s socket can take more bytes.
    func armOutput(_ c: ClientConnection) {
        guard !c.isClosed else { return }
        // Every blocked episode passes here (its first refusal asks for EPOLLOUT): the tick watches its deadline.
        watched[c.id] = c
        guard !c.epollOutArmed else { return }
        c.epollOutArmed = true
        _ = hive_epoll_ctl(epfd, HIVE_EPOLL_CTL_MOD, c.fd, HIVE_EPOLLIN | HIVE_EPOLLOUT | HIVE_EPOLLRDHUP, c.id)
    }

    // MARK: Accept

    private func acceptClients() {
        guard let listener else { return }
        while true {
            var addr = sockaddr_storage()
            var len = socklen_t(MemoryLayout<sockaddr_storage>.size)
            let fd = withUnsafeMutablePointer(to: &addr) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    accept(listener.fd, $0, &len)
                }
            }
            if fd < 0 {
                let e = hive_errno()
                if e == EINTR || e == ECONNABORTED { continue }
                if e == EMFILE || e == ENFILE || e == ENOBUFS || e == ENOMEM {
                    // Out of descriptors: stop accepting for a moment instead of spinning on a ready listener.
                    log.warn("accept_paused", ["errno": e, "reason": String(cString: strerror(e))])
                    _ = hive_epoll_ctl(epfd, HIVE_EPOLL_CTL_DEL, listener.fd, 0, Self.listenerToken)
                    acceptPausedUntil = Monotonic.after(now, nanos: 100_000_000)
                }
                return
            }
            if shared.stats.connections.load(ordering: .relaxed) >= shared.config.maxConnections {
                let line = NATSProtocolError.maxConnectionsExceeded.wireLine!
                withBytes(line) { _ = Syscall.write(fd, $0.baseAddress!, $0.count) }
                Glibc.close(fd)
                log.warn("connection_refused", ["reason": "max_connections", "limit": shared.config.maxConnections])
                continue
            }
            Syscall.setNonBlocking(fd)
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
            Syscall.setNoDelay(fd)
            let ip = ListeningSocket.numericHost(of: addr, length: len)
            let target = acceptTargets[nextTarget % acceptTargets.count]
            nextTarget &+= 1
            let id = shared.newConnectionID()
            shared.stats.connections.add(1, ordering: .relaxed)
            shared.stats.totalConnections.add(1, ordering: .relaxed)
            if target === self { adopt(fd: fd, id: id, ip: ip) } else { target.post { target.adopt(fd: fd, id: id, ip: ip) } }
        }
    }

    /// Takes ownership of an accepted socket: registers it and sends INFO. On a TLS port the connection gets a
    /// session from the identity's current context (a reload applies to connections accepted after it) and the
    /// handshake starts when the client's first bytes arrive. An `inProcess` connection (a socket pair from
    /// `Broker.connectInProcess`) never uses TLS.
    func adopt(fd: Int32, id: UInt64, ip: String, inProcess: Bool = false) {
        var tls: ConnectionTLS?
        if !inProcess, let config = shared.config.tls {
            do {
                tls = ConnectionTLS(session: try config.identity.context.session(fd: fd, peer: ip))
            } catch {
                reportHandshakeFailure(id: id, ip: ip, error.description)
                Glibc.close(fd)
                shared.stats.connections.subtract(1, ordering: .relaxed)
                return
            }
        }
        let c = ClientConnection(id: id, fd: fd, loop: self, remoteIP: ip, now: Monotonic.now(), tls: tls)
        if stopping {
            c.isClosed = true
            c.out.closeAndRelease()
            shared.stats.connections.subtract(1, ordering: .relaxed)
            return
        }
        connections[id] = c
        watched[id] = c
        pings.push(c.nextPingAt, id)
        _ = hive_epoll_ctl(epfd, HIVE_EPOLL_CTL_ADD, fd, HIVE_EPOLLIN | HIVE_EPOLLRDHUP, id)
        c.send(shared.info(clientID: id, clientIP: ip, tls: tls != nil))
        if Log.enabled(.debug) { log.debug("client_connected", ["cid": id, "ip": ip, "loop": index]) }
    }

    // MARK: Close

    /// Ends a connection: sends its `-ERR` if the reason has one, retires its subscriptions, closes the fd.
    func close(_ c: ClientConnection, _ reason: CloseReason) {
        guard !c.isClosed else { return }
        c.isClosed = true
        // Mid-handshake nothing may be written: plain text would corrupt the client's TLS stream, and there are
        // no keys to encrypt with yet.
        let mayWrite = c.tls?.handshaking != true
        if case .protocolError(let e) = reason {
            shared.stats.protocolErrors.add(1, ordering: .relaxed)
            if mayWrite, let line = e.wireLine {
                _ = c.out.enqueue(line)
                c.out.finalWrite()
            }
        }
        if let why = reason.tlsHandshakeFailure { reportHandshakeFailure(id: c.id, ip: c.remoteIP, why) }
        if case .principalRevoked = reason {
            // nats-server's answer to a client whose user a reload removed.
            _ = c.out.enqueue(NATSProtocolError.authorizationViolation.wireLine!)
            c.out.finalWrite()
            log.warn("principal_revoked", ["cid": c.id, "ip": c.remoteIP, "principal": c.grant?.principal.name ?? ""])
        }
        if reason.isAuthRefusal, let suppressed = shared.authRefusals.admit(now: now) {
            log.warn("auth_refused", ["cid": c.id, "ip": c.remoteIP, "reason": reason.logName,
                                     "suppressed": suppressed])
        }
        if reason.isSlowConsumer {
            shared.stats.slowConsumers.add(1, ordering: .relaxed)
            log.warn("slow_consumer", ["cid": c.id, "ip": c.remoteIP, "reason": reason.logName,
                                      "pending_bytes": c.out.pendingBytes])
        } else if Log.enabled(.debug) {
            log.debug("client_closed", ["cid": c.id, "ip": c.remoteIP, "reason": reason.logName])
        }
        c.retireAll()
        connections[c.id] = nil
        watched[c.id] = nil
        if let tls = c.tls, tls.readAgainQueued { readAgain.removeAll { $0 === c } }
        _ = hive_epoll_ctl(epfd, HIVE_EPOLL_CTL_DEL, c.fd, 0, c.id)
        c.out.closeAndRelease()
        shared.stats.connections.subtract(1, ordering: .relaxed)
    }

    /// Closes every connection whose principal is no longer in `directory` as it was: removed, or with another
    /// credential or other permissions (a reconnect then gets the new ones). Runs on this loop's thread.
    func revalidatePrincipals(_ directory: PrincipalDirectory) {
        for c in Array(connections.values) {
            guard let grant = c.grant else { continue }
            if let now = directory.entry(named: grant.principal.name)?.principal, now == grant.principal { continue }
            close(c, .principalRevoked)
        }
        flushAll()
    }

    // MARK: Timers

    private func tick() {
        let config = shared.config
        if acceptPausedUntil != 0 && now >= acceptPausedUntil, let listener {
            acceptPausedUntil = 0
            _ = hive_epoll_ctl(epfd, HIVE_EPOLL_CTL_ADD, listener.fd, HIVE_EPOLLIN, Self.listenerToken)
        }
        // As nats-server does, a TLS timeout longer than the auth timeout extends it (CONNECT follows the handshake).
        let handshakeTimeout = Monotonic.nanos(millis: config.tls?.handshakeTimeoutMillis ?? 0)
        let authTimeout = max(Monotonic.nanos(millis: config.authTimeoutMillis), handshakeTimeout)
        let writeDeadline = Monotonic.nanos(millis: config.writeDeadlineMillis)
        let pingInterval = Monotonic.nanos(millis: config.pingIntervalMillis)
        for c in Array(watched.values) {
            if let tls = c.tls, tls.handshaking {
                // Counted from the accept; nothing else applies (and nothing may be sent) until it is done.
                if Monotonic.elapsed(from: c.acceptedAt, to: now) >= handshakeTimeout {
                    let seconds = Double(config.tls?.handshakeTimeoutMillis ?? 0) / 1000
                    close(c, .tlsHandshakeFailed(.handshakeTimedOut(peer: c.remoteIP, seconds: seconds)))
                }
                continue
            }
            if config.auth.isRequired && !c.hasConnected && Monotonic.elapsed(from: c.acceptedAt, to: now) >= authTimeout {
                close(c, .protocolError(.authenticationTimeout))
                continue
            }
            let blocked = c.out.blockedSince
            if blocked != 0 && Monotonic.elapsed(from: blocked, to: now) >= writeDeadline {
                c.out.stopOutput()
                close(c, .slowConsumerWriteDeadline)
                continue
            }
            // Connected, nothing waiting: only its ping is left to time (armOutput watches it again if it blocks).
            if c.hasConnected && blocked == 0 && !c.epollOutArmed { watched[c.id] = nil }
        }
        var handshaking: [DeadlineHeap<UInt64, UInt64>.Entry] = []
        while let e = pings.popDue(before: now &+ 1) {
            guard let c = connections[e.key], c.nextPingAt == e.deadline else { continue }
            // No ping before the handshake is done: due again as soon as it is.
            if let tls = c.tls, tls.handshaking {
                handshaking.append(e)
                continue
            }
            c.nextPingAt = Monotonic.after(now, nanos: pingInterval)
            pings.push(c.nextPingAt, c.id)
            if c.pingsOut + 1 > config.pingMax {
                close(c, .protocolError(.staleConnection))
                continue
            }
            if Monotonic.elapsed(from: c.lastActivity, to: now) < pingInterval { continue }
            c.pingsOut += 1
            c.send("PING\r\n")
        }
        for e in handshaking { pings.push(e.deadline, e.key) }
        // Entries of connections closed before their ping pile up under churn: swept when they outnumber the rest.
        if pings.count > 2 * connections.count + 1_024 { pings.removeAll { connections[$0.key] == nil } }
    }
}
