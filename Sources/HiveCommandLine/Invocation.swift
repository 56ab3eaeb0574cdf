/// What a program's command line asks for, before anything runs.
public enum Invocation: Sendable {
    /// Run this command with these arguments.
    case run(ParsedArguments)
    /// Help was asked for (`--help`, `-h`, `help COMMAND`): print it, exit 0.
    case help(String)
    /// Nothing was given to a program that needs a command: print this usage, exit 64.
    case usage(String)
    /// The command line is wrong: print `message` and `hint` (where the help is), exit 64.
    case failed(CommandLineError, hint: String)
}

extension ProgramSpec {
    /// Resolves a command line (without the program's own name): the program's shared options first, then the
    /// command (and subcommand), then that command's options, the shared ones included, in any order.
    public func resolve(_ args: [String]) -> Invocation {
        let shared = CommandParser(commandName: name, options: sharedOptions, arguments: [])
        var seed = ParsedArguments(commandName: name, path: [])
        var i = 0
        while i < args.count, CommandParser.looksLikeOption(args[i]), args[i] != "--" {
            let a = args[i]
            if a == "-h" || a == "--help" { return .help(UsageText.program(self)) }
            let optionName = a.firstIndex(of: "=").map { String(a[..<$0]) } ?? a
            guard let option = shared.byName[optionName], option.kind != .rest else {
                if let d = defaultCommand { return run(d, path: [], Array(args[i...]), seed: seed) }
                let known = CommandParser(commandName: name, options: sharedOptions + commands.flatMap(\.options), arguments: [])
                return .failed(.unknownOption(a, command: name, suggestion: known.suggestion(for: optionName)), hint: hint([]))
            }
            // One shared option at a time through the command parser's own rules.
            let width = option.kind == .flag || optionName != a ? 1 : 2
            let piece = Array(args[i..<min(args.count, i + width)])
            do {
                guard case .parsed(let p) = try shared.parse(piece, into: seed) else { return .help(UsageText.program(self)) }
                seed = p
            } catch {
                return .failed(error, hint: hint([]))
            }
            i += width
        }
        guard i < args.count else {
            if let d = defaultCommand { return run(d, path: [], [], seed: seed) }
            return .usage(UsageText.program(self))
        }
        let word = args[i]
        if word == "help" && command("help") == nil {
            var path: [String] = []
            var spec: CommandSpec?
            for w in args[(i + 1)...] {
                guard let next = spec.map({ $0.subcommand(w) }) ?? command(w) else {
                    return .failed(.unknownCommand(w, program: ([name] + path).joined(separator: " "),
                                                   suggestion: closest(w, (spec?.subcommands ?? commands).map(\.name))), hint: hint(path))
                }
                spec = next
                path.append(w)
            }
            return .help(path.isEmpty ? UsageText.program(self) : UsageText.command(self, path: path))
        }
        if let c = command(word) { return run(c, path: [word], Array(args[(i + 1)...]), seed: seed) }
        if let d = defaultCommand { return run(d, path: [], Array(args[i...]), seed: seed) }
        return .failed(.unknownCommand(word, program: name, suggestion: closest(word, commands.filter { !$0.hidden }.map(\.name))), hint: hint([]))
    }

    func run(_ c: CommandSpec, path: [String], _ args: [String], seed: ParsedArguments) -> Invocation {
        let fullName = ([name] + path).joined(separator: " ")
        if !c.subcommands.isEmpty {
            // The first argument that is neither an option nor a shared option's value names the subcommand.
            var at = 0, wordIndex: Int?
            while at < args.count {
                let a = args[at]
                if !CommandParser.looksLikeOption(a) { wordIndex = at; break }
                if let o = sharedOptions.first(where: { $0.name == a }), o.kind == .value || o.kind == .repeated { at += 1 }
                at += 1
            }
            guard let wordIndex else {
                if args.contains("-h") || args.contains("--help") { return .help(UsageText.command(self, path: path)) }
                return .failed(.missingSubcommand(command: fullName, choices: c.subcommands.map(\.name)), hint: hint(path))
            }
            let word = args[wordIndex]
            guard let sub = c.subcommand(word) else {
                if args.contains("-h") || args.contains("--help") { return .help(UsageText.command(self, path: path)) }
                return .failed(.unknownCommand(word, program: fullName, suggestion: closest(word, c.subcommands.map(\.name))), hint: hint(path))
            }
            var rest = args
            rest.remove(at: wordIndex)
            return run(sub, path: path + [word], rest, seed: seed)
        }
        let parser = CommandParser(commandName: fullName, path: path, options: c.options + sharedOptions, arguments: c.arguments)
        do {
            switch try parser.parse(args, into: seed) {
            case .help: return .help(UsageText.command(self, path: path))
            case .parsed(let p): return .run(p)
            }
        } catch {
            return .failed(error, hint: hint(path))
        }
    }

    /// Where the help for a command is: `see hive submit --help`.
    public func hint(_ path: [String]) -> String { "see \(([name] + path).joined(separator: " ")) --help" }

    /// The spec at `path` (empty: the default command, if any).
    public func spec(at path: [String]) -> CommandSpec? {
        guard let first = path.first else { return defaultCommand }
        var spec = command(first)
        for w in path.dropFirst() { spec = spec?.subcommand(w) }
        return spec
    }
}

func closest(_ word: String, _ names: [String]) -> String? {
    names.map { ($0, editDistance(word, $0)) }.filter { $0.1 <= 2 }.min { ($0.1, $0.0) < ($1.1, $1.0) }?.0
}
