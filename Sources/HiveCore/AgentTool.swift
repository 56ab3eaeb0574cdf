import Foundation

/// One tool an `agent` task may call, as a drone offers it: from an MCP server it hosts (`time.get_current_time`:
/// `<server>.<tool>`), an allow-listed exec command or a stored WebAssembly module, all in this one shape.
///
/// `inputSchema` is what reaches a grammar or a provider, so `$ref`/`$defs` are already inlined. `pin` is what a
/// goal holds on to: a definition that changes after a goal was submitted (new description, new schema) no longer
/// matches the goal's pin and is refused, so a server cannot swap a tool's meaning mid-goal.
public struct ToolDefinition: Codable, Sendable, Equatable {
    /// `<server>.<tool>`: the name goals and `tool:` capabilities use.
    public var name: String
    public var description: String
    public var inputSchema: JSONValue
    /// Declared side effects (MCP `destructiveHint`, `readOnlyHint: false`, or the drone's config): calls need
    /// an approval first.
    public var sideEffecting: Bool

    public init(name: String, description: String, inputSchema: JSONValue, sideEffecting: Bool) {
        self.name = name
        self.description = description
        self.inputSchema = inputSchema
        self.sideEffecting = sideEffecting
    }

    /// `sha256:<hex>` over the canonical JSON (sorted keys) of name, description, schema and side effects.
    public var pin: String {
        let bytes = CanonicalJSON.encode(self) ?? []
        return "sha256:" + SHA256.hex(bytes)
    }

    /// Bytes the definition adds to a model's prompt (name, description, schema JSON and 16 for the framing): the
    /// one estimate of a tool's cost, used for each turn's bound on the drone and for the goal's token reservation.
    public var promptBytes: Int {
        name.utf8.count + description.utf8.count + inputSchema.compactJSON.utf8.count + 16
    }

    enum CodingKeys: String, CodingKey {
        case name, description
        case inputSchema = "input_schema"
        case sideEffecting = "side_effecting"
    }
}

/// What one tool call gave back. `isError` results (MCP's `isError: true`, a non-zero exit) are handed to the
/// model as text so it can try again; they do not fail the task.
public struct ToolCallResult: Codable, Sendable, Equatable {
    public var text: String
    public var isError: Bool

    public init(text: String, isError: Bool) {
        self.text = text
        self.isError = isError
    }

    enum CodingKeys: String, CodingKey {
        case text
        case isError = "is_error"
    }
}

/// Where a drone's tools come from: one MCP server (stdio or streamable HTTP), or the drone's built-in exec and
/// WebAssembly tools. Implementations bound every call by `timeoutMillis`, honour task cancellation, and throw
/// only for failures of the source itself (server gone, malformed reply, timeout), never for a tool's own error.
public protocol ToolSource: Sendable {
    /// The prefix of every tool name this source offers (`time` in `time.get_current_time`).
    var server: String { get }
    /// Every tool, paged through to the end, with schemas inlined; names carry the `server.` prefix. Sources may
    /// answer from a cached listing while it is known to be current (MCP: until a change notice or a reconnect).
    func listTools() async throws -> [ToolDefinition]
    /// Calls `tool` (the name without the `server.` prefix) with `arguments` (a JSON object).
    func call(_ tool: String, arguments: JSONValue, timeoutMillis: Int) async throws -> ToolCallResult
    /// Ends the source: stdio servers' processes are gone when this returns.
    func close() async
    /// Calls `handler` with the source's new definitions whenever they change while the drone runs (an MCP server's
    /// `notifications/tools/list_changed`, a restarted server offering other tools). Sources whose tools are fixed
    /// at start (exec, wasm) never call it.
    func onToolsChanged(_ handler: @escaping @Sendable ([ToolDefinition]) -> Void) async
}

