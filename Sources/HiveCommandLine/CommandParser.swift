/// Parses one command's arguments against its `CommandSpec` (plus the program's shared options).
///
/// Rules: `-h`/`--help` anywhere before `--` asks for help; `--name=value` and `--name value` both work; an
/// argument that starts with `-` and is not a known option is an error (a negative number is an argument);
/// `--` ends the options (everything after is an argument), except right after a `.rest` option, where it ends
/// that option's arguments and options may follow.
public struct CommandParser {
    public enum Outcome: Sendable {
        case parsed(ParsedArguments)
        case help
    }

    let commandName: String
    let path: [String]
    let arguments: [ArgumentSpec]
    let byName: [String: OptionSpec]

    public init(commandName: String, path: [String] = [], options: [OptionSpec], arguments: [ArgumentSpec]) {
        self.commandName = commandName
        self.path = path
        self.arguments = arguments
        var byName: [String: OptionSpec] = [:]
        for o in options {
            byName[o.name] = o
            if let s = o.short { byName[s] = o }
        }
        self.byName = byName
    }

    /// An argument that reads as an option rather than a value: `-x`, `--name`; not `-`, not `-5`, not `-.5`.
    public static func looksLikeOption(_ a: String) -> Bool {
        guard a.hasPrefix("-"), a.count > 1 else { return false }
        return Double(a) == nil
    }

    public func parse(_ args: [String], into seed: ParsedArguments? = nil) throws(CommandLineError) -> Outcome {
        var parsed = seed.map { ParsedArguments(commandName: commandName, path: path, values: $0.values, rests: $0.rests, positionals: $0.positionals) }
            ?? ParsedArguments(commandName: commandName, path: path)
        var i = 0
        var endOfOptions = false
        while i < args.count {
            let a = args[i]
            i += 1
            if endOfOptions || !Self.looksLikeOption(a) {
                parsed.positionals.append(a)
                continue
            }
            if a == "--" {
                endOfOptions = true
                continue
            }
            if a == "-h" || a == "--help" { return .help }
            var name = a, inline: String?
            if a.hasPrefix("--"), let eq = a.firstIndex(of: "=") {
                name = String(a[..<eq])
                inline = String(a[a.index(after: eq)...])
            }
            guard let option = byName[name] else {
                throw .unknownOption(a, command: commandName, suggestion: suggestion(for: name))
            }
            switch option.kind {
            case .flag:
                if inline != nil { throw .flagTakesNoValue(option.name) }
                parsed.values[option.name, default: []].append("")
            case .value, .repeated:
                let v: String
                if let inline { v = inline } else {
                    guard i < args.count else { throw .missingValue(option: option.name, valueName: option.valueName) }
                    v = args[i]
                    i += 1
                }
                if option.kind == .value { parsed.values[option.name] = [v] } else { parsed.values[option.name, default: []].append(v) }
            case .rest:
                var taken: [String] = inline.map { [$0] } ?? []
                if let end = args[i...].firstIndex(of: "--") {
                    taken += args[i..<end]
                    i = end + 1
                } else {
                    while i < args.count && !isKnownOption(args[i]) {
                        taken.append(args[i])
                        i += 1
                    }
                }
                guard !taken.isEmpty else { throw .missingValue(option: option.name, valueName: option.valueName) }
                parsed.rests[option.name] = taken
            }
        }
        try checkArity(parsed.positionals)
        return .parsed(parsed)
    }

    func isKnownOption(_ a: String) -> Bool {
        if a == "--help" { return true }
        guard a.hasPrefix("--") else { return false }
        let name = a.firstIndex(of: "=").map { String(a[..<$0]) } ?? a
        return byName[name] != nil
    }

    func checkArity(_ positionals: [String]) throws(CommandLineError) {
        var least = 0, most: Int? = 0
        for a in arguments {
            switch a.arity {
            case .one: least += 1; most = most.map { $0 + 1 }
            case .optional: most = most.map { $0 + 1 }
            case .many: most = nil
            case .oneOrMore: least += 1; most = nil
            }
        }
        if let most, positionals.count > most {
            throw .unexpectedArgument(positionals[most], command: commandName)
        }
        if positionals.count < least {
            // The first argument not given, counting required ones in order.
            var have = positionals.count
            for a in arguments where a.arity == .one || a.arity == .oneOrMore {
                if have == 0 { throw .missingArgument(name: a.name, command: commandName) }
                have -= 1
            }
        }
    }

    /// The known option closest to a mistyped one (edit distance at most 2), for "did you mean".
    func suggestion(for name: String) -> String? {
        let candidates = Set(byName.values.map(\.name))
        let scored = candidates.map { ($0, editDistance(name, $0)) }.filter { $0.1 <= 2 }
        return scored.min { ($0.1, $0.0) < ($1.1, $1.0) }?.0
    }
}

/// Levenshtein distance, for suggestions (short strings only).
func editDistance(_ a: String, _ b: String) -> Int {
    let x = Array(a.utf8), y = Array(b.utf8)
    guard !x.isEmpty else { return y.count }
    guard !y.isEmpty else { return x.count }
    var previous = Array(0...y.count)
    for i in 1...x.count {
        var current = [i] + Array(repeating: 0, count: y.count)
        for j in 1...y.count {
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (x[i - 1] == y[j - 1] ? 0 : 1))
        }
        previous = current
    }
    return previous[y.count]
}
