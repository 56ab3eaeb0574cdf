/// Help text written from the declarations: the only place usage is spelled out, so it cannot drift from what
/// the parser accepts.
public enum UsageText {
    static let width = 110

    /// `PROGRAM --help`: the commands and the shared options (and, for a program with a default command, that
    /// command's usage and options).
    public static func program(_ p: ProgramSpec) -> String {
        var out: [String] = []
        if let d = p.defaultCommand {
            out += usageLines(p.name, d)
            for c in p.commands where !c.hidden { out += usageLines("\(p.name) \(c.name)", c).map { "       " + $0.dropFirst(7) } }
            out += [""] + wrap(p.summary, width: width)
            if let text = d.discussion { out += [""] + wrap(text, width: width) }
            if !d.arguments.isEmpty { out += ["", "arguments:"] + rows(d.arguments.map { ($0.name, $0.help) }) }
            if !d.options.isEmpty { out += ["", "options:"] + optionRows(d.options) }
        } else {
            out.append("usage: \(p.name)\(p.sharedOptions.isEmpty ? "" : " [shared options]") COMMAND [options] [ARGUMENTS]")
            out += [""] + wrap(p.summary, width: width)
        }
        let visible = p.commands.filter { !$0.hidden }
        if !visible.isEmpty { out += ["", "commands:"] + rows(visible.map { ($0.name, $0.summary) }) }
        if !p.sharedOptions.isEmpty {
            out += ["", "shared options (before or after the command):"] + optionRows(p.sharedOptions)
        }
        if !visible.isEmpty { out += ["", "\(p.name) COMMAND --help (or \(p.name) help COMMAND) shows a command's options."] }
        if let footer = p.footer { out += [""] + wrap(footer, width: width) }
        return out.joined(separator: "\n")
    }

    /// `PROGRAM COMMAND --help`.
    public static func command(_ p: ProgramSpec, path: [String]) -> String {
        guard let c = p.spec(at: path) else { return program(p) }
        if path.isEmpty { return program(p) }
        let fullName = ([p.name] + path).joined(separator: " ")
        var out = usageLines(fullName, c)
        out += [""] + wrap(c.summary, width: width)
        if let text = c.discussion { out += [""] + wrap(text, width: width) }
        if !c.subcommands.isEmpty {
            out += ["", "commands:"] + rows(c.subcommands.map { ($0.name, $0.summary) })
            out += ["", "\(fullName) COMMAND --help shows a command's options."]
        }
        if !c.arguments.isEmpty { out += ["", "arguments:"] + rows(c.arguments.map { ($0.name, $0.help) }) }
        if !c.options.isEmpty { out += ["", "options:"] + optionRows(c.options) }
        if !p.sharedOptions.isEmpty && c.subcommands.isEmpty {
            out += ["", "shared options (also before \(path[0])):"] + optionRows(p.sharedOptions)
        }
        return out.joined(separator: "\n")
    }

    static func usageLines(_ fullName: String, _ c: CommandSpec) -> [String] {
        var forms = c.usage
        if forms.isEmpty {
            var words: [String] = []
            if !c.options.isEmpty { words.append("[options]") }
            if !c.subcommands.isEmpty { words.append("COMMAND") }
            words += c.arguments.map(\.synopsis)
            forms = [words.joined(separator: " ")]
        }
        // Long forms wrap under their own start.
        var lines: [String] = []
        for (n, form) in forms.enumerated() {
            let lead = (n == 0 ? "usage: " : "       ") + fullName
            let pieces = wrap(form, width: max(40, width - lead.count - 1))
            lines.append(lead + (form.isEmpty ? "" : " " + pieces[0]))
            lines += pieces.dropFirst().map { String(repeating: " ", count: lead.count + 3) + $0 }
        }
        return lines
    }

    static func optionRows(_ options: [OptionSpec]) -> [String] {
        rows(options.map { o in
            let names = (o.short.map { "\($0), " } ?? "") + o.synopsis
            return (names, o.help + (o.defaultText.map { " (default: \($0))" } ?? ""))
        })
    }

    /// Two columns: names padded to a common width (at most 30; a longer name gets a line of its own), the text
    /// wrapped to the page.
    static func rows(_ items: [(String, String)]) -> [String] {
        let column = min(30, (items.map(\.0.count).max() ?? 0) + 4)
        var out: [String] = []
        for (name, text) in items {
            let lead = "  " + name
            let wrapped = wrap(text, width: width - column)
            let pad = String(repeating: " ", count: column)
            if lead.count + 2 > column {
                out.append(lead)
                out += wrapped.map { pad + $0 }
            } else {
                out.append(lead + String(repeating: " ", count: column - lead.count) + (wrapped.first ?? ""))
                out += wrapped.dropFirst().map { pad + $0 }
            }
        }
        return out
    }

    /// Words to lines of at most `width` characters (a longer word stands alone); explicit newlines are kept.
    static func wrap(_ text: String, width: Int) -> [String] {
        var lines: [String] = []
        for paragraph in text.split(separator: "\n", omittingEmptySubsequences: false) {
            var line = ""
            for word in paragraph.split(separator: " ") {
                if !line.isEmpty && line.count + 1 + word.count > width {
                    lines.append(line)
                    line = ""
                }
                line += (line.isEmpty ? "" : " ") + word
            }
            lines.append(line)
        }
        return lines
    }
}
