import HiveCommandLine

/// `hive submit`: one goal, from an exec command, a prompt, a wasm module, a goal in words or a plan file.
enum SubmitCommand: HiveCommand {
    static let spec = CommandSpec("submit", summary: "submit one goal: an exec fork, a prompt, a wasm module, a goal in words or a plan", usage: [
        "--exec CMD [ARGS…] [--] [--input FILE] [--count N] [--tier T] [--timeout-ms MS] [--max-attempts N] [--deadline-ms MS] [--priority P] [--wait]",
        "--prompt TEXT | --prompt-file FILE [--system TEXT] [--tier T] [--max-tokens N] [--temperature T] [--seed N] [--stop S] [--json-schema FILE | --json-output] [--wait]",
        "\"GOAL IN WORDS\" [--n N] [--join best|vote|synthesize[:K]] [--critics N] [--tier T] [--critic-tier T] [--architect-tier T] [--integrate-tier T] [--max-tokens N] [--budget-tokens N] [--max-core-calls N] [--deadline-ms MS] [--wait]",
        "PLAN.json | - | --plan FILE [--wait]",
        "--wasm HASH [--input FILE] [--fuel N] [--memory MiB] [--scratch] [--count N] [--tier T] [--timeout-ms MS] [--wait]",
    ], discussion: """
        --exec: one goal forking N exec tasks of CMD (each sees HIVE_TASK_INDEX), joined; CMD's arguments run to a \
        `--` (then options may follow) or to the next option submit knows.
        --prompt: one completion on a drone serving a model (drone --model); prints the text and its usage. \
        --prompt-file: the same, the prompt read from a file (a prompt with documents: any size).
        A goal in words: the architect (core tier) decomposes it; drones explore each subtask (N candidates at most), \
        critics judge them, an integrator answers; --wait shows each step's candidates and who judged them.
        A plan file (or - for stdin): a plan (goal, steps) or a task tree (root); see Docs/PLANS.md. An argument that \
        looks like a path (ends in .json, or has a / and no spaces) but names no file is refused, never sent as words.
        --wasm: run a stored module on drones (stdin = the input; result = stdout, exit code, or the trap).
        --wait prints the result when the goal ends (exit 0 if it succeeded, 1 if not).
        """, options: [
            .rest("--exec", "CMD [ARGS…]", help: "run CMD with ARGS on exec drones (a bare name is looked up in PATH)"),
            .value("--count", "N", help: "tasks forked (exec, wasm)", default: "1"),
            .value("--tier", "T", help: "the tier that runs the tasks (explorers, for a goal in words): edge, worker or core, + for that tier or above, - for that tier or below"),
            .value("--timeout-ms", "MS", help: "each task's time limit"),
            .value("--max-attempts", "N", help: "attempts per task before it is dead"),
            .value("--deadline-ms", "MS", help: "the goal's deadline"),
            .value("--priority", "P", help: "higher runs first", default: "0"),
            .value("--name", "NAME", help: "the goal's name in listings"),
            .flag("--wait", help: "wait for the goal to end and print its result"),
            .value("--prompt", "TEXT", help: "one model completion of TEXT"),
            .value("--prompt-file", "FILE", help: "the prompt read from FILE (- for stdin): UTF-8 text of any size; over 16 KiB it is uploaded once as a blob"),
            .value("--system", "TEXT", help: "the system prompt"),
            .value("--max-tokens", "N", help: "tokens generated per call"),
            .value("--temperature", "T", help: "sampling temperature"),
            .value("--seed", "N", help: "sampling seed"),
            .repeated("--stop", "S", help: "stop generating at S (repeatable)"),
            .value("--json-schema", "FILE", help: "the answer must be JSON matching this schema"),
            .value("--agent", "TOOLS", help: "with --prompt: an agent that may call these tools (comma-separated, e.g. exec.date,exec.echo)"),
            .value("--max-steps", "N", help: "with --agent: steps at most, each tool call one (default 8, at most 32)"),
            .repeated("--bind", "TOOL=JSON", help: "with --agent: arguments the goal fixes for TOOL, which the model never chooses (repeatable): exec.NAME='[\"first arg\", …]' (leading arguments) or SERVER.TOOL='{\"name\": value}'"),
            .flag("--json-output", help: "the answer must be JSON"),
            .value("--plan", "FILE", help: "a plan or task tree from FILE"),
            .value("--n", "N", help: "candidates per subtask", default: "3"),
            .value("--join", "J", help: "how candidates are joined: any, all, vote, best or synthesize[:K]", default: "best"),
            .value("--critics", "N", help: "critics judging each candidate"),
            .value("--critic-tier", "T", help: "the critics' tier"),
            .value("--architect-tier", "T", help: "the architect's tier"),
            .value("--integrate-tier", "T", help: "the integrator's tier"),
            .value("--max-core-calls", "N", help: "budget: core-tier calls"),
            .value("--budget-tokens", "N", help: "budget: tokens"),
            .value("--wasm", "HASH", help: "run this stored module (hive module add)"),
            .value("--input", "FILE", help: "the stdin of --wasm or --exec tasks (any bytes; over 16 KiB or binary it is uploaded once as a blob)"),
            .value("--fuel", "N", help: "instructions per task"),
            .value("--memory", "MiB", help: "linear memory per task"),
            .flag("--scratch", help: "grant the module a fresh directory of its own as /scratch"),
        ], arguments: [ArgumentSpec("GOAL|PLAN.json|-", .optional, help: "a goal in words (quoted), a plan file, or - for a plan on stdin")])

    static func run(_ parsed: ParsedArguments) async { await submitCommand(parsed) }

    /// Whether a goal-in-words argument reads as a file path (so a typo'd plan path is refused, not sent to the
    /// architect): it ends in .json, or it has a / and no spaces.
    static func looksLikePath(_ a: String) -> Bool {
        a.lowercased().hasSuffix(".json") || (a.contains("/") && !a.contains(where: { $0 == " " || $0 == "\n" || $0 == "\t" }))
    }
}

/// `hive eval`: seeded tasks whose truth is computed here, one plan each, scored.
enum EvalCommand: HiveCommand {
    static let spec = CommandSpec("eval", summary: "measure accuracy and cost on seeded tasks whose truth is known here", discussion: """
        Seeded tasks whose truth is computed here (arithmetic word problems; sh programs checked by hidden tests on exec \
        drones; facts from a table, voted; sums checked by a program on an exec drone: few-shot prompts for base \
        models), one plan each; prints accuracy, calls, core-tier calls per solved task, wall time. --explorer/--critic \
        run a program (a test double handed the truth) instead of a model.
        """, options: [
            .value("--suite", "SUITE", help: "arithmetic, code, facts or sums", default: "arithmetic"),
            .value("--count", "N", help: "tasks", default: "20"),
            .value("--seed", "S", help: "the tasks' seed", default: "1"),
            .value("--n", "N", help: "candidates per task"),
            .value("--join", "J", help: "any, all, vote, best or synthesize[:K]", default: "vote with several candidates, else any"),
            .value("--critics", "N", help: "critics per candidate"),
            .value("--min-votes", "K", help: "votes an answer needs"),
            .value("--escalate", "TIER", help: "re-fork once on this tier when the join fails"),
            .value("--tier", "T", help: "the explorers' tier"),
            .value("--critic-tier", "T", help: "the critics' tier"),
            .value("--max-tokens", "N", help: "tokens per call", default: "32 (code: 256; facts, sums: 12)"),
            .value("--temperature", "T", help: "the candidates' sampling temperature, 0 (greedy) to 2", default: "the drone's"),
            .value("--max-reforks", "N", help: "re-forks per task", default: "0 (1 with --escalate)"),
            .value("--verify-tier", "T", help: "the tier that runs the code suite's checks"),
            .value("--explorer", "CMD", help: "run this program as each candidate instead of a model"),
            .value("--critic", "CMD", help: "run this program as each critic instead of a model"),
            .flag("--serial", help: "one task at a time"),
            .flag("--no-verify", help: "sums: no check; the candidates are joined by vote alone"),
        ])

    static func run(_ parsed: ParsedArguments) async { await evalCommand(parsed) }
}
