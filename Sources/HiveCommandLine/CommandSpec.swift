/// A command (or subcommand) as declared: its name, what it is for, its options and arguments, and its
/// subcommands. `CommandParser` parses against it and `UsageText` writes its help from it.
public struct CommandSpec: Sendable {
    public let name: String
    /// One line for the list of commands.
    public let summary: String
    /// Synopsis lines after the command's full name (`--exec CMD [ARGS…] [--count N]`); empty: generated from the
    /// options and arguments.
    public var usage: [String]
    /// What the help says beyond the summary (the why, how the forms differ).
    public var discussion: String?
    public var options: [OptionSpec]
    public var arguments: [ArgumentSpec]
    /// Subcommands (`module add`, `module ls`): a command that has them takes its first argument as one.
    public var subcommands: [CommandSpec]
    /// Left out of the program's list of commands (internal tools, e.g. `bench-control`), still parsed.
    public var hidden: Bool

    public init(_ name: String, summary: String, usage: [String] = [], discussion: String? = nil, options: [OptionSpec] = [],
                arguments: [ArgumentSpec] = [], subcommands: [CommandSpec] = [], hidden: Bool = false) {
        self.name = name
        self.summary = summary
        self.usage = usage
        self.discussion = discussion
        self.options = options
        self.arguments = arguments
        self.subcommands = subcommands
        self.hidden = hidden
        var seen = Set<String>()
        for o in options {
            precondition(seen.insert(o.name).inserted, "\(name) declares \(o.name) twice")
            if let s = o.short { precondition(seen.insert(s).inserted, "\(name) declares \(s) twice") }
        }
    }

    public func subcommand(_ name: String) -> CommandSpec? { subcommands.first { $0.name == name } }
}

/// A program: its commands and the options every command shares, accepted before or after the command's name.
public struct ProgramSpec: Sendable {
    public let name: String
    public let summary: String
    public var sharedOptions: [OptionSpec]
    public var commands: [CommandSpec]
    /// The command that runs when the first argument names none (`drone --tier core` runs the drone; `honeycombd`
    /// serves): its options are the program's.
    public var defaultCommand: CommandSpec?
    /// Text after the lists in `--help` (environment, notes).
    public var footer: String?

    public init(_ name: String, summary: String, sharedOptions: [OptionSpec] = [], commands: [CommandSpec] = [],
                defaultCommand: CommandSpec? = nil, footer: String? = nil) {
        self.name = name
        self.summary = summary
        self.sharedOptions = sharedOptions
        self.commands = commands
        self.defaultCommand = defaultCommand
        self.footer = footer
    }

    public func command(_ name: String) -> CommandSpec? { commands.first { $0.name == name } }
}
