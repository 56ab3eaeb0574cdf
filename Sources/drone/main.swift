#if canImport(Glibc)
import Glibc
#endif
import Drone
import Foundation
import HiveCommandLine
import HiveCore
import HiveLog
import HiveMCP
import HiveSystem
import HiveTLS
import Llama
import NATSClient

func fail(_ message: String, code: Int32 = 64) -> Never {
    FileHandle.standardError.write(Data("drone: \(message)\n".utf8))
    exit(code)
}

var urls = ProcessInfo.processInfo.environment["HIVE_URL"] ?? "nats://127.0.0.1:4222"
/// An environment variable's value; empty counts as unset.
func environment(_ name: String) -> String? { ProcessInfo.processInfo.environment[name].flatMap { $0.isEmpty ? nil : $0 } }
var tlsFiles = TLSFiles(certificate: environment("HIVE_TLS_CERT"), key: environment("HIVE_TLS_KEY"), ca: environment("HIVE_TLS_CA"))
var tier = Tier.worker
var slots = 1
var allowExec: [String] = []
var sideEffects: [String] = []
var modelPath: String?
var contextLength = 2048
var threads = Int32(ProcessInfo.processInfo.activeProcessorCount)
var gpuLayers: Int32 = 0
var promptFormat: PromptFormat?  // nil: auto
var promptFormatGiven = false
var api: String?
var baseURL: String?
var apiModel: String?
var apiKeyEnv: String?
var apiConcurrency = 4
var apiStream = false
var name = HostName.current
var explicitID: DroneID?
var maxTaskMillis = 3_600_000
var outputCap = 64 * 1024
var execLimits = ExecLimits()
var execEnvAllowed = ExecEnvironmentPolicy.defaultAllowed
var wasmLimits = WasmDroneLimits()
let parsed = droneProgram.parseOrExit(Array(CommandLine.arguments.dropFirst()))
if parsed.path == ["bench"] { runModelBenchmark(parsed) }
/// A typed option value, or the process ends with the error naming the option (and where the help is).
func checked<T>(_ read: () throws(CommandLineError) -> T) -> T {
    do { return try read() } catch { droneProgram.fail(error, in: parsed) }
}
if let v = parsed.string("--honeycomb") { urls = v }
if let v = parsed.string("--tls-ca") { tlsFiles.ca = v }
if let v = parsed.string("--tls-cert") { tlsFiles.certificate = v }
if let v = parsed.string("--tls-key") { tlsFiles.key = v }
if let t = checked({ () throws(CommandLineError) in try parsed.choice("--tier", as: Tier.self) }) { tier = t }
if let v = parsed.string("--name") {
    guard APISubject.isValidDroneID(v) else { fail("--name takes 1 to 64 letters, digits, - and _ (it is a bus subject token), not '\(v)'") }
    name = v
    explicitID = v
}
/// A whole-number option within `range`, or the process ends naming the option and the range.
func number<T: FixedWidthInteger & Sendable>(_ option: String, _ range: ClosedRange<T>) -> T? {
    checked { () throws(CommandLineError) in try parsed.integer(option, in: range, as: T.self) }
}
slots = number("--slots", 1...4096) ?? slots
maxTaskMillis = number("--max-task-ms", 1...(7 * 24 * 3_600_000)) ?? maxTaskMillis
let batch = number("--batch", DroneBatch.limits) ?? DroneBatch.defaultDroneBatch
outputCap = number("--max-output-bytes", 0...(64 << 20)) ?? outputCap
let maxBlobBytes = number("--max-blob-bytes", 0...(1 << 30)) ?? (64 << 20)
let blobCacheMB = number("--blob-cache-mb", 0...(1 << 20)) ?? 256
if let v = parsed.string("--exec-env-allow") {
    execEnvAllowed = v.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
}
execLimits.maxOpenFiles = number("--exec-max-open-files", 3...1_048_576) ?? execLimits.maxOpenFiles
execLimits.maxFileSizeMB = number("--exec-max-file-size-mb", 0...(1 << 30)) ?? execLimits.maxFileSizeMB
execLimits.maxCPUSeconds = number("--exec-max-cpu-seconds", 0...(1 << 31)) ?? execLimits.maxCPUSeconds
execLimits.maxAddressSpaceMB = number("--exec-max-memory-mb", 0...(1 << 30)) ?? execLimits.maxAddressSpaceMB
wasmLimits.maxMemoryMB = number("--wasm-max-memory-mb", 1...4095) ?? wasmLimits.maxMemoryMB
wasmLimits.maxTableElements = number("--wasm-max-table-elements", 0...(1 << 28)) ?? wasmLimits.maxTableElements
wasmLimits.maxFuel = number("--wasm-max-fuel", 1...Int64.max) ?? wasmLimits.maxFuel
wasmLimits.maxOpenFiles = number("--wasm-max-open-files", 0...4096) ?? wasmLimits.maxOpenFiles
wasmLimits.maxScratchMB = number("--wasm-max-scratch-mb", 0...(1 << 20)) ?? wasmLimits.maxScratchMB
wasmLimits.cacheModules = number("--wasm-module-cache", 0...100_000) ?? wasmLimits.cacheModules
if let mb = number("--wasm-module-cache-mb", 0...(1 << 20)) { wasmLimits.cacheBytes = mb << 20 }
if let v = parsed.string("--allow-exec") {
    allowExec = v.split(separator: ",").map(String.init)
    for p in allowExec where !p.hasPrefix("/") { fail("--allow-exec takes absolute paths; '\(p)' is not one") }
}
if let v = parsed.string("--side-effects") {
    sideEffects = v.split(separator: ",").map(String.init)
    for p in sideEffects where !p.hasPrefix("/") { fail("--side-effects takes absolute paths; '\(p)' is not one") }
}
modelPath = parsed.string("--model")
contextLength = number("--ctx", 16...(1 << 22)) ?? contextLength
threads = number("--threads", 1...1024) ?? threads
if let f = parsed.string("--prompt-format") {
    if f != "auto" {
        promptFormat = checked { () throws(CommandLineError) in try parsed.choice("--prompt-format", accepted: ["auto", "chat", "completion"]) { PromptFormat(rawValue: $0) } }
    }
    promptFormatGiven = true
}
gpuLayers = checked { () throws(CommandLineError) in try parsed.integer("--gpu-layers", as: Int32.self) } ?? gpuLayers
api = checked { () throws(CommandLineError) in try parsed.choice("--api", accepted: ["openai", "anthropic"]) { $0 == "openai" || $0 == "anthropic" ? $0 : nil } }
baseURL = parsed.string("--base-url")
apiModel = parsed.string("--api-model")
apiKeyEnv = parsed.string("--api-key-env")
apiStream = parsed.flag("--api-stream")
apiConcurrency = number("--api-concurrency", 1...1024) ?? apiConcurrency
if let level = checked({ () throws(CommandLineError) in
    try parsed.choice("--log-level", accepted: ["debug", "info", "warn", "error"]) { LogLevel(name: $0) }
}) {
    Log.setLevel(level)
}

var mcpSpecs: [MCPServerSpec] = []
for v in parsed.strings("--mcp") {
    do { mcpSpecs.append(try MCPServerSpec.parse(v)) } catch { fail(error.description) }
}
if mcpSpecs.contains(where: { $0.name == ExecToolSource.serverName }) {
    fail("--mcp cannot name a server \(ExecToolSource.serverName): that prefix is the drone's own exec tools (--allow-exec)")
}
if mcpSpecs.contains(where: { $0.name == WasmToolSource.serverName }) {
    fail("--mcp cannot name a server \(WasmToolSource.serverName): that prefix is the drone's own WebAssembly tools (--wasm-tool)")
}
var wasmTools: [WasmToolSpec] = []
for v in parsed.strings("--wasm-tool") {
    do { wasmTools.append(try WasmToolSpec.parse(v)) } catch { fail(error.description) }
}
if let twice = Dictionary(grouping: wasmTools, by: \.name).first(where: { $0.value.count > 1 })?.key {
    fail("--wasm-tool names the tool \(twice) twice: each module needs its own name")
}
if let twice = Dictionary(grouping: mcpSpecs, by: \.name).first(where: { $0.value.count > 1 })?.key {
    fail("--mcp names the server \(twice) twice: each server needs its own name (it prefixes its tools)")
}
var mcpLimits = MCPLimits()
mcpLimits.requestTimeoutMillis = number("--mcp-request-timeout-ms", 1...3_600_000) ?? mcpLimits.requestTimeoutMillis
mcpLimits.maxMessageBytes = number("--mcp-max-message-bytes", 1024...(64 << 20)) ?? mcpLimits.maxMessageBytes
mcpLimits.maxTools = number("--mcp-max-tools", 1...4_000) ?? mcpLimits.maxTools
mcpLimits.maxPages = number("--mcp-max-pages", 1...10_000) ?? mcpLimits.maxPages
mcpLimits.maxDescriptionBytes = number("--mcp-max-description-bytes", 0...(1 << 20)) ?? mcpLimits.maxDescriptionBytes
mcpLimits.maxSchemaBytes = number("--mcp-max-schema-bytes", 2...(4 << 20)) ?? mcpLimits.maxSchemaBytes
mcpLimits.maxSchemaDepth = number("--mcp-max-schema-depth", 1...256) ?? mcpLimits.maxSchemaDepth
mcpLimits.maxPendingReplies = number("--mcp-max-pending-replies", 1...4_096) ?? mcpLimits.maxPendingReplies
mcpLimits.relistIntervalMillis = number("--mcp-relist-interval-ms", 0...60_000) ?? mcpLimits.relistIntervalMillis
let mcpReadOnly = MCPServers.readOnly(parsed.string("--mcp-read-only")?.split(separator: ",").map {
    String($0).trimmingCharacters(in: .whitespaces)
} ?? [])
if let stray = mcpReadOnly.keys.sorted().first(where: { name in !mcpSpecs.contains { $0.name == name } }) {
    fail("--mcp-read-only names \(stray), which no --mcp declares")
}

if let stray = DroneOptions.sideEffectsNotAllowed(sideEffects, allowed: allowExec).first {
    fail("--side-effects names \(stray), which is not in --allow-exec: only commands this drone may run can be declared side-effecting")
}
var bus: NATSClientOptions
do { bus = try NATSClientOptions(urls: urls) } catch { fail("\(error)", code: 78) }
if !tlsFiles.isEmpty {
    if let why = tlsFiles.clientProblem { fail(why) }
    bus.tls = tlsFiles
}
let modules = ModuleSource()
let blobs = ContentSource()
let inputs = BlobInputs(source: blobs, maxBlobBytes: maxBlobBytes, cacheBytes: blobCacheMB << 20)
wasmLimits.defaultMemoryMB = min(wasmLimits.defaultMemoryMB, wasmLimits.maxMemoryMB)
let execBackend = ExecBackend(allowed: allowExec, outputCap: outputCap, limits: execLimits,
                              environment: ExecEnvironmentPolicy(allowed: execEnvAllowed), inputs: inputs)
let wasmBackend = WasmBackend(source: modules, outputCap: outputCap, limits: wasmLimits, inputs: inputs)
var backends: [any Backend] = [execBackend, NoopBackend(), SleepBackend(), wasmBackend]
/// Where agent tasks' tools come from: the allow-listed exec commands (`exec.<name>`), the stored WebAssembly
/// modules (`wasm.<name>`), then MCP servers.
var toolSources: [any ToolSource] = allowExec.isEmpty ? [] : [ExecToolSource(backend: execBackend, allowed: allowExec, sideEffects: sideEffects)]
if !wasmTools.isEmpty { toolSources.append(WasmToolSource(backend: wasmBackend, tools: wasmTools)) }
/// The model agent turns run on (this drone's llama.cpp model or its API), when it has one.
var agentModel: (any AgentModel)?
if promptFormatGiven && modelPath == nil { fail("--prompt-format needs --model: it says how that model is prompted") }
var loadedModel: LlamaModel?
if let modelPath {
    // Checked before llama.cpp maps the file: a model that cannot fit fails here with the numbers, not later as
    // an OOM kill in the middle of a task.
    if let size = ModelMemory.fileSize(modelPath), let why = ModelMemory.current().problem(path: modelPath, bytes: size) {
        fail(why, code: 69)
    }
    do {
        // Joins without waiting for the model's SHA-256 (a full read of the file); it is announced when ready.
        let model = try LlamaModel(path: modelPath, gpuLayers: gpuLayers, hashFile: false)
        if promptFormat == .chat && !model.hasChatTemplate {
            fail("--prompt-format chat needs a chat template, and \(modelPath) has none (a base model): use completion or auto", code: 65)
        }
        loadedModel = model
        // One context for the model, a sequence per slot (continuous batching; see LlamaEngine).
        let backend = try LlamaBackend(model: model, contextLength: contextLength, threads: threads, sequences: slots,
                                       promptFormat: promptFormat)
        backends.append(backend)
        agentModel = LlamaAgentModel(backend)
        let d = model.descriptor
        Log("drone").info("model_loaded", ["name": d.name, "arch": d.architecture, "params": d.parameters,
                                           "desc": d.description, "context": d.contextLength,
                                           "chat_template": model.hasChatTemplate, "prompt_format": backend.promptFormat.rawValue,
                                           "sequences": backend.engine.sequences, "ctx_per_sequence": backend.engine.contextLength])
    } catch {
        fail("\(error)", code: 65)
    }
}
if let api {
    guard api == "openai" || api == "anthropic" else { fail("--api takes openai or anthropic") }
    guard modelPath == nil else { fail("use --model or --api, not both: one engine serves a drone's model tasks") }
    guard let baseURL, let url = URL(string: baseURL), url.scheme == "http" || url.scheme == "https" else {
        fail("--api \(api) needs --base-url http(s)://HOST[:PORT]")
    }
    guard let apiModel else { fail("--api \(api) needs --api-model NAME") }
    let keyVariable = apiKeyEnv ?? (api == "openai" ? "OPENAI_API_KEY" : "ANTHROPIC_API_KEY")
    let key = ProcessInfo.processInfo.environment[keyVariable]
    if api == "openai" {
        let backend = OpenAIBackend(baseURL: url, apiModel: apiModel, apiKey: key, maxConcurrent: apiConcurrency, stream: apiStream)
        backends.append(backend)
        agentModel = OpenAIAgentModel(backend)
    } else {
        let backend = AnthropicBackend(baseURL: url, apiModel: apiModel, apiKey: key, maxConcurrent: apiConcurrency)
        backends.append(backend)
        agentModel = AnthropicAgentModel(backend)
    }
    Log("drone").info("api_backend", ["api": api, "base_url": baseURL, "model": apiModel,
                                       "key": key == nil ? "none (\(keyVariable) unset)" : "from \(keyVariable)"])
}
ShutdownSignal.install()
// MCP servers: started and listed before the drone joins, so its hello names their tools. Without a model no agent
// can run here: the servers are not started, and no tool is advertised.
if agentModel == nil && !(mcpSpecs.isEmpty && wasmTools.isEmpty) {
    Log("drone").warn("tools_unused", ["mcp": mcpSpecs.map(\.name).joined(separator: ","), "wasm_tools": wasmTools.map(\.name).joined(separator: ","),
                                       "reason": "no --model or --api: agent tasks cannot run on this drone",
                                       "effect": "the drone starts without tools"])
}
var mcp: (sources: [MCPClient], tools: [ToolDefinition]) = ([], [])
if agentModel != nil { mcp = await MCPServers.start(mcpSpecs, limits: mcpLimits, readOnly: mcpReadOnly) }
var agentBackend: AgentBackend?
// Agents: a model and at least one tool, from the exec allow-list, the wasm tools and the MCP servers.
if let agentModel {
    var listed: [ToolDefinition] = []
    for source in toolSources { listed += (try? await source.listTools()) ?? [] }
    toolSources += mcp.sources.map { $0 as any ToolSource }
    listed += mcp.tools
    if !listed.isEmpty {
        let agents = AgentBackend(model: agentModel, sources: toolSources, tools: listed, outputCap: outputCap)
        backends.append(agents)
        agentBackend = agents
        Log("drone").info("agent_tools", ["tools": agents.tools.map(\.name).joined(separator: ","), "model": agentModel.name])
    }
}
var options = DroneOptions(bus: bus, name: name, tier: tier, slots: slots, backends: backends)
options.toolSources = mcp.sources
options.id = explicitID
options.maxTaskMillis = maxTaskMillis
options.batch = batch
options.maxBlobBytes = maxBlobBytes
options.blobInputs = inputs
options.sideEffects = sideEffects
// SIGTERM/SIGINT are answered in every state: before the drone has joined (connecting, announcing) it just leaves;
// once joined it drains (finish running tasks within the grace, release the rest); a second signal leaves at once.
let lifecycle = DroneLifecycle()
Task.detached {
    let signal = await ShutdownSignal.wait()
    guard let drone = lifecycle.stop() else {
        Log("drone").info("stopped", ["signal": signal, "state": "not joined yet"])
        exit(0)
    }
    Task.detached {
        let again = await ShutdownSignal.wait()
        Log("drone").warn("stopped_now", ["signal": again, "state": "draining", "reason": "second signal"])
        ExecBackend.killAll()
        exit(1)
    }
    await drone.shutdown()
    exit(0)
}
let drone: DroneRuntime
do { drone = try await DroneRuntime.start(options) } catch { fail("cannot start: \(error)", code: 69) }
if !lifecycle.joined(drone) {
    await drone.shutdown()  // a signal came while joining
    exit(0)
}
modules.connect { [drone] hash in try await drone.fetchModule(hash) }
// A source whose tools changed (an MCP server's list_changed): the drone announces its new tools and pins.
await agentBackend?.watch { [drone] in Task { await drone.reannounce() } }
blobs.connect { [drone] name in try await drone.fetchBlob(name) }
if let model = loadedModel {
    OSThread(name: "model-hash") {
        model.computeHash()
        Log("drone").info("model_hashed", ["sha256": model.descriptor.sha256])
        Task { await drone.reannounce() }
    }.detach()
}
// The signal task above ends the process.
while true { try? await Task.sleep(for: .seconds(3_600)) }
