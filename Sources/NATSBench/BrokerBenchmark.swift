#if canImport(Glibc)
import Glibc
#endif
import HiveTLS
import NATSWire
import HiveSystem
import Synchronization

/// The broker benchmark behind `hive bench`: the same scenarios nats-server's own bench tool reports,
/// measured with raw sockets so the broker, not the client, is what is timed.
public struct BrokerBenchmark {
    public var url: String
    public var messages: Int
    public var payloadSize: Int
    public var requests: Int
    /// The CA that signed the broker's certificate: every connection then uses TLS (a `tls://` URL alone does
    /// too, verifying with the system's CAs).
    public var tlsCA: String?
    var tls: TLSFiles? { tlsCA.map { TLSFiles(ca: $0) } }

    public init(url: String, messages: Int = 1_000_000, payloadSize: Int = 128, requests: Int = 20_000) {
        self.url = url
        self.messages = messages
        self.payloadSize = payloadSize
        self.requests = requests
    }

    /// One scenario's outcome.
    public struct Result: Sendable {
        public var name: String
        /// Messages per second (delivered messages for fan-out and queue scenarios).
        public var rate: Double?
        /// Request/reply latency percentiles in microseconds.
        public var p50: Double?
        public var p99: Double?
        public var seconds: Double

        public init(name: String, rate: Double? = nil, p50: Double? = nil, p99: Double? = nil, seconds: Double) {
            self.name = name
            self.rate = rate
            self.p50 = p50
            self.p99 = p99
            self.seconds = seconds
        }
    }

    /// A buffer of `count` identical PUB frames, written in one `send` per chunk.
    func pubChunk(subject: String, count: Int) -> [UInt8] {
        var buf = ByteBuffer(capacity: count * (payloadSize + 32))
        let payload = [UInt8](repeating: 120, count: payloadSize)
        payload.withUnsafeBytes { p in
            withBytes(subject) { s in
                for _ in 0..<count { buf.appendPUB(subject: s, reply: nil, payload: p) }
            }
        }
        return buf.array
    }

    /// Publish-only: how fast one raw socket writer can push PUBs through the broker with nobody listening.
    public func publishOnly() throws(BenchError) -> Result {
        let pub = try BenchSocket(url: url, name: "bench-pub", tls: tls)
        let chunkCount = 1000
        let chunk = pubChunk(subject: "bench.nobody", count: chunkCount)
        let start = Monotonic.seconds()
        var sent = 0
        while sent < messages {
            try pub.write(chunk)
            sent += chunkCount
        }
        try pub.flushRoundTrip()
        let t = Monotonic.seconds() - start
        return Result(name: "pub_only", rate: Double(sent) / t, seconds: t)
    }

    /// One publisher, `subscribers` subscriber connections (plain, or one queue group), messages counted at
    /// the subscribers. The publisher keeps at most a window of undelivered messages in flight, so neither
    /// broker is pushed into slow-consumer territory and both are measured at their sustained rate.
    public func fanOut(name: String, subscribers: Int, queue: Bool) throws(BenchError) -> Result {
        let subject = "bench.\(name)"
        var subs: [BenchSocket] = []
        for i in 0..<subscribers {
            let s = try BenchSocket(url: url, name: "bench-sub-\(i)", tls: tls)
            try s.write(queue ? "SUB \(subject) q \(i + 1)\r\n" : "SUB \(subject) \(i + 1)\r\n")
            try s.flushRoundTrip()
            subs.append(s)
        }
        let pub = try BenchSocket(url: url, name: "bench-pub", tls: tls)
        let perMessage = queue ? 1 : subscribers
        let expected = messages * perMessage
        let state = RunState()
        let receiver = SubscriberReader(sockets: subs, expected: expected, state: state)
        let chunkCount = 500
        let chunk = pubChunk(subject: subject, count: chunkCount)
        let window = 200_000
        let start = Monotonic.seconds()
        let thread = OSThread(name: "bench-sub") { receiver.loop() }
        var sent = 0
        while sent < messages {
            while (sent * perMessage - state.received.load(ordering: .relaxed)) > window * perMessage {
                if state.failed { break }
                sched_yield()
            }
            if let e = state.failure.withLock({ $0 }) {
                state.stop.store(true, ordering: .relaxed)
                thread.join()
                throw e
            }
            try pub.write(chunk)
            sent += chunkCount
        }
        thread.join()
        if let e = state.failure.withLock({ $0 }) { throw e }
        let t = Monotonic.seconds() - start
        return Result(name: name, rate: Double(expected) / t, seconds: t)
    }

    /// Request/reply round trips, one at a time, through a responder connection.
    public func requestReply() throws(BenchError) -> Result {
        let responder = try BenchSocket(url: url, name: "bench-responder", tls: tls)
        try responder.write("SUB bench.rpc 1\r\n")
        try responder.flushRoundTrip()
        let state = RunState()
        let echo = Responder(socket: responder, state: state)
        let responderThread = OSThread(name: "bench-rpc") { echo.loop() }
        let requester = try BenchSocket(url: url, name: "bench-requester", tls: tls)
        try requester.write("SUB _INBOX.bench.* 1\r\n")
        try requester.flushRoundTrip()
        let payload = String(repeating: "x", count: payloadSize)
        var latencies: [Double] = []
        latencies.reserveCapacity(requests)
        let waiter = ReplyWaiter()
        let buf = UnsafeMutableRawBufferPointer.allocate(byteCount: 64 * 1024, alignment: 8)
        defer { buf.deallocate() }
        let start = Monotonic.seconds()
        for i in 0..<requests {
            let t0 = Monotonic.seconds()
            try requester.write("PUB bench.rpc _INBOX.bench.\(i) \(payloadSize)\r\n\(payload)\r\n")
            waiter.replies = 0
            while waiter.replies == 0 {
                guard try requester.readOnce(buf, waiter) else { throw .io("server closed the requester") }
            }
            latencies.append((Monotonic.seconds() - t0) * 1e6)
        }
        let t = Monotonic.seconds() - start
        state.stop.store(true, ordering: .relaxed)
        try requester.write("PUB bench.rpc 0\r\n\r\n")  // wakes the responder so it sees `stop`
        responderThread.join()
        latencies.sort()
        return Result(name: "req_reply", rate: Double(requests) / t,
                      p50: latencies[latencies.count / 2], p99: latencies[min(latencies.count - 1, latencies.count * 99 / 100)],
                      seconds: t)
    }

    /// Every scenario, in the order `make bench` reports them.
    public func runAll() throws(BenchError) -> [Result] {
        [try publishOnly(),
         try fanOut(name: "pubsub_1to1", subscribers: 1, queue: false),
         try fanOut(name: "fanout_1to8", subscribers: 8, queue: false),
         try fanOut(name: "queue_1to4", subscribers: 4, queue: true),
         try requestReply()]
    }
}


/// State shared between the benchmark's threads.
final class RunState: Sendable {
    let received = Atomic<Int>(0)
    let stop = Atomic<Bool>(false)
    let failure = Mutex<BenchError?>(nil)
    var failed: Bool { failure.withLock { $0 != nil } }
    func fail(_ e: BenchError) { failure.withLock { if $0 == nil { $0 = e } } }
}

/// Reads every subscriber socket from one thread (poll), counting MSGs until `expected` arrived.
final class SubscriberReader: ServerOpHandler, @unchecked Sendable {
    let sockets: [BenchSocket]
    let expected: Int
    let state: RunState
    private var local = 0

    init(sockets: [BenchSocket], expected: Int, state: RunState) {
        self.sockets = sockets
        self.expected = expected
        self.state = state
    }

    func handle(_ op: ServerOp) throws(NATSProtocolError) -> Bool {
        switch op {
        case .msg: local += 1
        case .err(let t): state.fail(.protocolError("server said -ERR '\(t.string)'"))
        default: break
        }
        return true
    }

    func loop() {
        var fds = sockets.map { pollfd(fd: $0.fd, events: Int16(POLLIN), revents: 0) }
        let buf = UnsafeMutableRawBufferPointer.allocate(byteCount: 256 * 1024, alignment: 8)
        defer { buf.deallocate() }
        var total = 0
        let deadline = Monotonic.seconds() + 120
        while total < expected && !state.stop.load(ordering: .relaxed) {
            if Monotonic.seconds() > deadline {
                state.fail(.timeout("received \(total) of \(expected) messages"))
                return
            }
            // Over TLS, bytes already inside OpenSSL do not make a socket readable: no waiting while any has some.
            let buffered = sockets.contains { $0.hasBufferedInput }
            let n = poll(&fds, nfds_t(fds.count), buffered ? 0 : 100)
            if n <= 0 && !buffered { continue }
            for i in fds.indices where fds[i].revents != 0 || sockets[i].hasBufferedInput {
                local = 0
                do {
                    guard try sockets[i].readOnce(buf, self) else {
                        state.fail(.io("server closed subscriber \(i) (slow consumer?)"))
                        return
                    }
                } catch {
                    state.fail(error)
                    return
                }
                total += local
                state.received.add(local, ordering: .relaxed)
            }
        }
    }
}

/// Answers every request with an empty-bodied copy of its payload size.
final class Responder: ServerOpHandler, @unchecked Sendable {
    let socket: BenchSocket
    let state: RunState
    private var out = ByteBuffer(capacity: 64 * 1024)

    init(socket: BenchSocket, state: RunState) {
        self.socket = socket
        self.state = state
    }

    func handle(_ op: ServerOp) throws(NATSProtocolError) -> Bool {
        if case .msg(let m) = op, let reply = m.reply {
            out.appendPUB(subject: reply, reply: nil, payload: m.payload)
        }
        return true
    }

    func loop() {
        let buf = UnsafeMutableRawBufferPointer.allocate(byteCount: 64 * 1024, alignment: 8)
        defer { buf.deallocate() }
        while !state.stop.load(ordering: .relaxed) {
            do {
                guard try socket.readOnce(buf, self) else { return }
                if !out.isEmpty {
                    try socket.write(Array(out.bytes))
                    out.removeAll()
                }
            } catch {
                state.fail(error)
                return
            }
        }
    }
}

/// Counts replies on the requester's inbox.
final class ReplyWaiter: ServerOpHandler {
    var replies = 0
    func handle(_ op: ServerOp) throws(NATSProtocolError) -> Bool {
        if case .msg = op { replies += 1 }
        return true
    }
}
