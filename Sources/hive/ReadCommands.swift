import HiveCommandLine
import HiveCore

/// The argument every per-goal command takes.
let goalArgument = ArgumentSpec("GOAL", help: "the goal's id (see hive goals)")

enum GoalsCommand: HiveCommand {
    static let spec = CommandSpec("goals", summary: "list the goals")
    static func run(_ parsed: ParsedArguments) async { await goalsCommand(parsed) }
}

enum GoalCommand: HiveCommand {
    static let spec = CommandSpec("goal", summary: "one goal's state", arguments: [goalArgument])
    static func run(_ parsed: ParsedArguments) async { await goalCommand(parsed, subject: APISubject.goal, verb: "goal") }
}

enum TasksCommand: HiveCommand {
    static let spec = CommandSpec("tasks", summary: "a goal's task tree", arguments: [goalArgument])
    static func run(_ parsed: ParsedArguments) async { await goalCommand(parsed, subject: APISubject.tasks, verb: "tasks") }
}

enum ResultCommand: HiveCommand {
    static let spec = CommandSpec("result", summary: "a goal's result: answer, steps, ledger, each task's output", options: [
        .value("--output-dir", "DIR", help: "write each output kept as a blob to DIR/TASK (checked against its SHA-256)"),
        .value("--max-blob-bytes", "N", help: "with --output-dir: fetch outputs of at most N bytes (default 64 MiB, honeycombd's own default)"),
    ], arguments: [goalArgument])
    /// The largest output blob `--output-dir` fetches without `--max-blob-bytes`.
    static let defaultMaxBlobBytes = 64 << 20
    static func run(_ parsed: ParsedArguments) async { await goalCommand(parsed, subject: APISubject.result, verb: "result") }
}

enum TraceCommand: HiveCommand {
    static let spec = CommandSpec("trace", summary: "a goal's spans on one timeline", arguments: [goalArgument])
    static func run(_ parsed: ParsedArguments) async { await goalCommand(parsed, subject: APISubject.trace, verb: "trace") }
}

enum CancelCommand: HiveCommand {
    static let spec = CommandSpec("cancel", summary: "cancel a goal", arguments: [goalArgument])
    static func run(_ parsed: ParsedArguments) async { await goalCommand(parsed, subject: APISubject.cancel, verb: "cancel") }
}

enum WatchCommand: HiveCommand {
    static let spec = CommandSpec("watch", summary: "follow a goal's tasks until it ends", discussion: """
        Redrawn in place on a terminal; one line per change when piped; one JSON object per change (a task) with --json. \
        Exits 0 when the goal succeeded, 1 when not.
        """, arguments: [goalArgument])
    static func run(_ parsed: ParsedArguments) async { await watchCommand(parsed) }
}

enum DronesCommand: HiveCommand {
    static let spec = CommandSpec("drones", summary: "the drones that joined, by tier")
    static func run(_ parsed: ParsedArguments) async { await dronesCommand(parsed) }
}

enum StatusCommand: HiveCommand {
    static let spec = CommandSpec("status", summary: "ask honeycombd for its status over the bus")
    static func run(_ parsed: ParsedArguments) async { await statusCommand(parsed) }
}

/// Approve and deny share their arguments.
let approvalArguments = [goalArgument, ArgumentSpec("TASK", .many, help: "the tasks to decide (none: every task of the goal awaiting approval)")]

enum ApproveCommand: HiveCommand {
    static let spec = CommandSpec("approve", summary: "let tasks waiting in awaiting_approval run (operators only)", arguments: approvalArguments)
    static func run(_ parsed: ParsedArguments) async { await approvalCommand(parsed, deny: false) }
}

enum DenyCommand: HiveCommand {
    static let spec = CommandSpec("deny", summary: "end tasks waiting in awaiting_approval dead (\"denied by operator: TEXT\"; operators only)",
                                  options: [.value("--reason", "TEXT", help: "why (required; recorded with the denial)")], arguments: approvalArguments)
    static func run(_ parsed: ParsedArguments) async { await approvalCommand(parsed, deny: true) }
}

enum DroneCommand: HiveCommand {
    static let spec = CommandSpec("drone", summary: "issue or revoke a drone's own credential (needs principals in honeycombd's config; operators only)", subcommands: [
        CommandSpec("add", summary: "issue a drone its own credential and print how to run it",
                    options: [.value("--tier", "TIER", help: "edge, worker or core", default: "worker")],
                    arguments: [ArgumentSpec("NAME", help: "the drone's name: 1 to 64 letters, digits, - and _ (its id on the bus)")]),
        CommandSpec("revoke", summary: "disconnect the drone and refuse its credential from then on",
                    arguments: [ArgumentSpec("NAME", help: "the drone's name")]),
    ])
    static func run(_ parsed: ParsedArguments) async { await droneCommand(parsed) }
}

enum ModuleCommand: HiveCommand {
    static let spec = CommandSpec("module", summary: "the WebAssembly modules honeycombd stores", subcommands: [
        CommandSpec("add", summary: "validate and store a module; prints its SHA-256 (the name tasks use)",
                    arguments: [ArgumentSpec("FILE.wasm", help: "the module")]),
        CommandSpec("ls", summary: "list the stored modules and the store's quota"),
        CommandSpec("rm", summary: "remove a module (refused while a running goal names it)",
                    arguments: [ArgumentSpec("HASH", help: "the module's SHA-256")]),
    ])
    static func run(_ parsed: ParsedArguments) async { await moduleCommand(parsed) }
}

enum WasmCommand: HiveCommand {
    static let spec = CommandSpec("wasm", summary: "run a WASI module here, with the drones' interpreter and limits", subcommands: [
        CommandSpec("run", summary: "run a WASI module here (stdin in, stdout/stderr out; exit status, or 125 with the trap)",
                    usage: ["FILE.wasm [--fuel N] [--memory MiB] [--timeout-ms MS] [--seed N] [--invoke NAME] [-- ARGS…]"],
                    options: [
                        .value("--fuel", "N", help: "instructions"),
                        .value("--memory", "MiB", help: "linear memory, 0 to 4096 MiB"),
                        .value("--timeout-ms", "MS", help: "time limit"),
                        .value("--seed", "N", help: "seed for the module's random_get (deterministic runs)"),
                        .value("--invoke", "NAME", help: "call this exported function without arguments instead of _start; print its results"),
                    ],
                    arguments: [ArgumentSpec("FILE.wasm", help: "the module"), ArgumentSpec("ARGS", .many, help: "the module's arguments, after --")]),
    ])
    static func run(_ parsed: ParsedArguments) async { wasmCommand(parsed) }
}
