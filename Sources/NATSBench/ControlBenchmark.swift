import FoundationEssentials
import HiveCore
import HiveSystem
import NATSClient

/// End-to-end measurements of the control plane through its public API, as a client sees it: goals submitted
/// on the bus, completion heard on `hive.v1.events.<goal>`. Drones must already be connected.
public struct ControlBenchmark: Sendable {
    public var url: String

    public init(url: String) { self.url = url }

    private func connect() async throws -> NATSClient {
        var o = try NATSClientOptions(urls: url)
        o.name = "bench-control"
        // Beside 10,000 simulated drones on a loaded 2-CPU machine, the default 2 s to INFO was not always enough.
        o.connectTimeoutMillis = 30_000
        return try await NATSClient.connect(o)
    }

    /// Submits `spec` and returns the seconds until its end is announced, and its final state.
    private func run(_ nc: NATSClient, _ spec: GoalSpec, events: NATSSubscription, iterator: inout NATSMessageIterator) async throws -> (Double, GoalState) {
        let t0 = Monotonic.seconds()
        let reply = try await nc.request(APISubject.submit, Array(JSONEncoder().encode(spec)), timeout: 30)
        if let e = try? JSONDecoder().decode(APIError.self, from: Data(reply.payload)) { throw BenchError.protocolError(e.error) }
        let ref = try JSONDecoder().decode(GoalRef.self, from: Data(reply.payload))
        while let m = await iterator.next() {
            guard let e = try? JSONDecoder().decode(GoalEvent.self, from: Data(m.payload)), e.goal == ref.goal else { continue }
            return (Monotonic.seconds() - t0, e.state)
        }
        throw BenchError.io("event stream ended")
    }

    /// Throughput: one goal forking `tasks` tasks of `kind`; tasks completed per second end to end
    /// (submit → every result joined), median of `rounds`.
    public func throughput(tasks: Int, kind: String = "noop", sleepMillis: Int? = nil, rounds: Int = 3) async throws -> [Double] {
        let nc = try await connect()
        defer { nc.close() }
        let events = try nc.subscribe("hive.v1.events.*")
        var it = events.makeAsyncIterator()
        try await nc.flush()
        var rates: [Double] = []
        let task = TaskSpec(kind: kind, input: TaskInput(sleepMillis: sleepMillis), maxAttempts: 1)
        for _ in 0..<rounds {
            let spec = GoalSpec(name: "bench", budget: Budget(maxTasks: tasks + 1), root: .fork(Array(repeating: task, count: tasks)))
            let (t, state) = try await run(nc, spec, events: events, iterator: &it)
            guard state == .succeeded else { throw BenchError.protocolError("bench goal ended \(state)") }
            rates.append(Double(tasks) / t)
        }
        return rates
    }

    /// Nested fork–join: one goal forking `outer` forks of `inner` noop tasks each (the shape of Ray's nested-task
    /// anchor); seconds from submit to the goal's end, one per round.
    public func nested(outer: Int, inner: Int, rounds: Int = 3) async throws -> [Double] {
        let nc = try await connect()
        defer { nc.close() }
        let events = try nc.subscribe("hive.v1.events.*")
        var it = events.makeAsyncIterator()
        try await nc.flush()
        let leaf = TaskSpec(kind: "noop", maxAttempts: 1)
        let branch = TaskSpec.fork(Array(repeating: leaf, count: inner))
        let spec = GoalSpec(name: "nested", budget: Budget(maxTasks: outer * (inner + 1) + 1), root: .fork(Array(repeating: branch, count: outer)))
        var out: [Double] = []
        for _ in 0..<rounds {
            let (t, state) = try await run(nc, spec, events: events, iterator: &it)
            guard state == .succeeded else { throw BenchError.protocolError("nested goal ended \(state)") }
            out.append(t)
        }
        return out
    }

    /// Latency: `goals` one-task goals, one at a time (moderate load); seconds from submit to the goal's end.
    public func latency(goals: Int) async throws -> [Double] {
        let nc = try await connect()
        defer { nc.close() }
        let events = try nc.subscribe("hive.v1.events.*")
        var it = events.makeAsyncIterator()
        try await nc.flush()
        var out: [Double] = []
        for _ in 0..<goals {
            let (t, _) = try await run(nc, GoalSpec(root: TaskSpec(kind: "noop", maxAttempts: 1)), events: events, iterator: &it)
            out.append(t)
        }
        return out
    }

    /// A steady load: every 100 ms, one goal forking `rate / 10` noop tasks, for `seconds`; then waits for every
    /// goal to end. Returns the tasks per second that completed (the offered rate when the hive keeps up).
    public func paced(rate: Int, seconds: Double) async throws -> Double {
        let nc = try await connect()
        defer { nc.close() }
        let events = try nc.subscribe("hive.v1.events.*")
        var it = events.makeAsyncIterator()
        try await nc.flush()
        let perTick = Swift.max(1, rate / 10)
        let task = TaskSpec(kind: "noop", maxAttempts: 1)
        let spec = GoalSpec(name: "paced", budget: Budget(maxTasks: perTick + 1), root: .fork(Array(repeating: task, count: perTick)))
        let body = Array(try JSONEncoder().encode(spec))
        let t0 = Monotonic.seconds()
        var submitted = 0
        while Monotonic.seconds() - t0 < seconds {
            let due = t0 + Double(submitted) * 0.1
            let wait = due - Monotonic.seconds()
            if wait > 0 { try await Task.sleep(for: .milliseconds(Int(wait * 1000))) }
            let reply = try await nc.request(APISubject.submit, body, timeout: 30)
            if let e = try? JSONDecoder().decode(APIError.self, from: Data(reply.payload)) { throw BenchError.protocolError(e.error) }
            submitted += 1
        }
        var ended = 0
        while ended < submitted, await it.next() != nil { ended += 1 }
        return Double(submitted * perTick) / (Monotonic.seconds() - t0)
    }

    /// Wall seconds for `tasks` tasks that each sleep `sleepMillis` (a stand-in for model latency).
    public func sleepRun(tasks: Int, sleepMillis: Int) async throws -> Double {
        let nc = try await connect()
        defer { nc.close() }
        let events = try nc.subscribe("hive.v1.events.*")
        var it = events.makeAsyncIterator()
        try await nc.flush()
        let task = TaskSpec(kind: "sleep", input: TaskInput(sleepMillis: sleepMillis), maxAttempts: 1)
        let spec = GoalSpec(budget: Budget(maxTasks: tasks + 1), root: .fork(Array(repeating: task, count: tasks)))
        return try await run(nc, spec, events: events, iterator: &it).0
    }
}
