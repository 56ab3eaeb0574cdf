/// One option a command accepts, declared once: parsing, typed access and the help text all come from it.
public struct OptionSpec: Sendable, Hashable {
    /// What the option takes from the command line.
    public enum Kind: Sendable, Hashable {
        /// Present or not (`--wait`).
        case flag
        /// One value (`--count N`, or `--count=N`); given twice, the last one counts.
        case value
        /// One value each time it is given, all kept in order (`--stop S --stop T`).
        case repeated
        /// Every following argument, verbatim, up to a `--` (when one follows) or else up to the next option
        /// this command knows (`--exec CMD ARGS… [--]`): the way to hand over another program's command line.
        case rest
    }

    /// The long name with its dashes (`--count`).
    public let name: String
    /// A one-letter alias with its dash (`-n`), if any.
    public let short: String?
    public let kind: Kind
    /// What the help shows for the value (`N`, `FILE`); empty for a flag.
    public let valueName: String
    public let help: String
    /// The default, as the help shows it (nil: none worth showing).
    public let defaultText: String?

    public init(_ name: String, short: String? = nil, kind: Kind, valueName: String = "", help: String, defaultText: String? = nil) {
        precondition(name.hasPrefix("--") && name.count > 2, "an option's name is --something: \(name)")
        self.name = name
        self.short = short
        self.kind = kind
        self.valueName = valueName
        self.help = help
        self.defaultText = defaultText
    }

    public static func flag(_ name: String, short: String? = nil, help: String) -> OptionSpec {
        OptionSpec(name, short: short, kind: .flag, help: help)
    }

    public static func value(_ name: String, _ valueName: String, short: String? = nil, help: String, default defaultText: String? = nil) -> OptionSpec {
        OptionSpec(name, short: short, kind: .value, valueName: valueName, help: help, defaultText: defaultText)
    }

    public static func repeated(_ name: String, _ valueName: String, help: String) -> OptionSpec {
        OptionSpec(name, kind: .repeated, valueName: valueName, help: help)
    }

    public static func rest(_ name: String, _ valueName: String, help: String) -> OptionSpec {
        OptionSpec(name, kind: .rest, valueName: valueName, help: help)
    }

    /// How the option reads in a synopsis: `--count N`, `--wait`, `--exec CMD [ARGS…] [--]`.
    public var synopsis: String {
        switch kind {
        case .flag: return name
        case .value, .repeated: return "\(name) \(valueName)"
        case .rest: return "\(name) \(valueName) [--]"
        }
    }
}

/// A positional argument a command takes.
public struct ArgumentSpec: Sendable, Hashable {
    public enum Arity: Sendable, Hashable {
        case one, optional, many, oneOrMore
    }

    public let name: String
    public let arity: Arity
    public let help: String

    public init(_ name: String, _ arity: Arity = .one, help: String) {
        self.name = name
        self.arity = arity
        self.help = help
    }

    var synopsis: String {
        switch arity {
        case .one: return name
        case .optional: return "[\(name)]"
        case .many: return "[\(name)…]"
        case .oneOrMore: return "\(name)…"
        }
    }
}
