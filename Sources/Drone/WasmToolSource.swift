import Foundation
import HiveCore
import HiveMCP

/// One `drone --wasm-tool NAME=sha256:HEX[,MANIFEST.json]`: a module from honeycombd's store (`hive module add`)
/// offered to agents as the tool `wasm.NAME`. The manifest, a JSON file beside it, gives the tool's
/// `description` and `input_schema` (default: an object with any fields).
public struct WasmToolSpec: Sendable, Equatable {
    public var name: String
    /// The module's SHA-256, lowercase hex.
    public var module: String
    public var description: String
    public var inputSchema: JSONValue

    /// A manifest's size at most (its schema reaches every model prompt that may call the tool).
    public static let maxManifestBytes = 64 << 10

    public init(name: String, module: String, description: String, inputSchema: JSONValue) {
        self.name = name
        self.module = module
        self.description = description
        self.inputSchema = inputSchema
    }

    /// The manifest's first `maxManifestBytes` + 1 bytes: enough to refuse one over the limit without reading all of
    /// it (a path like /dev/zero never ends).
    public static func readManifest(_ path: String) throws -> Data {
        let file = try FileHandle(forReadingFrom: URL(fileURLWithPath: path))
        defer { try? file.close() }
        var data = Data()
        while data.count <= maxManifestBytes, let more = try file.read(upToCount: maxManifestBytes + 1 - data.count), !more.isEmpty {
            data.append(more)
        }
        return data
    }

    /// Parses the flag's value, reading the manifest (`read` is the file reader: tests pass their own).
    public static func parse(_ text: String, read: (String) throws -> Data = readManifest) throws(WasmToolError) -> WasmToolSpec {
        guard let eq = text.firstIndex(of: "=") else { throw .init("--wasm-tool takes NAME=sha256:HEX[,MANIFEST.json], not '\(text.prefix(200))'") }
        let name = String(text[..<eq])
        guard ToolAdvert.isValidServerName(name) else {
            throw .init("--wasm-tool name '\(name.prefix(64))' must be 1 to 32 letters, digits, - and _ (the tool is wasm.NAME)")
        }
        let value = text[text.index(after: eq)...]
        let parts = value.split(separator: ",", maxSplits: 1).map(String.init)
        var hash = parts.first ?? ""
        if hash.hasPrefix("sha256:") { hash = String(hash.dropFirst(7)) }
        hash = hash.lowercased()
        guard hash.utf8.count == 64, hash.allSatisfy(\.isHexDigit) else {
            throw .init("--wasm-tool \(name): '\(parts.first?.prefix(80) ?? "")' is not a module's SHA-256 (hive module add FILE.wasm prints it)")
        }
        var description = "Runs WebAssembly module sha256:\(hash): the arguments are its stdin as JSON, its stdout is the result."
        var schema: JSONValue = .object(["type": .string("object")])
        if parts.count == 2 {
            let path = parts[1]
            let data: Data
            do { data = try read(path) } catch { throw .init("--wasm-tool \(name): cannot read the manifest \(path): \(error.localizedDescription)") }
            guard data.count <= maxManifestBytes else {
                throw .init("--wasm-tool \(name): the manifest \(path) is over \(maxManifestBytes) bytes (WasmToolSpec.maxManifestBytes: its schema reaches every prompt)")
            }
            guard case .object(let o)? = try? JSONDecoder().decode(JSONValue.self, from: data) else {
                throw .init("--wasm-tool \(name): the manifest \(path) is not a JSON object {\"description\": …, \"input_schema\": {…}}")
            }
            if let d = o["description"] {
                guard case .string(let s) = d else { throw .init("--wasm-tool \(name): the manifest's description must be a string") }
                // The module's hash stays in the description: the pin (a hash of the definition) then covers the module.
                description = "\(s) (WebAssembly module sha256:\(hash))"
            }
            if let s = o["input_schema"] {
                guard case .object = s else { throw .init("--wasm-tool \(name): the manifest's input_schema must be a JSON object") }
                // The same check and `$ref` inlining as an MCP server's schemas: it reaches grammars and providers whole.
                do { schema = try SchemaInliner().inline(s) } catch {
                    throw .init("--wasm-tool \(name): the manifest's input_schema: \(error.description)")
                }
            }
        }
        return WasmToolSpec(name: name, module: hash, description: description, inputSchema: schema)
    }
}

/// A `--wasm-tool` value that cannot be used, with what to write instead.
public struct WasmToolError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}

/// The drone's `--wasm-tool` modules as agent tools (the `wasm` tool source): `wasm.NAME` takes the JSON arguments
/// on its stdin and answers with its stdout. Calls run through the drone's `WasmBackend`, so they get what a wasm
/// task gets: the module fetched from honeycombd by hash and verified, the compiled-module cache, and the drone's
/// fuel, memory and time limits (the call's timeout is the task's). A trap or a non-zero exit is an error result the
/// model sees.
///
/// Read-only by nature: a module reaches nothing but its stdin, stdout, stderr, a clock and random bytes (no
/// scratch directory is granted to tool calls), so calls never wait for an approval.
public struct WasmToolSource: ToolSource {
    /// The prefix of the wasm tools' names: no `--mcp` server may take it.
    public static let serverName = "wasm"
    public var server: String { Self.serverName }
    let backend: WasmBackend
    let specs: [String: WasmToolSpec]

    public init(backend: WasmBackend, tools: [WasmToolSpec]) {
        self.backend = backend
        var specs: [String: WasmToolSpec] = [:]
        for t in tools where specs[t.name] == nil { specs[t.name] = t }
        self.specs = specs
    }

    public func listTools() async throws -> [ToolDefinition] {
        specs.keys.sorted().map { name in
            let s = specs[name]!
            return ToolDefinition(name: "wasm.\(name)", description: s.description, inputSchema: s.inputSchema, sideEffecting: false)
        }
    }

    public func call(_ tool: String, arguments: JSONValue, timeoutMillis: Int) async throws -> ToolCallResult {
        guard let spec = specs[tool] else { return ToolCallResult(text: "wasm has no tool \(tool)", isError: true) }
        let assignment = Assignment(task: "tool-wasm.\(tool)", goal: "", attempt: 1, token: "", kind: "wasm",
                                    input: TaskInput(stdin: arguments.compactJSON, module: spec.module),
                                    index: 0, timeoutMillis: max(1, timeoutMillis))
        let o = await backend.run(assignment)
        return ToolCallResult(o)
    }

    public func close() async {}

    /// Never called: the tools are fixed at start.
    public func onToolsChanged(_ handler: @escaping @Sendable ([ToolDefinition]) -> Void) async {}
}
