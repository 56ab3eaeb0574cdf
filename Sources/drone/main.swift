#if canImport(Glibc)
import Glibc
#endif
import Drone
import Foundation
import HiveCore
import HiveLog
import HiveSystem
import HiveTLS
import Llama
import NATSClient

let usage = """
    usage: drone [--honeycomb URLS] [--tls-ca FILE] [--tls-cert FILE --tls-key FILE]
                 [--tier edge|worker|core] [--name NAME] [--slots N]
                 [--allow-exec /path/a,/path/b] [--side-effects /path/a]
                 [--model PATH.gguf [--ctx N] [--threads N] [--gpu-layers N] [--prompt-format auto|chat|completion]]
                 [--api openai|anthropic --base-url URL --api-model NAME [--api-key-env VAR] [--api-concurrency N]
                  [--api-stream]]
                 [--max-task-ms N] [--max-output-bytes N]
                 [--exec-env-allow NAMES] [--exec-max-open-files N] [--exec-max-file-size-mb N]
                 [--exec-max-cpu-seconds N] [--exec-max-memory-mb N]
                 [--wasm-max-memory-mb N] [--wasm-max-table-elements N] [--wasm-max-fuel N]
                 [--wasm-max-open-files N] [--wasm-max-scratch-mb N] [--wasm-module-cache N] [--wasm-module-cache-mb N]
                 [--log-level LEVEL]

    A Hive worker: connects to honeycombd's bus, announces its tier and capabilities, runs leased tasks
    (up to --slots at once) and reports results. SIGTERM finishes running tasks (10 s grace), releases the
    rest back to the hive, and exits.
      --honeycomb URLS     the bus (default: $HIVE_URL, else nats://127.0.0.1:4222); tls://HOST:PORT for a bus
                           serving TLS (honeycombd --tls-cert): the certificate must name HOST
      --tls-ca FILE        the CA that signed the bus's certificate (honeycombd tls init's ca.pem; default
                           $HIVE_TLS_CA, else the system's trusted CAs); given, the connection must be TLS
      --tls-cert FILE      this drone's client certificate, for a bus that requires one (mutual TLS; honeycombd
      --tls-key FILE       tls client DIR NAME makes NAME.pem and NAME-key.pem); default $HIVE_TLS_CERT, $HIVE_TLS_KEY
      --tier TIER          edge, worker (default) or core
      --name NAME          the drone's id on the bus and in `hive drones`: the name its credential was issued
                           for (letters, digits, - and _). Default: the host name plus a random suffix
      --slots N            tasks run at once (default 1)
      --allow-exec PATHS   executables exec tasks may run (comma-separated absolute paths; none by default)
      --side-effects PATHS allowed executables whose tasks change the world (comma-separated): honeycombd holds
                           each such task in awaiting_approval until an operator runs hive approve (or denies it)
      --model PATH.gguf    serve model tasks (prompts) with this GGUF through llama.cpp (loaded once, shared by every slot)
      --ctx N              context length per task (default 2048); the model's one context holds slots × N
      --threads N          threads per generation (default: CPU cores)
      --gpu-layers N       layers to offload when llama.cpp was built with a GPU backend (default 0)
      --prompt-format F    how the model is prompted: chat (through its chat template: instruct models),
                           completion (text continued as given: base models; plan calls get few-shot frames)
                           or auto (default: chat when the GGUF has a chat template)
      --api openai|anthropic  serve model tasks through an external API instead: OpenAI-compatible
                           chat completions, or Anthropic's Messages API
      --base-url URL       the API's base URL (…/v1/chat/completions or …/v1/messages is appended)
      --api-model NAME     the provider's model name
      --api-key-env VAR    environment variable holding the API key (default OPENAI_API_KEY or
                           ANTHROPIC_API_KEY; never logged)
      --api-concurrency N  requests in flight to the provider at once (default 4)
      --api-stream         (openai) request a streamed (SSE) completion and assemble it
    Limits (the drone's own: a task may ask for less, never more; 0 turns off the ones marked "0: off"):
      --max-task-ms N      longest any task runs here, whatever timeout it came with (default 3600000)
      --max-output-bytes N output kept per exec or wasm task (default 65536)
      --exec-env-allow NAMES  task environment variables exec processes may see: names, or prefixes ending
                           in * (default HIVE_*; PATH, HOME, TMPDIR and LD_* stay the drone's unless named)
      --exec-max-open-files N   open files per exec process, RLIMIT_NOFILE (default 1024)
      --exec-max-file-size-mb N largest file an exec process writes, RLIMIT_FSIZE (default 1024; 0: off)
      --exec-max-cpu-seconds N  CPU seconds per exec process, RLIMIT_CPU (default 0: off)
      --exec-max-memory-mb N    address space per exec process, RLIMIT_AS (default 0: off)
                           (core dumps are always off; each exec task runs in its own process group,
                           killed whole at its timeout, on cancel and when the drone stops)
      --wasm-max-memory-mb N    linear memory per wasm task (default 256, at most 4095; tasks get 64
                           unless they ask, with memory_mb)
      --wasm-max-table-elements N  table elements per wasm instance, all tables (default 1000000)
      --wasm-max-fuel N    instructions per wasm task (default 100000000000)
      --wasm-max-open-files N   files a wasm task holds open in /scratch (default 64)
      --wasm-max-scratch-mb N   bytes a wasm task writes to /scratch (default 64)
      --wasm-module-cache N     compiled modules kept (default 64)
      --wasm-module-cache-mb N  bytes of compiled modules kept (default 256)
    Backends: exec (allow-listed commands), wasm (WebAssembly modules from honeycombd, sandboxed), noop, sleep,
    and model (llama.cpp) with --model.
    """

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
let args = Array(CommandLine.arguments.dropFirst())
if args.first == "bench" { runModelBenchmark(Array(args.dropFirst())) }
var i = 0
@MainActor func value() -> String {
    i += 1
    guard i < args.count else { fail("option \(args[i - 1]) needs a value\n\n\(usage)") }
    return args[i]
}
/// The option's value as a whole number within `range`, or the process ends naming the option and the range.
@MainActor func number<T: FixedWidthInteger>(_ range: ClosedRange<T>, _ what: String = "a number") -> T {
    let flag = args[i]
    let text = value()
    guard let n = T(text), range.contains(n) else { fail("\(flag) takes \(what) from \(range.lowerBound) to \(range.upperBound), not '\(text)'") }
    return n
}
while i < args.count {
    switch args[i] {
    case "-h", "--help":
        print(usage)
        exit(0)
    case "--honeycomb": urls = value()
    case "--tls-ca": tlsFiles.ca = value()
    case "--tls-cert": tlsFiles.certificate = value()
    case "--tls-key": tlsFiles.key = value()
    case "--tier":
        let t = value()
        guard let parsed = Tier(rawValue: t) else { fail("--tier takes edge, worker or core, not '\(t)'") }
        tier = parsed
    case "--name":
        name = value()
        guard APISubject.isValidDroneID(name) else { fail("--name takes 1 to 64 letters, digits, - and _ (it is a bus subject token), not '\(name)'") }
        explicitID = name
    case "--slots": slots = number(1...4096)
    case "--max-task-ms": maxTaskMillis = number(1...(7 * 24 * 3_600_000), "milliseconds")
    case "--max-output-bytes": outputCap = number(0...(64 << 20), "bytes")
    case "--exec-env-allow":
        execEnvAllowed = value().split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    case "--exec-max-open-files": execLimits.maxOpenFiles = number(3...1_048_576)
    case "--exec-max-file-size-mb": execLimits.maxFileSizeMB = number(0...(1 << 30), "MiB")
    case "--exec-max-cpu-seconds": execLimits.maxCPUSeconds = number(0...(1 << 31), "seconds")
    case "--exec-max-memory-mb": execLimits.maxAddressSpaceMB = number(0...(1 << 30), "MiB")
    case "--wasm-max-memory-mb": wasmLimits.maxMemoryMB = number(1...4095, "MiB")
    case "--wasm-max-table-elements": wasmLimits.maxTableElements = number(0...(1 << 28))
    case "--wasm-max-fuel": wasmLimits.maxFuel = number(1...Int64.max, "instructions")
    case "--wasm-max-open-files": wasmLimits.maxOpenFiles = number(0...4096)
    case "--wasm-max-scratch-mb": wasmLimits.maxScratchMB = number(0...(1 << 20), "MiB")
    case "--wasm-module-cache": wasmLimits.cacheModules = number(0...100_000, "modules")
    case "--wasm-module-cache-mb": wasmLimits.cacheBytes = number(0...(1 << 20), "MiB") << 20
    case "--allow-exec":
        allowExec = value().split(separator: ",").map(String.init)
        for p in allowExec where !p.hasPrefix("/") { fail("--allow-exec takes absolute paths; '\(p)' is not one") }
    case "--side-effects":
        sideEffects = value().split(separator: ",").map(String.init)
        for p in sideEffects where !p.hasPrefix("/") { fail("--side-effects takes absolute paths; '\(p)' is not one") }
    case "--model": modelPath = value()
    case "--ctx": contextLength = number(16...(1 << 22), "tokens")
    case "--threads": threads = number(1...1024)
    case "--prompt-format":
        let f = value()
        if f == "auto" { promptFormat = nil } else {
            guard let parsed = PromptFormat(rawValue: f) else { fail("--prompt-format takes auto, chat or completion, not '\(f)'") }
            promptFormat = parsed
        }
        promptFormatGiven = true
    case "--gpu-layers":
        guard let n = Int32(value()) else { fail("--gpu-layers takes a number") }
        gpuLayers = n
    case "--api": api = value()
    case "--base-url": baseURL = value()
    case "--api-model": apiModel = value()
    case "--api-key-env": apiKeyEnv = value()
    case "--api-stream": apiStream = true
    case "--api-concurrency": apiConcurrency = number(1...1024)
    case "--log-level":
        guard let l = LogLevel(name: value()) else { fail("--log-level takes debug, info, warn or error") }
        Log.setLevel(l)
    default:
        fail("unknown option '\(args[i])'\n\n\(usage)")
    }
    i += 1
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
wasmLimits.defaultMemoryMB = min(wasmLimits.defaultMemoryMB, wasmLimits.maxMemoryMB)
var backends: [any Backend] = [
    ExecBackend(allowed: allowExec, outputCap: outputCap, limits: execLimits, environment: ExecEnvironmentPolicy(allowed: execEnvAllowed)),
    NoopBackend(), SleepBackend(), WasmBackend(source: modules, outputCap: outputCap, limits: wasmLimits),
]
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
    backends.append(api == "openai"
        ? OpenAIBackend(baseURL: url, apiModel: apiModel, apiKey: key, maxConcurrent: apiConcurrency, stream: apiStream)
        : AnthropicBackend(baseURL: url, apiModel: apiModel, apiKey: key, maxConcurrent: apiConcurrency))
    Log("drone").info("api_backend", ["api": api, "base_url": baseURL, "model": apiModel,
                                       "key": key == nil ? "none (\(keyVariable) unset)" : "from \(keyVariable)"])
}
ShutdownSignal.install()
var options = DroneOptions(bus: bus, name: name, tier: tier, slots: slots, backends: backends)
options.id = explicitID
options.maxTaskMillis = maxTaskMillis
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
if let model = loadedModel {
    OSThread(name: "model-hash") {
        model.computeHash()
        Log("drone").info("model_hashed", ["sha256": model.descriptor.sha256])
        Task { await drone.reannounce() }
    }.detach()
}
// The signal task above ends the process.
while true { try? await Task.sleep(for: .seconds(3_600)) }
