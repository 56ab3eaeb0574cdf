/// What can go wrong talking to one MCP server, each with a message an operator can act on. A tool's own failure
/// (`isError: true`) is not one of these: it comes back as a `ToolCallResult`.
public enum MCPError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The server process could not be started (`--mcp NAME='command …'`).
    case spawn(server: String, command: String, reason: String)
    /// The server process ended (or the HTTP endpoint could not be reached); `detail` holds its last stderr line.
    case transportClosed(server: String, detail: String)
    /// The server sent something that is not a JSON-RPC message we can use.
    case malformed(server: String, detail: String)
    /// A limit was hit; `limit` names it (and the option that raises it, where there is one).
    case limit(server: String, limit: String, detail: String)
    /// The server speaks no protocol version we do.
    case version(server: String, offered: String, supported: [String])
    /// A request got no answer in time (the server was told to cancel it).
    case timeout(server: String, method: String, millis: Int)
    /// The server answered a JSON-RPC error.
    case rpc(server: String, method: String, code: Int, message: String)
    /// The HTTP endpoint answered a status that is not a reply.
    case http(server: String, status: Int, detail: String)
    /// An input schema the client cannot inline (`$ref` cycle, a reference outside the document, too deep).
    case schema(server: String, tool: String, detail: String)
    /// A call was not retried after the server died during it, because the tool may have acted already.
    case notRetried(server: String, tool: String, detail: String)
    /// The HTTP server no longer knows our session (404): the client initializes again.
    case sessionExpired(server: String)
    /// The source was closed.
    case closed(server: String)
    /// The call's task was cancelled.
    case cancelled(server: String, method: String)

    public var description: String {
        switch self {
        case .spawn(let s, let c, let r): return "MCP server '\(s)': cannot start \(c): \(r)"
        case .transportClosed(let s, let d): return "MCP server '\(s)' is gone: \(d)"
        case .malformed(let s, let d): return "MCP server '\(s)' sent a malformed message: \(d)"
        case .limit(let s, let l, let d): return "MCP server '\(s)': \(d) (limit: \(l))"
        case .version(let s, let o, let v):
            return "MCP server '\(s)' speaks protocol \(o); this drone speaks \(v.joined(separator: ", ")): upgrade one of them"
        case .timeout(let s, let m, let ms): return "MCP server '\(s)': \(m) got no answer in \(ms) ms (cancelled)"
        case .rpc(let s, let m, let c, let msg): return "MCP server '\(s)' refused \(m): \(msg) (JSON-RPC error \(c))"
        case .http(let s, let st, let d): return "MCP server '\(s)' answered HTTP \(st): \(d)"
        case .schema(let s, let t, let d): return "MCP server '\(s)', tool \(t): input schema refused: \(d)"
        case .notRetried(let s, let t, let d):
            return "MCP server '\(s)' died during the call of \(t) (\(d)); not retried: the tool is not read-only and may have acted"
        case .sessionExpired(let s): return "MCP server '\(s)' forgot the session (HTTP 404)"
        case .closed(let s): return "MCP server '\(s)' was closed"
        case .cancelled(let s, let m): return "MCP server '\(s)': \(m) cancelled"
        }
    }
}
