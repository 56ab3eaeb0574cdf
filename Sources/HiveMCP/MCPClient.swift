import Foundation
import HiveCore
import HiveLog
import HiveSystem
import Synchronization

/// One MCP server as a `ToolSource`: connects on first use (a stdio server is started then), negotiates the
/// protocol, lists tools (paged to the end, schemas inlined, every size bounded) and calls them under a deadline.
///
/// - **Versions.** Over HTTP the stateless revision (2026-07-28) is tried first: `server/discover`, and when the
///   server lists it, every request carries `_meta` (version, client, capabilities) and `Mcp-Method`/`Mcp-Name`
///   headers, with no session. Otherwise, and always over stdio, `initialize` offers the newest handshake revision
///   we speak (`supportedVersions[0]`); the server's answer is accepted if we speak it too, else the connection is
///   closed with an error naming both sides.
/// - **Timeouts.** Every request has a deadline (a call's `timeoutMillis`, `MCPLimits.requestTimeoutMillis` for the
///   rest); past it, or when the calling task is cancelled, the server is sent `notifications/cancelled` and the
///   call throws: nothing waits on a server for ever.
/// - **Reconnects.** A dead transport (the stdio process exited, the HTTP server forgot the session) is replaced
///   on the next request. A request that failed because the transport died is retried once after reconnecting
///   when it cannot have acted: `tools/list`, `initialize`, and calls of tools the server declares read-only. A
///   call of any other tool that was in flight when the server died is not retried (it may have acted); the error
///   says so, and the next call starts afresh.
/// - **Tool lists.** `listTools` answers from the last listing until the server sends
///   `notifications/tools/list_changed` or the connection is made anew (a restarted server may offer other tools):
///   then the next call lists again. A change notice also re-lists at once and, when the definitions differ, tells
///   `onToolsChanged`'s handler (the drone announces its tools again). Notices that come while a listing runs
///   are folded into one more listing after it.
/// - **Side effects.** A tool is side-effecting unless it is annotated `readOnlyHint: true` or the operator
///   declares it read-only (`readOnlyTools`, from `drone --mcp-read-only`). MCP's own defaults (`readOnlyHint`
///   false, `destructiveHint` true) make an unannotated tool side-effecting too: it waits for an approval.
public actor MCPClient: ToolSource {
    public nonisolated let server: String
    public nonisolated let endpoint: MCPEndpoint
    public nonisolated let limits: MCPLimits
    /// Tools (names without the prefix, or `*` for all) the operator declares free of side effects.
    public nonisolated let readOnlyTools: Set<String>
    /// The environment a stdio server gets.
    public nonisolated let environment: [String: String]
    /// Revisions of the handshake protocol this client speaks, newest first.
    public static let supportedVersions = ["2025-11-25", "2025-06-18", "2025-03-26"]
    /// Stateless revisions (no handshake, no session: `server/discover`, then every request self-contained), tried
    /// first over HTTP when `preferStateless` is set.
    public static let statelessVersions = ["2026-07-28"]
    /// Over HTTP, ask `server/discover` first and speak the stateless revision when the server does; any other
    /// answer falls back to the `initialize` handshake.
    public nonisolated let preferStateless: Bool
    /// The variables a stdio server inherits from the drone by default (what MCP's reference SDKs pass): the
    /// drone's own secrets (API keys, TLS keys) stay out of a server's reach.
    public static let inheritedVariables = ["HOME", "LOGNAME", "PATH", "SHELL", "TERM", "USER", "LANG", "LC_ALL", "TZ"]

    private var transport: (any MCPTransport)?
    private var connecting: Task<any MCPTransport, any Error>?
    private var nextID = 1
    private var isClosed = false
    /// The stateless revision in use (set by `server/discover`), nil on the handshake path.
    private var stateless: String?
    /// Tools the server declared `readOnlyHint: true` at the last listing (safe to call twice).
    private var readOnlyByServer: Set<String> = []
    /// The last listing, until a change notice or a new connection.
    private var cachedTools: [ToolDefinition]?
    /// The definitions last handed out (to tell whether a new listing changed anything).
    private var lastListed: [ToolDefinition]?
    private var toolsChangedHandler: (@Sendable ([ToolDefinition]) -> Void)?
    private var relisting = false
    private var relistAgain = false
    private var lastRelist: ContinuousClock.Instant?
    /// `tools_changed` lines: one a second, the rest counted.
    private let changeLines = LogThrottle(intervalMillis: 1_000)
    /// A change notice is waiting for the actor: later notices until it runs spawn nothing (a server sending them
    /// in a flood costs one task, not one each).
    private nonisolated let noticePending = Mutex(false)
    public private(set) var negotiatedVersion: String?
    public private(set) var serverName: String?
    private let log = Log("mcp")

    public init(_ spec: MCPServerSpec, limits: MCPLimits = MCPLimits(), readOnlyTools: Set<String> = [],
                environment: [String: String]? = nil, preferStateless: Bool = true) {
        server = spec.name
        self.preferStateless = preferStateless
        endpoint = spec.endpoint
        self.limits = limits
        self.readOnlyTools = readOnlyTools
        let drone = ProcessInfo.processInfo.environment
        self.environment = environment ?? drone.filter { Self.inheritedVariables.contains($0.key) }
    }

    /// The stdio server's process id (its process group id too) while one runs; nil for HTTP or before start.
    public var processID: Int32? {
        guard let s = transport as? StdioTransport, s.isAlive else { return nil }
        return s.processID
    }

    /// The HTTP session id while one is open.
    public var sessionID: String? { (transport as? HTTPTransport)?.session }

    // MARK: connection

    private func connected() async throws -> any MCPTransport {
        if isClosed { throw MCPError.closed(server: server) }
        if let t = transport, t.isAlive { return t }
        if let c = connecting { return try await c.value }
        let old = transport
        transport = nil
        let task = Task { () async throws -> any MCPTransport in
            if let old { await old.close() }
            return try await self.open()
        }
        connecting = task
        defer { connecting = nil }
        let t = try await task.value
        if isClosed {
            await t.close()
            throw MCPError.closed(server: server)
        }
        transport = t
        cachedTools = nil  // a new connection may be a new server, with other tools
        return t
    }

    private func open() async throws -> any MCPTransport {
        let t: any MCPTransport
        // Weak: the transport is this client's, so a strong capture would keep both alive.
        let notified: @Sendable (String) -> Void = { [weak self] method in self?.notified(method) }
        switch endpoint {
        case .stdio(let argv):
            t = try await StdioTransport(server: server, argv: argv, environment: environment, limits: limits, notified: notified)
        case .http(let url): t = HTTPTransport(server: server, url: url, limits: limits, notified: notified)
        }
        do {
            stateless = nil
            if let http = t as? HTTPTransport, preferStateless, try await discover(http) { return t }
            try await initialize(t)
        } catch {
            await t.close()
            throw error
        }
        return t
    }

    /// The stateless revision's discovery: true when the server speaks one of `statelessVersions` (then every
    /// later request carries its `_meta` and routing headers); false when it answers like a handshake-era server
    /// (an HTTP or JSON-RPC error), so the caller initializes instead.
    private func discover(_ t: HTTPTransport) async throws -> Bool {
        let version = Self.statelessVersions[0]
        let result: JSONObject
        do {
            result = try await send(t, "server/discover", [:], timeoutMillis: limits.requestTimeoutMillis, stamp: version)
        } catch MCPError.http, MCPError.rpc, MCPError.malformed {
            return false
        }
        guard case .array(let offered)? = result["supportedVersions"] else {
            throw MCPError.malformed(server: server, detail: "the server/discover reply has no supportedVersions")
        }
        let theirs = offered.compactMap { if case .string(let v) = $0 { v } else { nil } }
        guard theirs.contains(version) else { return false }
        stateless = version
        negotiatedVersion = version
        if case .object(let meta)? = result["_meta"], case .object(let info)? = meta["io.modelcontextprotocol/serverInfo"],
           case .string(let n)? = info["name"] { serverName = String(n.prefix(128)) }
        t.negotiated(version)
        log.info("server_ready", ["server": server, "protocol": version, "name": serverName ?? "?", "stateless": true])
        return true
    }

    /// What a stateless request carries in `_meta`.
    private static func statelessMeta(_ version: String) -> JSONObject {
        ["io.modelcontextprotocol/protocolVersion": .string(version),
         "io.modelcontextprotocol/clientInfo": .object(["name": .string("hive-drone"), "version": .string(HiveVersion.current)]),
         "io.modelcontextprotocol/clientCapabilities": .object([:])]
    }

    private func initialize(_ t: any MCPTransport) async throws {
        let params: JSONObject = [
            "protocolVersion": .string(Self.supportedVersions[0]),
            "capabilities": .object([:]),
            "clientInfo": .object(["name": .string("hive-drone"), "version": .string(HiveVersion.current)]),
        ]
        let result = try await send(t, "initialize", params, timeoutMillis: limits.requestTimeoutMillis)
        guard case .string(let version)? = result["protocolVersion"] else {
            throw MCPError.malformed(server: server, detail: "the initialize reply has no protocolVersion")
        }
        guard Self.supportedVersions.contains(version) else {
            throw MCPError.version(server: server, offered: version, supported: Self.supportedVersions)
        }
        negotiatedVersion = version
        if case .object(let info)? = result["serverInfo"], case .string(let n)? = info["name"] { serverName = String(n.prefix(128)) }
        (t as? HTTPTransport)?.negotiated(version)
        try await t.notify(method: "notifications/initialized", body: JSONRPC.notification(method: "notifications/initialized", params: nil),
                           headers: [:])
        log.info("server_ready", ["server": server, "protocol": version, "name": serverName ?? "?"])
    }

    /// One request under a deadline; the `result` object, or the error. On timeout or cancellation the server is
    /// told (`notifications/cancelled`).
    private func send(_ t: any MCPTransport, _ method: String, _ params: JSONObject?, timeoutMillis: Int,
                      stamp: String? = nil) async throws -> JSONObject {
        let id = nextID
        nextID += 1
        var params = params
        var headers: [String: String] = [:]
        // Stateless: the version, client and capabilities in every request's `_meta`, the method (and a tool's
        // name) in headers a gateway can route on.
        let statelessVersion = stamp ?? stateless
        if let version = statelessVersion {
            var p = params ?? [:]
            var meta: JSONObject = if case .object(let m)? = p["_meta"] { m } else { [:] }
            meta.merge(Self.statelessMeta(version)) { _, ours in ours }
            p["_meta"] = .object(meta)
            params = p
            headers = ["MCP-Protocol-Version": version, "Mcp-Method": method]
            if method == "tools/call", case .string(let name)? = p["name"], name.utf8.allSatisfy({ $0 > 32 && $0 < 127 }) {
                headers["Mcp-Name"] = name
            }
        }
        let body = JSONRPC.request(id: id, method: method, params: params)
        if body.count > limits.maxMessageBytes {
            throw MCPError.limit(server: server, limit: "--mcp-max-message-bytes", detail: "a \(method) request of \(body.count) bytes")
        }
        let millis = min(max(1, timeoutMillis), 7 * 24 * 3_600_000)
        let response: JSONObject
        do {
            response = try await Deadline.run(millis: millis) { [headers] in try await t.request(id: id, method: method, body: body, headers: headers) }
        } catch is DeadlineError {
            // Stateless HTTP has no client notifications: the closed POST is the cancellation.
            if statelessVersion == nil { cancelled(t, id: id, reason: "timed out after \(millis) ms") }
            throw MCPError.timeout(server: server, method: method, millis: millis)
        } catch let e as MCPError {
            if statelessVersion == nil, case .cancelled = e { cancelled(t, id: id, reason: "the caller cancelled") }
            throw e
        } catch {
            if statelessVersion == nil { cancelled(t, id: id, reason: "the caller cancelled") }
            throw MCPError.cancelled(server: server, method: method)
        }
        if case .object(let e)? = response["error"] {
            let code: Int = if case .number(let n)? = e["code"], n.isFinite, abs(n) < 1e9 { Int(n) } else { 0 }
            let message: String = if case .string(let m)? = e["message"] { String(m.prefix(1000)) } else { "no message" }
            throw MCPError.rpc(server: server, method: method, code: code, message: message)
        }
        guard case .object(let result)? = response["result"] else {
            throw MCPError.malformed(server: server, detail: "the reply to \(method) has no result object")
        }
        // 2026's multi-round-trip results ask the client for input (sampling, elicitation), which this one offers
        // none of.
        if case .string(let type)? = result["resultType"], type != "complete" {
            throw MCPError.rpc(server: server, method: method, code: 0,
                               message: "the server asks for \(type) (resultType), which this client does not offer")
        }
        return result
    }

    /// Tells the server to stop working on request `id` (initialize excepted: the spec forbids it); best effort.
    private nonisolated func cancelled(_ t: any MCPTransport, id: Int, reason: String) {
        let body = JSONRPC.notification(method: "notifications/cancelled",
                                        params: ["requestId": .number(Double(id)), "reason": .string(reason)])
        Task { try? await t.notify(method: "notifications/cancelled", body: body, headers: [:]) }
    }

    /// Runs `work` on a connected transport; when the transport died (or the HTTP session was forgotten) and
    /// `retry` allows it, once more on a new one.
    private func withConnection<T: Sendable>(retry: Bool, _ work: (any MCPTransport) async throws -> T) async throws -> T {
        var attempt = 0
        while true {
            let t = try await connected()
            do {
                return try await work(t)
            } catch MCPError.sessionExpired(let s) where attempt == 0 {
                log.info("session_expired", ["server": s, "action": "initializing again"])
                (t as? HTTPTransport)?.resetSession()
                if transport === t { transport = nil }
                await t.close()
            } catch MCPError.transportClosed(let s, let detail) where attempt == 0 && retry {
                log.warn("server_gone", ["server": s, "detail": detail, "action": "reconnecting, retrying once"])
                if transport === t { transport = nil }
                await t.close()
            } catch {
                // A dead stdio transport is replaced at the next request; an HTTP one stays (it has no connection).
                throw error
            }
            attempt += 1
        }
    }

    // MARK: ToolSource

    public func listTools() async throws -> [ToolDefinition] {
        if let cachedTools, transport?.isAlive == true { return cachedTools }
        let tools = try await withConnection(retry: true) { t in try await self.list(t) }
        cachedTools = tools
        let changed = lastListed != nil && lastListed != tools
        lastListed = tools
        if changed {
            if let suppressed = changeLines.admit(now: Monotonic.now()) {
                log.info("tools_changed", ["server": server, "tools": tools.count, "suppressed": suppressed])
            }
            toolsChangedHandler?(tools)
        }
        return tools
    }

    /// Calls `handler` with the new definitions whenever a listing differs from the one before (after a change
    /// notice, or a new connection).
    public func onToolsChanged(_ handler: @escaping @Sendable ([ToolDefinition]) -> Void) {
        toolsChangedHandler = handler
    }

    /// Drops the cached listing (the next `listTools` asks the server).
    func forgetTools() { cachedTools = nil }

    /// A transport's notice: on `notifications/tools/list_changed` the listing is dropped and taken again now.
    private nonisolated func notified(_ method: String) {
        guard method == "notifications/tools/list_changed" else { return }
        let first = noticePending.withLock { pending in
            defer { pending = true }
            return !pending
        }
        if first { Task { await self.toolListChanged() } }
    }

    private func toolListChanged() async {
        noticePending.withLock { $0 = false }
        cachedTools = nil
        guard !isClosed else { return }
        if relisting {
            relistAgain = true
            return
        }
        relisting = true
        defer { relisting = false }
        repeat {
            // Paced (`--mcp-relist-interval-ms`): a server that says its list changed after every listing would
            // otherwise be listed in a loop. Notices that come meanwhile are this one listing.
            if let last = lastRelist {
                let wait = last + .milliseconds(limits.relistIntervalMillis) - ContinuousClock.now
                if wait > .zero { try? await Task.sleep(for: wait) }  // pacing, not a synchronization
            }
            lastRelist = ContinuousClock.now
            relistAgain = false
            cachedTools = nil
            do { _ = try await listTools() } catch {
                log.warn("tools_relist_failed", ["server": server, "reason": "\(error)", "effect": "listed again at the next task"])
            }
        } while relistAgain && !isClosed
    }

    private func list(_ t: any MCPTransport) async throws -> [ToolDefinition] {
        var tools: [ToolDefinition] = []
        var seen = Set<String>()
        var readOnly = Set<String>()
        var cursor: JSONValue?
        var pages = 0
        repeat {
            pages += 1
            if pages > limits.maxPages {
                throw MCPError.limit(server: server, limit: "--mcp-max-pages", detail: "tools/list goes on past \(limits.maxPages) pages")
            }
            let result = try await send(t, "tools/list", cursor.map { ["cursor": $0] }, timeoutMillis: limits.requestTimeoutMillis)
            guard case .array(let items)? = result["tools"] else {
                throw MCPError.malformed(server: server, detail: "the tools/list reply has no tools array")
            }
            for item in items {
                guard case .object(let o) = item else {
                    throw MCPError.malformed(server: server, detail: "a tools/list entry that is not an object")
                }
                guard let (tool, isReadOnly) = definition(o) else { continue }
                guard seen.insert(tool.name).inserted else {
                    log.warn("tool_duplicate", ["server": server, "tool": tool.name, "effect": "the first definition is kept"])
                    continue
                }
                if tools.count >= limits.maxTools {
                    throw MCPError.limit(server: server, limit: "--mcp-max-tools", detail: "more than \(limits.maxTools) tools")
                }
                tools.append(tool)
                if isReadOnly { readOnly.insert(String(tool.name.dropFirst(server.count + 1))) }
            }
            switch result["nextCursor"] {
            case .string(let c)? where !c.isEmpty: cursor = .string(c)
            default: cursor = nil
            }
        } while cursor != nil
        readOnlyByServer = readOnly
        return tools
    }

    /// A tools/list entry as a `ToolDefinition` and whether the server calls it read-only; nil (with a warning
    /// naming the limit or the fault) for one that cannot be offered.
    private func definition(_ o: JSONObject) -> (ToolDefinition, Bool)? {
        guard case .string(let name)? = o["name"], ToolAdvert.isToolPart(name, maxBytes: limits.maxToolNameBytes) else {
            log.warn("tool_skipped", ["server": server, "reason": "a name that is not 1 to \(limits.maxToolNameBytes) letters, digits, _ - . "])
            return nil
        }
        let description: String = if case .string(let d)? = o["description"] { d } else { "" }
        if description.utf8.count > limits.maxDescriptionBytes {
            log.warn("tool_skipped", ["server": server, "tool": name, "reason": "description of \(description.utf8.count) bytes",
                                      "limit": "--mcp-max-description-bytes=\(limits.maxDescriptionBytes)"])
            return nil
        }
        let raw = o["inputSchema"] ?? .object(["type": .string("object")])
        let schema: JSONValue
        do { schema = try SchemaInliner(maxDepth: limits.maxSchemaDepth).inline(raw) } catch {
            log.warn("tool_skipped", ["server": server, "tool": name, "reason": MCPError.schema(server: server, tool: name, detail: error.description).description])
            return nil
        }
        let size = JSONRPC.encode(schema).count
        if size > limits.maxSchemaBytes {
            log.warn("tool_skipped", ["server": server, "tool": name, "reason": "input schema of \(size) bytes after inlining",
                                      "limit": "--mcp-max-schema-bytes=\(limits.maxSchemaBytes)"])
            return nil
        }
        var declaredReadOnly = false
        if case .object(let a)? = o["annotations"], case .bool(true)? = a["readOnlyHint"] { declaredReadOnly = true }
        let operatorReadOnly = readOnlyTools.contains("*") || readOnlyTools.contains(name)
        let tool = ToolDefinition(name: "\(server).\(name)", description: description, inputSchema: schema,
                                  sideEffecting: !(declaredReadOnly || operatorReadOnly))
        return (tool, declaredReadOnly)
    }

    public func call(_ tool: String, arguments: JSONValue, timeoutMillis: Int) async throws -> ToolCallResult {
        guard case .object = arguments else {
            return ToolCallResult(text: "arguments must be a JSON object, not \(arguments.typeName)", isError: true)
        }
        let params: JSONObject = ["name": .string(tool), "arguments": arguments]
        // Safe to send twice only when the tool cannot have acted.
        let retry = readOnlyByServer.contains(tool) || readOnlyTools.contains(tool) || readOnlyTools.contains("*")
        let result: JSONObject
        do {
            result = try await withConnection(retry: retry) { t in
                try await self.send(t, "tools/call", params, timeoutMillis: timeoutMillis)
            }
        } catch MCPError.transportClosed(let s, let detail) where !retry {
            throw MCPError.notRetried(server: s, tool: tool, detail: detail)
        }
        return Self.callResult(result)
    }

    /// A `tools/call` result as text for a model: text content joined, resources' text, other content named;
    /// `structuredContent` when there is no text.
    static func callResult(_ r: JSONObject) -> ToolCallResult {
        var parts: [String] = []
        if case .array(let content)? = r["content"] {
            for c in content {
                guard case .object(let o) = c, case .string(let type)? = o["type"] else { continue }
                switch (type, o["text"], o["resource"]) {
                case ("text", .string(let text)?, _): parts.append(text)
                case ("resource", _, .object(let res)?):
                    if case .string(let text)? = res["text"] { parts.append(text) } else { parts.append("[resource \(Self.string(res["uri"]))]") }
                case ("resource_link", _, _): parts.append("[resource link \(Self.string(o["uri"]))]")
                default: parts.append("[\(type) content, \(Self.string(o["mimeType"]))]")
                }
            }
        }
        if parts.isEmpty, let structured = r["structuredContent"] {
            parts.append(String(decoding: JSONRPC.encode(structured), as: UTF8.self))
        }
        let isError: Bool = if case .bool(true)? = r["isError"] { true } else { false }
        return ToolCallResult(text: parts.joined(separator: "\n"), isError: isError)
    }

    private static func string(_ v: JSONValue?) -> String { if case .string(let s)? = v { String(s.prefix(200)) } else { "?" } }

    public func close() async {
        isClosed = true
        connecting?.cancel()
        let t = transport
        transport = nil
        await t?.close()
        if let c = connecting, let late = try? await c.value { await late.close() }
    }
}
