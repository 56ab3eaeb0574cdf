/// Every size and count an MCP server can make the drone hold, each with a default. A server is untrusted: a
/// reply over a limit is an error naming the limit, never an unbounded buffer.
public struct MCPLimits: Sendable, Equatable {
    /// One JSON-RPC message (a stdio line, an HTTP body or one SSE event), bytes.
    public var maxMessageBytes = 4 << 20
    /// Tools one server may offer (more: the listing fails naming this limit).
    public var maxTools = 512
    /// `tools/list` pages followed (`nextCursor`) before the listing fails.
    public var maxPages = 64
    /// A tool's description, bytes (a longer one: the tool is left out, with a warning).
    public var maxDescriptionBytes = 8 << 10
    /// A tool's input schema after `$ref` inlining, bytes of JSON (a larger one: the tool is left out).
    public var maxSchemaBytes = 64 << 10
    /// Nesting depth of a schema while inlining (deeper: refused).
    public var maxSchemaDepth = 32
    /// A tool name (without the `server.` prefix), bytes: MCP's own bound is 128.
    public var maxToolNameBytes = 128
    /// Bytes of a server's stderr logged per line; the rest of the line is cut.
    public var maxStderrLineBytes = 1 << 10
    /// Bytes of a server's stderr logged in all (then one note, and the rest is read and dropped).
    public var maxStderrBytes = 1 << 20
    /// Handshake (`initialize`, `tools/list` page) timeout, milliseconds.
    public var requestTimeoutMillis = 30_000
    /// Answers to a stdio server's own requests (`ping`) waiting to be written at once; past it a request is dropped
    /// unanswered (a server can send pings faster than it reads the replies).
    public var maxPendingReplies = 16
    /// Least time between two listings a change notice asks for, milliseconds: a server that sends
    /// `notifications/tools/list_changed` after every listing is listed this often, not in a loop.
    public var relistIntervalMillis = 250
    /// Waiting for a server's stdin to take a message, milliseconds (a server that stops reading).
    public var writeTimeoutMillis = 10_000

    public init() {}
}
