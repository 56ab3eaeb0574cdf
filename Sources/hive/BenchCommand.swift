import Foundation
import HiveCommandLine
import HiveSystem
import NATSBench

/// `hive bench`: measures a NATS broker (honeycombd's or nats-server).
enum BenchCommand: HiveCommand {
    static let spec = CommandSpec("bench", summary: "measure a NATS broker: publish-only, 1->1, 1->8 fan-out, 1->4 queue group, request/reply latency",
                                  discussion: """
        --client swift goes through Hive's NATS client; --client raw uses a raw socket writer/reader, to measure the \
        broker alone (over TLS with a tls:// URL or --tls-ca FILE, the CA that signed the broker's certificate).
        """, options: [
            .value("--url", "nats://HOST:PORT", help: "the broker", default: "nats://127.0.0.1:4222"),
            .value("--client", "swift|raw", help: "what publishes and subscribes", default: "swift"),
            .value("--messages", "N", help: "messages per run, 1 to 1000000000"),
            .value("--size", "BYTES", help: "payload size, 0 to 67108864"),
            .value("--requests", "N", help: "request/reply round trips, 1 to 1000000000"),
        ])

    static func run(_ p: ParsedArguments) async {
        var bench = BrokerBenchmark(url: p.string("--url") ?? "nats://127.0.0.1:4222")
        bench.messages = p.int("--messages", in: 1...1_000_000_000) ?? bench.messages
        bench.payloadSize = p.int("--size", in: 0...(64 << 20)) ?? bench.payloadSize
        bench.requests = p.int("--requests", in: 1...1_000_000_000) ?? bench.requests
        bench.tlsCA = p.string("--tls-ca") ?? bench.tlsCA
        let json = p.flag("--json")
        let useClient = p.orExit { try $0.choice("--client", accepted: ["swift", "raw"]) { $0 == "swift" ? true : $0 == "raw" ? false : nil } } ?? true
        do {
            let results = useClient
                ? try await ClientBenchmark(url: bench.url, messages: bench.messages, payloadSize: bench.payloadSize,
                                            requests: bench.requests).runAll()
                : try bench.runAll()
            if json {
                let rows = results.map { r in
                    var fields = ["\"name\":\"\(r.name)\"", "\"seconds\":\(r.seconds)"]
                    if let rate = r.rate { fields.append("\"rate\":\(rate)") }
                    if let p50 = r.p50 { fields.append("\"p50_us\":\(p50)") }
                    if let p99 = r.p99 { fields.append("\"p99_us\":\(p99)") }
                    return "{" + fields.joined(separator: ",") + "}"
                }
                print("[" + rows.joined(separator: ",") + "]")
            } else {
                for r in results {
                    var line = r.name.padding(16)
                    if let rate = r.rate { line += " \(Int(rate)) msgs/s" }
                    if let p50 = r.p50, let p99 = r.p99 { line += "  p50 \(Int(p50)) us  p99 \(Int(p99)) us" }
                    print(line)
                }
            }
        } catch {
            fail("bench failed: \(ErrorSentence.of(error))", code: 1)
        }
    }
}

/// `hive bench-control`: one control-plane measurement per call, JSON on stdout (Tests/bench/control_bench.py).
enum BenchControlCommand: HiveCommand {
    static let spec = CommandSpec("bench-control", summary: "one control-plane measurement, as JSON (Tests/bench/control_bench.py)", options: [
        .value("--url", "URL", help: "the bus", default: "$HIVE_URL, else nats://127.0.0.1:4222"),
        .value("--mode", "MODE", help: "throughput, latency, sleep, paced, nested or swarm", default: "throughput"),
        .value("--tasks", "N", help: "tasks (throughput, sleep)", default: "10000"),
        .value("--sleep-ms", "MS", help: "each task's sleep (sleep)", default: "100"),
        .value("--rounds", "N", help: "rounds (throughput)", default: "3"),
        .value("--goals", "N", help: "goals (latency)", default: "1000"),
        .value("--rate", "N", help: "goals per second (paced)", default: "1000"),
        .value("--seconds", "S", help: "how long (paced; swarm: idle time measured)", default: "10"),
        .value("--outer", "N", help: "forks (nested)", default: "100"),
        .value("--inner", "N", help: "noop tasks per fork (nested)", default: "100"),
        .value("--drones", "N", help: "simulated drones, 1 to 100000 (swarm)", default: "100"),
        .value("--slots", "N", help: "slots per simulated drone, 1 to 4096 (swarm)", default: "64"),
    ], hidden: true)

    static func run(_ p: ParsedArguments) async {
        let url = p.string("--url") ?? ProcessInfo.processInfo.environment["HIVE_URL"] ?? "nats://127.0.0.1:4222"
        let mode = p.orExit { try $0.choice("--mode", accepted: ["throughput", "latency", "sleep", "paced", "nested", "swarm"]) { $0 } } ?? "throughput"
        let tasks = p.int("--tasks", in: 1...10_000_000) ?? 10_000
        let sleepMillis = p.int("--sleep-ms", in: 0...3_600_000) ?? 100
        let rounds = p.int("--rounds", in: 1...1_000) ?? 3
        let goals = p.int("--goals", in: 1...10_000_000) ?? 1_000
        let rate = p.int("--rate", in: 1...10_000_000) ?? 1_000
        let seconds = p.orExit { try $0.number("--seconds", in: 0.001...86_400) } ?? 10
        let outer = p.int("--outer", in: 1...10_000) ?? 100
        let inner = p.int("--inner", in: 1...10_000) ?? 100
        let drones = p.int("--drones", in: 1...100_000) ?? 100
        let slots = p.int("--slots", in: 1...4_096) ?? 64
        let bench = ControlBenchmark(url: url)
        do {
            switch mode {
            case "throughput":
                let rates = try await bench.throughput(tasks: tasks, rounds: rounds)
                print("{\"rates\":\(rates)}")
            case "latency":
                let l = try await bench.latency(goals: goals).sorted()
                print("{\"p50_us\":\(l[l.count / 2] * 1e6),\"p99_us\":\(l[min(l.count - 1, l.count * 99 / 100)] * 1e6)}")
            case "sleep":
                print("{\"seconds\":\(try await bench.sleepRun(tasks: tasks, sleepMillis: sleepMillis))}")
            case "paced":
                print("{\"rate\":\(try await bench.paced(rate: rate, seconds: seconds))}")
            case "nested":
                print("{\"seconds\":\(try await bench.nested(outer: outer, inner: inner, rounds: rounds))}")
            case "swarm":
                try await swarm(bench, drones: drones, slots: slots, idleSeconds: seconds, tasks: tasks, rounds: rounds, goals: goals)
            default:
                fail("--mode takes throughput, latency, sleep, paced, nested or swarm")
            }
        } catch {
            fail("bench-control failed: \(ErrorSentence.of(error))", code: 1)
        }
    }
}

extension BenchControlCommand {
    /// One JSON line on stdout, flushed at once: the bench script samples honeycombd's /proc between the lines.
    static func line(_ s: String) {
        print(s)
        fflush(nil)  // every stream: stdout is a global Swift 6 will not touch
    }

    /// `--mode swarm`: connects `drones` simulated drones (DroneSwarm), says `joined` when honeycombd has accepted
    /// them all, idles `idleSeconds` (heartbeats only) and says `idle`, then measures throughput and latency
    /// through them and says `done`.
    static func swarm(_ bench: ControlBenchmark, drones: Int, slots: Int, idleSeconds: Double, tasks: Int, rounds: Int,
                      goals: Int) async throws {
        let t0 = Monotonic.seconds()
        // A thread per 2,000 drones (at most 8): one thread of 10,000 fell behind its schedule on a loaded machine.
        let swarm = try DroneSwarm(url: bench.url, count: drones, slots: slots, threads: min(8, max(1, drones / 2_000)))
        swarm.start()
        defer { swarm.stop() }
        let deadline = t0 + 120 + Double(drones) / 100
        while swarm.counts.joined < drones {
            guard Monotonic.seconds() < deadline else {
                throw BenchError.timeout("\(swarm.counts.joined) of \(drones) simulated drones joined")
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        line("{\"event\":\"joined\",\"drones\":\(drones),\"seconds\":\(Monotonic.seconds() - t0)}")
        let before = swarm.counts
        try await Task.sleep(for: .milliseconds(Int(idleSeconds * 1000)))
        let idle = swarm.counts
        line("{\"event\":\"idle\",\"heartbeats\":\(idle.heartbeats - before.heartbeats),\"unknown\":\(idle.unknown)}")
        let rates = try await bench.throughput(tasks: tasks, rounds: rounds)
        let l = try await bench.latency(goals: goals).sorted()
        line("{\"event\":\"done\",\"rates\":\(rates),\"p50_us\":\(l[l.count / 2] * 1e6),\"p99_us\":\(l[min(l.count - 1, l.count * 99 / 100)] * 1e6),\"results\":\(swarm.counts.results)}")
    }
}
