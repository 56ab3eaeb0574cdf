/// A command line parsed against a `CommandSpec`: the options given and the positional arguments, with typed
/// accessors that refuse a bad value naming the option (never a silent default).
public struct ParsedArguments: Sendable {
    /// The command's full name (`hive module add`), for messages.
    public let commandName: String
    /// The command's path below the program (`["module", "add"]`; empty for a program's default command).
    public let path: [String]
    /// Values by long option name; a flag holds one empty string per time it was given.
    var values: [String: [String]]
    /// `.rest` options' argument lists.
    var rests: [String: [String]]
    public internal(set) var positionals: [String]

    public init(commandName: String, path: [String], values: [String: [String]] = [:], rests: [String: [String]] = [:],
                positionals: [String] = []) {
        self.commandName = commandName
        self.path = path
        self.values = values
        self.rests = rests
        self.positionals = positionals
    }

    /// Whether the option was given at all.
    public func has(_ option: String) -> Bool { values[option] != nil || rests[option] != nil }

    public func flag(_ option: String) -> Bool { values[option] != nil }

    /// The option's value (the last one when given more than once).
    public func string(_ option: String) -> String? { values[option]?.last }

    /// Every value of a repeated option, in order.
    public func strings(_ option: String) -> [String] { values[option] ?? [] }

    /// A `.rest` option's arguments (`--exec CMD ARGS…`); empty when not given.
    public func rest(_ option: String) -> [String] { rests[option] ?? [] }

    /// The value as a whole number of type `T`, within `range` when one is given.
    public func integer<T: FixedWidthInteger & Sendable>(_ option: String, in range: ClosedRange<T>? = nil,
                                                         as: T.Type) throws(CommandLineError) -> T? {
        guard let text = string(option) else { return nil }
        return try Self.integer(text, option: option, in: range)
    }

    /// The value as an `Int`, within `range` when one is given.
    public func integer(_ option: String, in range: ClosedRange<Int>? = nil) throws(CommandLineError) -> Int? {
        try integer(option, in: range, as: Int.self)
    }

    /// `text` as a whole number for `option`: the one rule every integer on a command line goes through.
    public static func integer<T: FixedWidthInteger>(_ text: String, option: String, in range: ClosedRange<T>? = nil) throws(CommandLineError) -> T {
        let expected = range.map { "a whole number from \($0.lowerBound) to \($0.upperBound)" }
            ?? (T.isSigned ? "a whole number" : "a whole number, 0 or more")
        guard let n = T(text.hasPrefix("+") ? String(text.dropFirst()) : text) else {
            throw .badValue(option: option, expected: expected, got: text)
        }
        if let range, !range.contains(n) { throw .badValue(option: option, expected: expected, got: text) }
        return n
    }

    /// The value as a finite number (decimals allowed), within `range` when one is given.
    public func number(_ option: String, in range: ClosedRange<Double>? = nil) throws(CommandLineError) -> Double? {
        guard let text = string(option) else { return nil }
        let expected = range.map { "a number from \(Self.plain($0.lowerBound)) to \(Self.plain($0.upperBound))" } ?? "a number"
        guard let x = Double(text), x.isFinite else { throw .badValue(option: option, expected: expected, got: text) }
        if let range, !range.contains(x) { throw .badValue(option: option, expected: expected, got: text) }
        return x
    }

    /// The value read by `parse`, which returns nil for anything but the `accepted` forms (listed in the error).
    public func choice<T>(_ option: String, accepted: [String], _ parse: (String) -> T?) throws(CommandLineError) -> T? {
        guard let text = string(option) else { return nil }
        guard let v = parse(text) else { throw .badValue(option: option, expected: Self.list(accepted), got: text) }
        return v
    }

    /// The value as one of an enum's cases, by raw value; the error lists them all.
    public func choice<T: RawRepresentable & CaseIterable>(_ option: String, as: T.Type) throws(CommandLineError) -> T? where T.RawValue == String {
        try choice(option, accepted: T.allCases.map(\.rawValue)) { T(rawValue: $0) }
    }

    /// "a, b or c".
    public static func list(_ words: [String]) -> String {
        guard words.count > 1 else { return words.first ?? "" }
        return words.dropLast().joined(separator: ", ") + " or " + words.last!
    }

    static func plain(_ x: Double) -> String { x == x.rounded() && abs(x) < 1e15 ? String(Int64(x)) : String(x) }
}
