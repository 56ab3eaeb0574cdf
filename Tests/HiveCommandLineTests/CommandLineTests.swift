import HiveCommandLine
import Testing

/// The command-line library: declarations in, parsed arguments or a typed error naming the option out.
@Suite struct CommandLineTests {
    static let submit = CommandSpec("submit", summary: "submit a goal", options: [
        .rest("--exec", "CMD [ARGS…]", help: "run CMD"),
        .value("--count", "N", help: "how many", default: "1"),
        .value("--tier", "TIER", help: "which tier"),
        .flag("--wait", help: "wait for it"),
        .repeated("--stop", "S", help: "stop strings"),
        .value("--temperature", "T", help: "sampling"),
    ], arguments: [ArgumentSpec("GOAL", .optional, help: "the goal in words")])
    static let module = CommandSpec("module", summary: "modules", subcommands: [
        CommandSpec("add", summary: "add one", arguments: [ArgumentSpec("FILE", help: "the module")]),
        CommandSpec("ls", summary: "list them"),
    ])
    static let program = ProgramSpec("hive", summary: "the hive's CLI", sharedOptions: [
        .value("--honeycomb", "URLS", help: "the bus"),
        .flag("--json", help: "JSON out"),
    ], commands: [submit, module, CommandSpec("goals", summary: "list goals")])

    func run(_ args: [String]) throws -> ParsedArguments {
        guard case .run(let p) = Self.program.resolve(args) else { throw Unexpected() }
        return p
    }
    struct Unexpected: Error {}

    func failure(_ args: [String]) -> (CommandLineError, String)? {
        if case .failed(let e, let hint) = Self.program.resolve(args) { return (e, hint) }
        return nil
    }

    func help(_ args: [String]) -> String? {
        if case .help(let text) = Self.program.resolve(args) { return text }
        return nil
    }

    @Test func sharedOptionsWorkBeforeAndAfterTheCommand() throws {
        let before = try run(["--honeycomb", "nats://a:1", "--json", "goals"])
        let after = try run(["goals", "--json", "--honeycomb", "nats://a:1"])
        let inline = try run(["--honeycomb=nats://a:1", "goals"])
        for p in [before, after, inline] {
            #expect(p.path == ["goals"])
            #expect(p.string("--honeycomb") == "nats://a:1")
        }
        #expect(before.flag("--json") && after.flag("--json") && !inline.flag("--json"))
    }

    @Test func restOptionStopsAtAKnownOptionOrAtDoubleDash() throws {
        let p = try run(["submit", "--exec", "/bin/sh", "-c", "echo hi", "--count", "3"])
        #expect(p.rest("--exec") == ["/bin/sh", "-c", "echo hi"])
        #expect(try p.integer("--count") == 3)
        // With --, everything before it is the command's, even what looks like our options.
        let q = try run(["submit", "--exec", "/bin/echo", "--count", "-h", "--", "--count", "2", "--wait"])
        #expect(q.rest("--exec") == ["/bin/echo", "--count", "-h"])
        #expect(try q.integer("--count") == 2)
        #expect(q.flag("--wait"))
        #expect(q.positionals.isEmpty)
    }

    @Test func doubleDashEndsOptions() throws {
        let p = try run(["submit", "--wait", "--", "--not-an-option"])
        #expect(p.positionals == ["--not-an-option"])
    }

    @Test func helpIsHelpNotAnArgument() {
        for args in [["submit", "-h"], ["submit", "--help"], ["help", "submit"], ["submit", "x", "--help"]] {
            let text = help(args)
            #expect(text?.contains("usage: hive submit") == true, "\(args)")
            #expect(text?.contains("--count N") == true)
            #expect(text?.contains("(default: 1)") == true)
            #expect(text?.contains("--honeycomb URLS") == true, "shared options are listed too")
        }
        #expect(help(["--help"])?.contains("commands:") == true)
        #expect(help(["help"])?.contains("submit") == true)
        #expect(help(["module", "--help"])?.contains("add") == true)
        #expect(help(["module", "add", "--help"])?.contains("usage: hive module add FILE") == true)
        #expect(help(["help", "module", "ls"])?.contains("list them") == true)
    }

    @Test func unknownOptionIsAnErrorWithASuggestion() {
        let f = failure(["submit", "--cuont", "2"])
        #expect(f?.0 == .unknownOption("--cuont", command: "hive submit", suggestion: "--count"))
        #expect(f?.1 == "see hive submit --help")
        #expect(failure(["submit", "-x"])?.0 == .unknownOption("-x", command: "hive submit", suggestion: nil))
        #expect(failure(["--bogus", "goals"])?.0 == .unknownOption("--bogus", command: "hive", suggestion: nil))
    }

    @Test func unknownCommandsAndSubcommands() {
        #expect(failure(["gaols"])?.0 == .unknownCommand("gaols", program: "hive", suggestion: "goals"))
        #expect(failure(["module", "rm"])?.0 == .unknownCommand("rm", program: "hive module", suggestion: "ls"))
        #expect(failure(["module"])?.0 == .missingSubcommand(command: "hive module", choices: ["add", "ls"]))
        #expect(failure(["help", "nope"]) != nil)
    }

    @Test func argumentCountsAreChecked() {
        #expect(failure(["goals", "extra"])?.0 == .unexpectedArgument("extra", command: "hive goals"))
        #expect(failure(["module", "add"])?.0 == .missingArgument(name: "FILE", command: "hive module add"))
        #expect(failure(["submit", "a", "b"])?.0 == .unexpectedArgument("b", command: "hive submit"))
    }

    @Test func missingValuesAndFlagValues() {
        #expect(failure(["submit", "--count"])?.0 == .missingValue(option: "--count", valueName: "N"))
        #expect(failure(["submit", "--exec"])?.0 == .missingValue(option: "--exec", valueName: "CMD [ARGS…]"))
        #expect(failure(["submit", "--wait=yes"])?.0 == .flagTakesNoValue("--wait"))
        #expect(failure(["--honeycomb"])?.0 == .missingValue(option: "--honeycomb", valueName: "URLS"))
    }

    @Test func typedValuesNameTheOptionWhenWrong() throws {
        let p = try run(["submit", "--count", "x", "--tier", "gold", "--temperature", "hot"])
        #expect(throws: CommandLineError.badValue(option: "--count", expected: "a whole number", got: "x")) { try p.integer("--count") }
        #expect("\(CommandLineError.badValue(option: "--count", expected: "a whole number", got: "x"))" == "--count takes a whole number, not 'x'")
        #expect(throws: CommandLineError.badValue(option: "--count", expected: "a whole number from 1 to 10", got: "x")) {
            try p.integer("--count", in: 1...10)
        }
        #expect(throws: CommandLineError.badValue(option: "--tier", expected: "edge, worker or core", got: "gold")) {
            try p.choice("--tier", as: Tier.self)
        }
        #expect(throws: CommandLineError.self) { try p.number("--temperature") }
        let q = try run(["submit", "--count", "99999999999999999999999", "--temperature", "nan"])
        #expect(throws: CommandLineError.self) { try q.integer("--count") }
        #expect(throws: CommandLineError.self) { try q.number("--temperature") }
        let r = try run(["submit", "--count", "0"])
        #expect(throws: CommandLineError.badValue(option: "--count", expected: "a whole number from 1 to 10", got: "0")) {
            try r.integer("--count", in: 1...10)
        }
        #expect(throws: CommandLineError.self) { try r.integer("--count", as: Int32.self).map { _ in try r.integer("--count", in: UInt8(1)...UInt8(2), as: UInt8.self) } }
        #expect(try r.integer("--missing") == nil, "an option not given is nil, not a default")
    }

    @Test func valuesMayLookLikeNumbersOrDashes() throws {
        let p = try run(["submit", "--count", "-3", "--stop", "\n", "--stop", "--", "-"])
        #expect(try p.integer("--count") == -3)
        #expect(p.strings("--stop") == ["\n", "--"])
        #expect(p.positionals == ["-"], "- alone (stdin) is an argument")
        let n = try run(["submit", "-5"])
        #expect(n.positionals == ["-5"], "a negative number is an argument, not an option")
    }

    @Test func usageWrapsAndAlignsFromTheDeclarations() {
        let text = UsageText.command(Self.program, path: ["submit"])
        #expect(text.split(separator: "\n").allSatisfy { $0.count <= 110 })
        #expect(text.contains("usage: hive submit [options] [GOAL]"))
        #expect(text.contains("  --exec CMD [ARGS…] [--]"))
        let top = UsageText.program(Self.program)
        #expect(top.contains("usage: hive [shared options] COMMAND"))
        #expect(top.contains("  goals"))
    }

    @Test func defaultCommandTakesTheProgramsOptions() throws {
        let drone = ProgramSpec("drone", summary: "a worker", commands: [
            CommandSpec("bench", summary: "measure", options: [.value("--runs", "N", help: "runs")]),
        ], defaultCommand: CommandSpec("drone", summary: "run", options: [.value("--slots", "N", help: "slots")]))
        guard case .run(let p) = drone.resolve(["--slots", "4"]) else { Issue.record("not run"); return }
        #expect(p.path.isEmpty && p.string("--slots") == "4")
        guard case .run(let b) = drone.resolve(["bench", "--runs", "2"]) else { Issue.record("not run"); return }
        #expect(b.path == ["bench"])
        guard case .run = drone.resolve([]) else { Issue.record("a bare default command runs"); return }
        guard case .failed(let e, let hint) = drone.resolve(["--slot", "4"]) else { Issue.record("not refused"); return }
        #expect(e == .unknownOption("--slot", command: "drone", suggestion: "--slots"))
        #expect(hint == "see drone --help")
        guard case .help(let text) = drone.resolve(["--help"]) else { Issue.record("no help"); return }
        #expect(text.contains("--slots N") && text.contains("bench"))
    }
}

enum Tier: String, CaseIterable { case edge, worker, core }

extension CommandLineTests {
    @Test func sharedOptionValuesAreNotTakenForSubcommands() throws {
        let p = try run(["module", "--honeycomb", "nats://x:1", "add", "m.wasm"])
        #expect(p.path == ["module", "add"] && p.positionals == ["m.wasm"] && p.string("--honeycomb") == "nats://x:1")
        #expect(failure(["module", "--honeycomb", "nats://x:1"])?.0 == .missingSubcommand(command: "hive module", choices: ["add", "ls"]))
    }
}
