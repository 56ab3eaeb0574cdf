#if canImport(Glibc)
import Glibc
#endif
import Foundation
import HiveCore
import HiveLog
import NATSBench
import NATSClient

let usage = """
    usage: hive <command> [options]

    commands:
      submit --exec CMD [ARGS…] [--count N] [--tier T] [--timeout-ms MS] [--max-attempts N] [--deadline-ms MS]
             [--priority P] [--wait] [--json]
            one goal forking N exec tasks of CMD (each sees HIVE_TASK_INDEX), joined; --wait prints the result
      submit --prompt TEXT [--system TEXT] [--tier T] [--max-tokens N] [--temperature T] [--seed N] [--stop S]
             [--json-schema FILE | --json-output] [--wait] [--json]
            one completion on a drone serving a model (drone --model); prints the text and its usage
      submit "GOAL IN WORDS" [--n N] [--join best|vote|synthesize[:K]] [--critics N] [--tier T] [--critic-tier T]
             [--architect-tier T] [--integrate-tier T] [--max-tokens N] [--budget-tokens N] [--max-core-calls N]
             [--deadline-ms MS] [--wait] [--json]
            the architect (core tier) decomposes the goal; drones explore each subtask (N candidates at most),
            critics judge them, an integrator answers; --wait shows each step's candidates and who judged them
      submit PLAN.json|- | --plan FILE [--wait] [--json]
            a goal from a JSON file: a plan (goal, steps) or a task tree (root); see Docs/PLANS.md
      eval [--suite arithmetic|code] [--count N] [--seed S] [--n N] [--join vote|best|any] [--critics N]
           [--min-votes K] [--escalate TIER] [--tier T] [--critic-tier T] [--max-tokens N] [--max-reforks N]
           [--verify-tier T] [--explorer CMD] [--critic CMD] [--serial] [--json]
            seeded tasks whose truth is computed here (arithmetic word problems; sh programs checked by hidden
            tests on exec drones), one plan each; prints accuracy, calls, core-tier calls per solved task, wall
            time. --explorer/--critic run a program (a test double handed the truth) instead of a model
      drone add NAME [--tier edge|worker|core] [--json] | drone revoke NAME
            issue a drone its own credential (needs principals in honeycombd's config; operators only), or
            disconnect it and refuse the credential from then on
      module add FILE.wasm [--json]
            validate and store a WebAssembly module in honeycombd; prints its SHA-256 (the name tasks use)
      module ls [--json] | module rm HASH
            list the stored modules and the store's quota; remove one (refused while a running goal names it)
      submit --wasm HASH [--input FILE] [--fuel N] [--memory MiB] [--scratch] [--count N] [--tier T] [--timeout-ms MS]
             [--wait] [--json]
            run a stored module on drones (stdin = the input; result = stdout, exit code, or the trap);
            --scratch grants it a fresh directory of its own as /scratch
      wasm run FILE.wasm [--fuel N] [--memory MiB] [--seed N] [-- ARGS…]
            run a WASI module here with the drones' interpreter and limits (stdin in, stdout/stderr out)
      goals | goal GOAL | tasks GOAL | result GOAL | trace GOAL | cancel GOAL | watch GOAL | drones   [--json]
            read and steer the hive
      approve GOAL [TASK…] | deny GOAL [TASK…] --reason TEXT
            let tasks waiting in awaiting_approval run, or end them dead ("denied by operator: TEXT");
            no TASK: every such task of the goal (operators only)
      status [--honeycomb URLS] [--json]
            ask honeycombd for its status over the bus
      bench [--url nats://HOST:PORT] [--client swift|raw] [--messages N] [--size BYTES] [--requests N] [--json]
            [--tls-ca FILE]
            measure a NATS broker (honeycombd's or nats-server): publish-only, 1->1, 1->8 fan-out,
            1->4 queue group, request/reply latency. --client swift (default) goes through Hive's NATS client;
            --client raw uses a raw socket writer/reader, to measure the broker alone (over TLS with a
            tls:// URL or --tls-ca FILE, the CA that signed the broker's certificate)
      approve   arrives with side-effecting tools (not in this build)

    --honeycomb URLS   where honeycombd's bus is: its embedded broker or the NATS cluster it uses
                       (default: $HIVE_URL, else nats://127.0.0.1:4222); tls://HOST:PORT for a bus serving TLS
    --tls-ca FILE      the CA that signed the bus's certificate (honeycombd tls init's ca.pem; default
                       $HIVE_TLS_CA, else the system's trusted CAs); given, the connection must be TLS
    --tls-cert FILE --tls-key FILE   a client certificate, for a bus that requires one (mutual TLS;
                       default $HIVE_TLS_CERT, $HIVE_TLS_KEY)
    --wait-timeout S   submit --wait, watch, eval: give up (exit 75) if the goal is still running after S seconds
                       (default: wait until it ends; a goal's budget.deadline_ms bounds it on honeycombd's side)
    --answer-timeout S submit --wait, watch, eval: give up (exit 69) when honeycombd has not answered for S seconds
                       (default 60, long enough to ride out a restart). Every other request waits at most 10 s.
    Lists (goals, tasks, drones) and results come in pages that fit one bus message; hive fetches them all.
    """

func fail(_ message: String, code: Int32 = 64) -> Never {
    var text = "hive: \(message)\n"
    text.withUTF8 { _ = write(2, $0.baseAddress, $0.count) }
    exit(code)
}

var args = Array(CommandLine.arguments.dropFirst())
guard let command = args.first else { print(usage); exit(64) }
args.removeFirst()

switch command {
case "-h", "--help", "help":
    print(usage)
case "submit": await submitCommand(args)
case "eval": await evalCommand(args)
case "wasm": wasmCommand(args)
case "module": await moduleCommand(args)
case "goals": await goalsCommand(args)
case "goal": await goalCommand(args, subject: APISubject.goal, verb: "goal")
case "tasks": await goalCommand(args, subject: APISubject.tasks, verb: "tasks")
case "result": await goalCommand(args, subject: APISubject.result, verb: "result")
case "trace": await goalCommand(args, subject: APISubject.trace, verb: "trace")
case "cancel": await goalCommand(args, subject: APISubject.cancel, verb: "cancel")
case "approve": await approvalCommand(args, deny: false)
case "deny": await approvalCommand(args, deny: true)
case "drones": await dronesCommand(args)
case "drone": await droneCommand(args)
case "watch": await watchCommand(args)
case "status":
    await statusCommand(args)
case "bench-control":
    // Used by Tests/bench/control_bench.py: one measurement per call, JSON on stdout.
    var url = ProcessInfo.processInfo.environment["HIVE_URL"] ?? "nats://127.0.0.1:4222"
    var mode = "throughput"
    var tasks = 10_000
    var sleepMillis = 100
    var rounds = 3
    var goals = 1_000
    var rate = 1_000
    var seconds = 10.0
    var j = 0
    while j < args.count {
        let v = j + 1 < args.count ? args[j + 1] : ""
        switch args[j] {
        case "--url": url = v
        case "--mode": mode = v
        case "--tasks": tasks = Int(v) ?? tasks
        case "--sleep-ms": sleepMillis = Int(v) ?? sleepMillis
        case "--rounds": rounds = Int(v) ?? rounds
        case "--goals": goals = Int(v) ?? goals
        case "--rate": rate = Int(v) ?? rate
        case "--seconds": seconds = Double(v) ?? seconds
        default: fail("unknown bench-control option '\(args[j])'")
        }
        j += 2
    }
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
        default:
            fail("--mode takes throughput, latency, sleep or paced")
        }
    } catch {
        fail("bench-control failed: \(error)", code: 1)
    }
case "bench":
    var bench = BrokerBenchmark(url: "nats://127.0.0.1:4222")
    var json = false
    var useClient = true
    var i = 0
    func value() -> String {
        i += 1
        guard i < args.count else { fail("option \(args[i - 1]) needs a value") }
        return args[i]
    }
    while i < args.count {
        switch args[i] {
        case "--url": bench.url = value()
        case "--messages": bench.messages = Int(value()) ?? { fail("--messages takes a number") }()
        case "--size": bench.payloadSize = Int(value()) ?? { fail("--size takes a number") }()
        case "--requests": bench.requests = Int(value()) ?? { fail("--requests takes a number") }()
        case "--tls-ca": bench.tlsCA = value()
        case "--json": json = true
        case "--client":
            switch value() {
            case "swift": useClient = true
            case "raw": useClient = false
            default: fail("--client takes swift or raw")
            }
        default: fail("unknown bench option '\(args[i])'\n\n\(usage)")
        }
        i += 1
    }
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
        fail("bench failed: \(error)", code: 1)
    }
default:
    fail("unknown command '\(command)'\n\n\(usage)")
}

extension String {
    func padding(_ width: Int) -> String { self + String(repeating: " ", count: max(0, width - count)) }
    func leftPadded(_ width: Int) -> String { String(repeating: " ", count: max(0, width - count)) + self }
}
