#if canImport(Glibc)
import Glibc
#endif
import CEpoll
import FoundationEssentials
import HiveCore
import HiveJSON
import HiveSystem
import NATSWire

/// Many simulated drones in one process, each its own NATS connection speaking the real drone protocol
/// (`DroneProtocol.swift`): hello on connect, a heartbeat every interval honeycombd asked for, an instant result
/// for every assignment. They load honeycombd as that many real drones would, without a process (and two client
/// threads) each: one thread and one epoll set serve them all (`hive bench-control --mode swarm`).
///
/// Serves `noop` tasks only (each succeeds at once): what is measured is honeycombd's cost per drone and per task.
///
/// The drones are split over `threads` shards, each its own thread and epoll set, so that on a loaded machine the
/// generator still gets enough CPU to keep its schedule (one thread of 10,000 drones sent 1,000–6,000 of the
/// 10,000 heartbeats a second under load 10 on 2 CPUs). Only a shard's thread touches its drones; the counters
/// are read under `lock`.
public final class DroneSwarm: @unchecked Sendable {
    /// One simulated drone: its connection and ids.
    fileprivate final class SimDrone {
        let id: String
        let socket: BenchSocket
        let helloSubject: [UInt8], heartbeatSubject: [UInt8], resultSubject: [UInt8]
        let helloBody: [UInt8], heartbeatBody: [UInt8]
        var joined = false
        init(id: String, socket: BenchSocket, slots: Int) {
            self.id = id
            self.socket = socket
            helloSubject = Array(APISubject.hello(id).utf8)
            heartbeatSubject = Array(APISubject.heartbeat(id).utf8)
            resultSubject = Array(APISubject.result(id).utf8)
            let hello = DroneHello(drone: id, name: id, tier: .worker, slots: slots,
                                   capabilities: ["backend:noop"], host: nil,
                                   version: HiveVersion.current, instance: "swarm")
            helloBody = Array((try? JSONEncoder().encode(hello)) ?? Data())
            heartbeatBody = Array((try? JSONEncoder().encode(Heartbeat(drone: id, running: []))) ?? Data())
        }
    }

    /// Counters since start (read with `counts`).
    public struct Counts: Sendable {
        public var joined = 0, heartbeats = 0, unknown = 0, assignments = 0, results = 0
    }

    /// Some of the drones, served by one thread.
    fileprivate final class Shard: @unchecked Sendable {
        let drones: [SimDrone]
        let epoll: Int32
        /// The interval honeycombd's hello reply asked for.
        var heartbeatNanos: UInt64 = 1_000_000_000
        init(drones: [SimDrone]) {
            self.drones = drones
            epoll = hive_epoll_create()
            for (i, d) in drones.enumerated() { _ = hive_epoll_ctl(epoll, HIVE_EPOLL_CTL_ADD, d.socket.fd, HIVE_EPOLLIN, UInt64(i)) }
        }
        deinit { close(epoll) }
    }

    private let drones: [SimDrone]
    private let shards: [Shard]
    private let lock = PosixLock()
    private var counters = Counts()
    private var stopping = false
    private var threads: [OSThread] = []

    /// Connects `count` drones of `slots` slots each to the broker at `url` (blocking: one round trip each), to be
    /// served by `threads` threads (at least one; at most one a drone).
    public init(url: String, count: Int, slots: Int, threads: Int = 1) throws(BenchError) {
        var rng = SystemRandomNumberGenerator()
        let run = String(rng.next() % 0xFFFFFF, radix: 16)
        var list: [SimDrone] = []
        list.reserveCapacity(count)
        for i in 0..<count {
            let id = "swarm-\(run)-\(i)"
            let s = try BenchSocket(url: url, name: "drone-\(id)")
            // sid 1: assignments, 2: cancels (ignored: results are instant), 3: replies to this drone's requests.
            try s.write("SUB \(APISubject.assign(id)) 1\r\nSUB \(APISubject.cancelTask(id)) 2\r\nSUB _INBOX.\(id).> 3\r\n")
            list.append(SimDrone(id: id, socket: s, slots: slots))
        }
        drones = list
        let n = min(max(1, threads), max(1, count))
        shards = (0..<n).map { k in Shard(drones: stride(from: k, to: list.count, by: n).map { list[$0] }) }
    }

    public var counts: Counts { lock.withLock { counters } }

    /// Starts the swarm's threads: every drone says hello, then heartbeats and answers assignments until `stop`.
    public func start() {
        threads = shards.enumerated().map { k, shard in OSThread(name: "drone-swarm-\(k)") { [self] in loop(shard) } }
    }

    /// Stops the threads (each drone says bye first, so honeycombd does not wait for them to be lost).
    public func stop() {
        lock.withLock { stopping = true }
        for t in threads { t.join() }
        for d in drones { try? d.socket.write("PUB \(APISubject.bye(d.id)) 0\r\n\r\n") }
    }

    private func publish(_ d: SimDrone, _ subject: [UInt8], reply: String?, _ body: [UInt8]) {
        var line = "PUB " + String(decoding: subject, as: UTF8.self)
        if let reply { line += " " + reply }
        line += " \(body.count)\r\n"
        var bytes = Array(line.utf8)
        bytes += body
        bytes += [13, 10]
        try? d.socket.write(bytes)
    }

    private func loop(_ shard: Shard) {
        let drones = shard.drones
        for d in drones { publish(d, d.helloSubject, reply: "_INBOX.\(d.id).hello", d.helloBody) }
        let handler = SwarmHandler(swarm: self, shard: shard)
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 256 * 1024, alignment: 8)
        defer { buffer.deallocate() }
        var datas = [UInt64](repeating: 0, count: 256), events = [UInt32](repeating: 0, count: 256)
        // Heartbeats spread evenly over the interval: drone i is due at start + k·interval + i·interval/count.
        var next = 0
        var round: UInt64 = 0
        let start = Monotonic.now()
        while !lock.withLock({ stopping }) {
            let n = hive_epoll_wait(shard.epoll, &datas, &events, 256, 20)
            for k in 0..<Int(max(0, n)) {
                let d = drones[Int(datas[k])]
                handler.drone = d
                _ = try? d.socket.readOnce(buffer, handler)
            }
            let now = Monotonic.now()
            let count = UInt64(drones.count)
            let heartbeatNanos = shard.heartbeatNanos
            // Fallen more than one interval behind (a stalled thread, a loaded box): the beats missed are skipped,
            // as a real drone's timer skips them, so no drone sends two at once. Jump to the slot due now.
            if now > start, (now - start) / heartbeatNanos > round &+ 1 {
                let elapsed = now - start
                round = elapsed / heartbeatNanos
                next = Int((elapsed % heartbeatNanos) * count / heartbeatNanos)
            }
            while true {
                let due = start &+ round &* heartbeatNanos &+ UInt64(next) &* heartbeatNanos / count
                guard due <= now else { break }
                let d = drones[next]
                if d.joined {
                    publish(d, d.heartbeatSubject, reply: "_INBOX.\(d.id).hb", d.heartbeatBody)
                }
                next += 1
                if next == drones.count { next = 0; round += 1 }
            }
        }
    }

    /// One message for drone `d` (on the swarm's thread).
    fileprivate func received(_ d: SimDrone, _ shard: Shard, sid: UInt8, subject: String, body: UnsafeRawBufferPointer) {
        switch sid {
        case UInt8(ascii: "1"):
            guard let a = try? JSONDecoder().decode(Assignment.self, from: Data(body)) else { return }
            let r = TaskResult(task: a.task, attempt: a.attempt, token: a.token, drone: d.id, outcome: .succeeded,
                               output: "", wallMillis: 0)
            guard let out = r.fastJSON else { return }
            publish(d, d.resultSubject, reply: nil, out)
            lock.withLock { counters.assignments += 1; counters.results += 1 }
        case UInt8(ascii: "3"):
            if subject.hasSuffix(".hello") {
                guard let reply = try? JSONDecoder().decode(HelloReply.self, from: Data(body)), reply.accepted else { return }
                shard.heartbeatNanos = UInt64(min(max(100, reply.heartbeatMillis), 60_000)) * 1_000_000
                if !d.joined { d.joined = true; lock.withLock { counters.joined += 1 } }
            } else if subject.hasSuffix(".hb") {
                let known = (try? JSONDecoder().decode(HeartbeatReply.self, from: Data(body)))?.known ?? true
                lock.withLock { counters.heartbeats += 1; if !known { counters.unknown += 1 } }
                if !known { publish(d, d.helloSubject, reply: "_INBOX.\(d.id).hello", d.helloBody) }
            }
        default:
            break
        }
    }

    /// Routes what the parser reads to the drone whose socket it came from.
    fileprivate final class SwarmHandler: ServerOpHandler {
        unowned let swarm: DroneSwarm
        unowned let shard: Shard
        var drone: SimDrone?
        init(swarm: DroneSwarm, shard: Shard) {
            self.swarm = swarm
            self.shard = shard
        }
        func handle(_ op: ServerOp) throws(NATSProtocolError) -> Bool {
            guard let d = drone else { return true }
            switch op {
            case .msg(let m):
                swarm.received(d, shard, sid: m.sid.first ?? 0, subject: m.subject.string, body: m.body)
            case .ping: try? d.socket.write("PONG\r\n")
            case .info, .ok, .pong, .err: break
            }
            return true
        }
    }
}
