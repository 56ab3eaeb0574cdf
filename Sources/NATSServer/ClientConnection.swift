#if canImport(Glibc)
import Glibc
#endif
import FoundationEssentials
import HiveLog
import HiveSystem
import NATSWire

/// One client of the embedded broker.
///
/// Owned by one event loop: everything but `out` is touched only on that loop's thread (`@unchecked
/// Sendable` rests on that rule). Other threads reach a connection only through its `Outbound` queue and by
/// posting tasks to its loop.
final class ClientConnection: ClientOpHandler, @unchecked Sendable {
    let id: UInt64
    let fd: Int32
    let loop: EventLoop
    let out: Outbound
    let remoteIP: String
    let acceptedAt: UInt64
    /// The TLS session and handshake state; nil on a plain-text connection (and always for in-process ones).
    let tls: ConnectionTLS?

    private var parser: ClientParser
    private(set) var options = ConnectOptions()
    private var connectSeen = false
    private var subs: [[UInt8]: Subscription] = [:]
    /// The principal this connection authenticated as and what it may do; nil without principals (all allowed).
    private(set) var grant: ConnectionGrant?
    var pingsOut = 0
    var lastActivity: UInt64
    var nextPingAt: UInt64
    var isClosed = false
    var epollOutArmed = false
    /// Messages and bytes published by this client in the current read batch (added to stats in bulk).
    var batchInMsgs = 0
    var batchInBytes = 0

    private var config: BrokerConfig { loop.shared.config }

    init(id: UInt64, fd: Int32, loop: EventLoop, remoteIP: String, now: UInt64, tls: ConnectionTLS? = nil) {
        self.id = id
        self.tls = tls
        self.fd = fd
        self.loop = loop
        self.remoteIP = remoteIP
        self.acceptedAt = now
        let config = loop.shared.config
        out = Outbound(fd: fd, maxPending: config.maxPending)
        parser = ClientParser(maxControlLine: config.maxControlLine, maxPayload: config.maxPayload)
        lastActivity = now
        nextPingAt = Monotonic.after(now, nanos: Monotonic.nanos(millis: min(2_000, config.pingIntervalMillis)))
    }

    /// Feeds one read to the parser. Returns the error that must close the connection, if any.
    func consume(_ data: Bytes) -> NATSProtocolError? {
        do {
            try parser.parse(data, handler: self)
            return nil
        } catch {
            return error
        }
    }

    /// Bytes the parser holds for a partial op.
    var parserHeldBytes: Int { parser.heldBytes }

    // MARK: ClientOpHandler

    func handle(_ op: ClientOp) throws(NATSProtocolError) -> Bool {
        if isClosed { return false }
        if !connectSeen && config.auth.isRequired {
            guard case .connect(let json) = op else { throw .authorizationViolation }
            try connect(json)
            return true
        }
        switch op {
        case .publish(let p):
            publish(p)
        case .subscribe(let subject, let queue, let sid):
            subscribe(subject: subject, queue: queue, sid: sid)
        case .unsubscribe(let sid, let max):
            unsubscribe(sid: sid, max: max)
        case .ping:
            send("PONG\r\n")
        case .pong:
            pingsOut = 0
        case .connect(let json):
            try connect(json)
        case .info, .ok:
            break
        }
        // An op may have closed us (slow consumer on our own queue, HPUB without headers): stop parsing.
        return !isClosed
    }

    /// True once a CONNECT has been accepted.
    var hasConnected: Bool { connectSeen }

    private func connect(_ json: Bytes) throws(NATSProtocolError) {
        let opts = try ConnectOptions.parse(json)
        if opts.namedAccount { throw .authorizationViolation }
        if opts.protocolVersion < 0 || opts.protocolVersion > 1 { throw .invalidClientProtocol }
        if opts.noResponders && !opts.headers { throw .noRespondersRequiresHeaders }
        switch config.auth {
        case .none: break
        case .token(let t):
            guard let given = opts.authToken, constantTimeEqual(given, t) else { throw .authorizationViolation }
        case .userPassword(let u, let p):
            guard let gu = opts.user, let gp = opts.pass, constantTimeEqual(gu, u), constantTimeEqual(gp, p) else {
                throw .authorizationViolation
            }
        case .principals:
            // A verified client certificate (mutual TLS) is a credential too: CONNECT then carries none.
            guard let entry = loop.shared.principals?.authenticate(token: opts.authToken, user: opts.user,
                                                                    password: opts.pass, certificate: tls?.peerIdentity)
            else { throw .authorizationViolation }
            grant = ConnectionGrant(entry, maxResponsePermits: config.maxResponsePermits)
        }
        options = opts
        connectSeen = true
        if options.verbose { send("+OK\r\n") }
    }

    private func subscribe(subject: Bytes, queue: Bytes?, sid: Bytes) {
        guard Subject.isValidSubscription(subject), queue.map({ !$0.isEmpty }) ?? true else {
            send(NATSSoftError.invalidSubject)
            return
        }
        if let grant, !grant.permissions.subscribeAllowed(subject) {
            send(NATSSoftError.subscriptionViolation(subject, queue: queue))
            reportViolation("subscribe", subject)
            return
        }
        let key = Array(sid)
        if let existing = subs[key], !existing.isRetired {
            // nats-server ignores a duplicate sid on the same connection; the first subscription stays.
            if options.verbose { send("+OK\r\n") }
            return
        }
        if config.maxSubscriptions > 0 && activeSubscriptionCount() >= config.maxSubscriptions {
            send(NATSSoftError.maxSubscriptionsExceeded)
            return
        }
        let sub = Subscription(connection: self, subject: Array(subject), queue: queue.map { Array($0) },
                               sid: key, wantsHeaders: options.headers,
                               denyFilter: grant.flatMap { $0.permissions.needsDeliveryFilter(subject) ? $0.permissions : nil },
                               responsePermits: grant?.responses)
        subs[key] = sub
        loop.shared.index.insert(subject, queue: queue, sub)
        if options.verbose { send("+OK\r\n") }
    }

    private func activeSubscriptionCount() -> Int {
        subs = subs.filter { !$0.value.isRetired }
        return subs.count
    }

    private func unsubscribe(sid: Bytes, max: Int?) {
        let key = Array(sid)
        if let sub = subs[key] {
            if let max, max > 0, max > sub.delivered.load(ordering: .relaxed) {
                sub.maxMessages.store(max, ordering: .relaxed)
                // A delivery may have raced past the new max between the check and the store.
                if sub.delivered.load(ordering: .relaxed) >= max { retire(sub) }
            } else {
                retire(sub)
            }
        }
        if options.verbose { send("+OK\r\n") }
    }

    private func retire(_ sub: Subscription) {
        sub.retire(from: loop.shared.index)
        subs[sub.sid] = nil
    }

    // MARK: Routing

    private func publish(_ p: Publish) {
        batchInMsgs += 1
        batchInBytes += p.payload.count
        if p.headerLength != nil && !options.headers {
            // Reported like nats-server's silent close, but with an -ERR so the client learns why.
            loop.close(self, .protocolError(.protocolViolation("HPUB without headers negotiated in CONNECT")))
            return
        }
        // Only valid literal subjects ever enter the cache, so a hit needs no validation.
        let cached = loop.shared.index.cachedMatch(p.subject, cache: &loop.matchCache)
        if cached == nil && !Subject.isValidLiteral(p.subject) {
            // Deliberate deviation: nats-server routes a PUB to a wildcard subject as a literal; Hive refuses it.
            send(NATSSoftError.invalidPublishSubject)
            return
        }
        if let grant, !grant.mayPublish(p.subject) {
            send(NATSSoftError.publishViolation(p.subject))
            reportViolation("publish", p.subject)
            return
        }
        // nats-server acknowledges before routing: +OK precedes any copy delivered back to this connection.
        if options.verbose { send("+OK\r\n") }
        let match = cached ?? loop.shared.index.match(p.subject, cache: &loop.matchCache)
        var delivered = false
        for sub in match.plain where deliver(p, to: sub) { delivered = true }
        for group in match.groups {
            let n = group.count
            let start = n == 1 ? 0 : Int(loop.random() % UInt64(n))
            for k in 0..<n {
                var idx = start + k
                if idx >= n { idx -= n }
                if deliver(p, to: group[idx]) {
                    delivered = true
                    break
                }
            }
        }
        if !delivered, let reply = p.reply, options.noResponders { sendNoResponders(reply) }
    }

    /// Queues `p` for `sub`. False when the subscription could not take it (echo off, retired, at max, closed).
    @inline(__always)
    private func deliver(_ p: Publish, to sub: Subscription) -> Bool {
        let target = sub.connection
        if target === self && !options.echo { return false }
        if let filter = sub.denyFilter, filter.deliveryDenied(p.subject) { return false }
        let claim = sub.claimDelivery()
        guard claim.ok else { return false }
        let result: Outbound.Enqueued
        let maxSize = p.subject.count + sub.sid.count + (p.reply?.count ?? 0) + p.payload.count + 48
        if let hdr = p.headerLength {
            if sub.wantsHeaders {
                result = sub.sid.withUnsafeBytes { sid in
                    target.out.enqueue(maxSize: maxSize) {
                        $0.appendHMSG(subject: p.subject, sid: sid, reply: p.reply, headerSizeText: p.headerSizeText!,
                                      totalSizeText: p.totalSizeText, payload: p.payload)
                    }
                }
            } else {
                let body = p.payload.slice(hdr, p.payload.count)
                result = sub.sid.withUnsafeBytes { sid in
                    target.out.enqueue(maxSize: maxSize) {
                        $0.appendMSG(subject: p.subject, sid: sid, reply: p.reply, payload: body)
                    }
                }
            }
        } else {
            result = sub.sid.withUnsafeBytes { sid in
                target.out.enqueue(maxSize: maxSize) {
                    $0.appendMSG(subject: p.subject, sid: sid, reply: p.reply, sizeText: p.totalSizeText,
                                 payload: p.payload)
                }
            }
        }
        if let permits = sub.responsePermits, let reply = p.reply {
            switch result {
            case .needsFlush, .queued, .flushNow: permits.record(reply, now: Monotonic.now())
            case .closed, .slowConsumer: break
            }
        }
        if claim.reachedMax {
            // The max-th message is still delivered (queued above); later ones are not.
            sub.retire(from: loop.shared.index)
            target.loop.post { target.autoUnsubscribed(sub) }
        }
        switch result {
        case .needsFlush:
            loop.scheduleFlush(target)
            loop.batchOutMsgs += 1
            return true
        case .queued:
            loop.batchOutMsgs += 1
            return true
        case .flushNow:
            loop.batchOutMsgs += 1
            loop.flush(target)
            return true
        case .closed:
            return false
        case .slowConsumer:
            target.loop.post { target.loop.close(target, .slowConsumerPending) }
            return false
        }
    }

    /// Drops the sid of a subscription that reached its UNSUB max (runs on this connection's loop).
    func autoUnsubscribed(_ sub: Subscription) {
        if subs[sub.sid] === sub { subs[sub.sid] = nil }
    }

    /// The 503 status message for a request nobody received, sent to the publisher's own non-queue
    /// subscription that matches the reply subject (nats-server's exact rule).
    private func sendNoResponders(_ reply: Bytes) {
        guard let sub = subs.values.first(where: { s in
            s.queue == nil && !s.isRetired && s.subject.withUnsafeBytes { Subject.matches(pattern: $0, literal: reply) }
        }) else { return }
        let header = NoResponders.headerBlock
        let hdr = UnsafeRawBufferPointer(start: header.utf8Start, count: header.utf8CodeUnitCount)
        let result = sub.sid.withUnsafeBytes { sid in
            out.enqueue(maxSize: reply.count + sid.count + 48) { b in
                withBytes("16") { sixteen in
                    b.appendHMSG(subject: reply, sid: sid, reply: nil, headerSizeText: sixteen, totalSizeText: sixteen,
                                 payload: hdr)
                }
            }
        }
        switch result {
        case .needsFlush: loop.scheduleFlush(self)
        case .flushNow: loop.flush(self)
        case .queued, .closed, .slowConsumer: break
        }
    }

    /// Logs a refused PUB or SUB at warn, at most one line a second for the whole broker.
    private func reportViolation(_ op: String, _ subject: Bytes) {
        if let suppressed = loop.shared.permissionViolations.admit(now: Monotonic.now()) {
            loop.log.warn("permission_violation", ["principal": grant?.principal.name ?? "", "op": op,
                                                   "subject": subject.string, "cid": id, "ip": remoteIP,
                                                   "suppressed": suppressed])
        }
    }

    // MARK: Output

    /// Queues a control line for this client and makes sure it gets flushed.
    func send(_ text: String) {
        switch out.enqueue(text) {
        case .needsFlush: loop.scheduleFlush(self)
        case .flushNow: loop.flush(self)
        case .queued, .closed: break
        case .slowConsumer: loop.close(self, .slowConsumerPending)
        }
    }

    /// Retires every subscription (connection closing).
    func retireAll() {
        for sub in subs.values { sub.retire(from: loop.shared.index) }
        subs.removeAll()
    }

    var subscriptionCount: Int { subs.count }
}
