import Foundation
import HiveCore

/// Where one MCP server is: a command the drone starts (stdio) or a streamable HTTP endpoint.
public enum MCPEndpoint: Sendable, Equatable {
    case stdio(argv: [String])
    case http(URL)
}

/// One `drone --mcp NAME='command args…'` or `--mcp NAME=http(s)://…`.
public struct MCPServerSpec: Sendable, Equatable {
    /// The prefix of its tools' names (`time` in `time.get_current_time`).
    public var name: String
    public var endpoint: MCPEndpoint

    public init(name: String, endpoint: MCPEndpoint) {
        self.name = name
        self.endpoint = endpoint
    }

    /// A server name: 1 to 32 letters, digits, `-` and `_` (it becomes part of tool names and `tool:` capabilities,
    /// so no `.`).
    public static func isValidName(_ s: String) -> Bool { ToolAdvert.isValidServerName(s) }

    /// Parses `NAME=VALUE`: an `http://` or `https://` URL, or a command line (words split on blanks, `'…'` and
    /// `"…"` quoting, `\` escaping the next character).
    public static func parse(_ text: String) throws(MCPSpecError) -> MCPServerSpec {
        guard let eq = text.firstIndex(of: "=") else { throw .init("--mcp takes NAME=COMMAND or NAME=http(s)://URL, not '\(text)'") }
        let name = String(text[..<eq]), value = String(text[text.index(after: eq)...]).trimmingCharacters(in: .whitespaces)
        guard isValidName(name) else {
            throw .init("--mcp server name '\(name)' must be 1 to 32 letters, digits, - and _ (it prefixes its tools' names)")
        }
        if value.hasPrefix("http://") || value.hasPrefix("https://") {
            guard let url = URL(string: value), url.host != nil else { throw .init("--mcp \(name): '\(value)' is not a URL") }
            return MCPServerSpec(name: name, endpoint: .http(url))
        }
        let words = try words(value)
        guard !words.isEmpty else { throw .init("--mcp \(name)= needs a command or an http(s):// URL") }
        return MCPServerSpec(name: name, endpoint: .stdio(argv: words))
    }

    static func words(_ s: String) throws(MCPSpecError) -> [String] {
        var words: [String] = [], word = "", inWord = false
        var quote: Character?
        var escaped = false
        for ch in s {
            if escaped { word.append(ch); escaped = false; inWord = true; continue }
            if ch == "\\" && quote != "'" { escaped = true; continue }
            if let q = quote {
                if ch == q { quote = nil } else { word.append(ch) }
                continue
            }
            if ch == "'" || ch == "\"" { quote = ch; inWord = true; continue }
            if ch == " " || ch == "\t" {
                if inWord { words.append(word); word = ""; inWord = false }
                continue
            }
            word.append(ch)
            inWord = true
        }
        guard quote == nil, !escaped else { throw .init("--mcp command '\(s)' has an unclosed quote or a trailing \\") }
        if inWord { words.append(word) }
        return words
    }
}

/// A `--mcp` value that cannot be used, with what is wrong in it.
public struct MCPSpecError: Error, Sendable, CustomStringConvertible {
    public let description: String
    init(_ d: String) { description = d }
}
