#if canImport(Glibc)
import Glibc
#endif
import Drone
import Foundation
import HiveCore
import HiveLog
import HiveSystem
import Llama
import NATSClient

let usage = """
    usage: drone [--honeycomb URLS] [--tier edge|worker|core] [--name NAME] [--slots N]
                 [--allow-exec /path/a,/path/b] [--model PATH.gguf [--ctx N] [--threads N] [--gpu-layers N]]
                 [--api openai|anthropic --base-url URL --api-model NAME [--api-key-env VAR] [--api-concurrency N]
                  [--api-stream]]
                 [--log-level LEVEL]

    A Hive worker: connects to honeycombd's bus, announces its tier and capabilities, runs leased tasks
    (up to --slots at once) and reports results. SIGTERM finishes running tasks (10 s grace), releases the
    rest back to the hive, and exits.
      --honeycomb URLS     the bus (default: $HIVE_URL, else nats://127.0.0.1:4222)
      --tier TIER          edge, worker (default) or core
      --name NAME          shown in `hive drones` (default: the host name)
      --slots N            tasks run at once (default 1)
      --allow-exec PATHS   executables exec tasks may run (comma-separated absolute paths; none by default)
      --model PATH.gguf    serve model tasks (prompts) with this GGUF through llama.cpp (loaded once, shared by every slot)
      --ctx N              context length per slot (default 2048)
      --threads N          threads per generation (default: CPU cores)
      --gpu-layers N       layers to offload when llama.cpp was built with a GPU backend (default 0)
      --api openai|anthropic  serve model tasks through an external API instead: OpenAI-compatible
                           chat completions, or Anthropic's Messages API
      --base-url URL       the API's base URL (…/v1/chat/completions or …/v1/messages is appended)
      --api-model NAME     the provider's model name
      --api-key-env VAR    environment variable holding the API key (default OPENAI_API_KEY or
                           ANTHROPIC_API_KEY; never logged)
      --api-concurrency N  requests in flight to the provider at once (default 4)
      --api-stream         (openai) request a streamed (SSE) completion and assemble it
    Backends: exec (allow-listed commands), wasm (WebAssembly modules from honeycombd, sandboxed), noop, sleep,
    and model (llama.cpp) with --model.
    """

func fail(_ message: String, code: Int32 = 64) -> Never {
    FileHandle.standardError.write(Data("drone: \(message)\n".utf8))
    exit(code)
}

var urls = ProcessInfo.processInfo.environment["HIVE_URL"] ?? "nats://127.0.0.1:4222"
var tier = Tier.worker
var slots = 1
var allowExec: [String] = []
var modelPath: String?
var contextLength = 2048
var threads = Int32(ProcessInfo.processInfo.activeProcessorCount)
var gpuLayers: Int32 = 0
var api: String?
var baseURL: String?
var apiModel: String?
var apiKeyEnv: String?
var apiConcurrency = 4
var apiStream = false
var name = HostName.current
let args = Array(CommandLine.arguments.dropFirst())
if args.first == "bench" { runModelBenchmark(Array(args.dropFirst())) }
var i = 0
@MainActor func value() -> String {
    i += 1
    guard i < args.count else { fail("option \(args[i - 1]) needs a value\n\n\(usage)") }
    return args[i]
}
while i < args.count {
    switch args[i] {
    case "-h", "--help":
        print(usage)
        exit(0)
    case "--honeycomb": urls = value()
    case "--tier":
        let t = value()
        guard let parsed = Tier(rawValue: t) else { fail("--tier takes edge, worker or core, not '\(t)'") }
        tier = parsed
    case "--name": name = value()
    case "--slots":
        guard let n = Int(value()), n >= 1, n <= 4096 else { fail("--slots takes a number from 1 to 4096") }
        slots = n
    case "--allow-exec":
        allowExec = value().split(separator: ",").map(String.init)
        for p in allowExec where !p.hasPrefix("/") { fail("--allow-exec takes absolute paths; '\(p)' is not one") }
    case "--model": modelPath = value()
    case "--ctx":
        guard let n = Int(value()), n >= 16 else { fail("--ctx takes a number of tokens (at least 16)") }
        contextLength = n
    case "--threads":
        guard let n = Int32(value()), n >= 1 else { fail("--threads takes a positive number") }
        threads = n
    case "--gpu-layers":
        guard let n = Int32(value()) else { fail("--gpu-layers takes a number") }
        gpuLayers = n
    case "--api": api = value()
    case "--base-url": baseURL = value()
    case "--api-model": apiModel = value()
    case "--api-key-env": apiKeyEnv = value()
    case "--api-stream": apiStream = true
    case "--api-concurrency":
        guard let n = Int(value()), n >= 1 else { fail("--api-concurrency takes a positive number") }
        apiConcurrency = n
    case "--log-level":
        guard let l = LogLevel(name: value()) else { fail("--log-level takes debug, info, warn or error") }
        Log.setLevel(l)
    default:
        fail("unknown option '\(args[i])'\n\n\(usage)")
    }
    i += 1
}

let bus: NATSClientOptions
do { bus = try NATSClientOptions(urls: urls) } catch { fail("\(error)", code: 78) }
let modules = ModuleSource()
var backends: [any Backend] = [ExecBackend(allowed: allowExec), NoopBackend(), SleepBackend(), WasmBackend(source: modules)]
var loadedModel: LlamaModel?
if let modelPath {
    do {
        // Joins without waiting for the model's SHA-256 (a full read of the file); it is announced when ready.
        let model = try LlamaModel(path: modelPath, gpuLayers: gpuLayers, hashFile: false)
        loadedModel = model
        backends.append(LlamaBackend(model: model, contextLength: contextLength, threads: threads))
        let d = model.descriptor
        Log("drone").info("model_loaded", ["name": d.name, "arch": d.architecture, "params": d.parameters,
                                           "desc": d.description, "context": d.contextLength])
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
let options = DroneOptions(bus: bus, name: name, tier: tier, slots: slots, backends: backends)
let drone: DroneRuntime
do { drone = try await DroneRuntime.start(options) } catch { fail("cannot start: \(error)", code: 69) }
modules.connect { [drone] hash in try await drone.fetchModule(hash) }
if let model = loadedModel {
    OSThread(name: "model-hash") {
        model.computeHash()
        Log("drone").info("model_hashed", ["sha256": model.descriptor.sha256])
        Task { await drone.reannounce() }
    }.detach()
}
_ = await ShutdownSignal.wait()
await drone.shutdown()
exit(0)
