import HiveCommandLine
import HiveCore

/// One `hive` command: its declaration and what it does with the parsed arguments.
protocol HiveCommand: Sendable {
    static var spec: CommandSpec { get }
    static func run(_ parsed: ParsedArguments) async
}

/// Every command, in the order `hive --help` lists them.
let hiveCommands: [any HiveCommand.Type] = [
    SubmitCommand.self, EvalCommand.self, GoalsCommand.self, GoalCommand.self, TasksCommand.self, ResultCommand.self,
    TraceCommand.self, CancelCommand.self, WatchCommand.self, ApproveCommand.self, DenyCommand.self, DronesCommand.self,
    DroneCommand.self, StatusCommand.self, ModuleCommand.self, WasmCommand.self, BenchCommand.self, BenchControlCommand.self,
]

/// Options every command accepts, before or after the command's name: where the hive is and how to wait for it.
let sharedOptions: [OptionSpec] = [
    .value("--honeycomb", "URLS", help: "where honeycombd's bus is: its embedded broker or the NATS cluster it uses; tls://HOST:PORT for a bus serving TLS",
           default: "$HIVE_URL, else nats://127.0.0.1:4222"),
    .value("--tls-ca", "FILE", help: "the CA that signed the bus's certificate (honeycombd tls init's ca.pem); given, the connection must be TLS",
           default: "$HIVE_TLS_CA, else the system's trusted CAs"),
    .value("--tls-cert", "FILE", help: "a client certificate, for a bus that requires one (mutual TLS)", default: "$HIVE_TLS_CERT"),
    .value("--tls-key", "FILE", help: "the key of --tls-cert", default: "$HIVE_TLS_KEY"),
    .flag("--json", help: "print JSON instead of text"),
    .value("--wait-timeout", "S", help: "submit --wait, watch, eval: give up (exit 75) if the goal is still running after S seconds (a goal's budget.deadline_ms bounds it on honeycombd's side)",
           default: "wait until it ends"),
    .value("--answer-timeout", "S", help: "submit --wait, watch, eval: give up (exit 69) when honeycombd has not answered for S seconds (long enough to ride out a restart); every other request waits at most 10 s",
           default: "60"),
]

let hiveProgram = ProgramSpec("hive", summary: "Submit goals to a hive and follow them; measure brokers and models.",
                              sharedOptions: sharedOptions, commands: hiveCommands.map { $0.spec },
                              footer: "Lists (goals, tasks, drones) and results come in pages that fit one bus message; hive fetches them all.")

/// How a tier is written on the command line (`TierRequirement.parse`).
let tierForms = ["edge", "worker", "core (each with + for that tier or above, - for that tier or below)"]
/// How a join is written (`StepJoin.parse`).
let joinForms = ["any", "all", "vote", "best", "synthesize[:K]"]

extension ParsedArguments {
    /// The typed value, or the process ends with the error naming the option and where the help is.
    func orExit<T>(_ read: (ParsedArguments) throws -> T) -> T {
        do { return try read(self) } catch let e as CommandLineError { hiveProgram.fail(e, in: self) } catch {
            hiveProgram.fail(.invalid(ErrorSentence.of(error)), in: self)
        }
    }

    func int(_ option: String, in range: ClosedRange<Int>? = nil) -> Int? { orExit { try $0.integer(option, in: range) } }

    func seconds(_ option: String) -> Double? {
        orExit { p in
            guard let s = try p.number(option) else { return nil }
            guard s > 0 else { throw CommandLineError.badValue(option: option, expected: "SECONDS (a positive number)", got: p.string(option)!) }
            return s
        }
    }

    func tier(_ option: String) -> TierRequirement? { orExit { try $0.choice(option, accepted: tierForms) { TierRequirement.parse($0) } } }

    func join(_ option: String) -> StepJoin? { orExit { try $0.choice(option, accepted: joinForms) { StepJoin.parse($0) } } }

    /// A command-level refusal (`--count must be at least 1`): one line, and where the help is.
    func refuse(_ text: String) -> Never { hiveProgram.fail(.invalid(text), in: self) }
}
