/// Why a command line was refused, in words that name the option or argument at fault. The program's edge
/// prints one line and where to look (`see hive submit --help`), never the whole usage.
public enum CommandLineError: Error, Sendable, Equatable, CustomStringConvertible {
    /// An argument that looks like an option but is none of this command's.
    case unknownOption(String, command: String, suggestion: String?)
    case unknownCommand(String, program: String, suggestion: String?)
    /// A command with subcommands given none.
    case missingSubcommand(command: String, choices: [String])
    case missingValue(option: String, valueName: String)
    /// A value of the wrong form: `--count takes a whole number, not 'x'`.
    case badValue(option: String, expected: String, got: String)
    /// A flag given a value (`--wait=yes`).
    case flagTakesNoValue(String)
    case missingArgument(name: String, command: String)
    case unexpectedArgument(String, command: String)
    /// Anything else a command checks about its arguments, as a sentence.
    case invalid(String)

    public var description: String {
        switch self {
        case .unknownOption(let o, let c, let s):
            return "unknown option '\(o)' for \(c)" + (s.map { " (did you mean \($0)?)" } ?? "")
        case .unknownCommand(let name, let p, let s):
            return "unknown command '\(name)' for \(p)" + (s.map { " (did you mean \($0)?)" } ?? "")
        case .missingSubcommand(let c, let choices):
            return "\(c) needs one of: \(choices.joined(separator: ", "))"
        case .missingValue(let o, let v): return "\(o) needs a value (\(v))"
        case .badValue(let o, let e, let got): return "\(o) takes \(e), not '\(got)'"
        case .flagTakesNoValue(let o): return "\(o) takes no value"
        case .missingArgument(let name, let c): return "\(c) needs \(name)"
        case .unexpectedArgument(let a, let c): return "unexpected argument '\(a)' for \(c)"
        case .invalid(let text): return text
        }
    }
}
