import Foundation
import HiveCore
import HiveSystem
import HiveWasm
import NATSWire

/// Where a drone gets content it has not seen, by name: honeycombd's stores over the bus (modules:
/// `DroneRuntime.fetchModule`; task inputs: `DroneRuntime.fetchBlob`).
///
/// The fetcher is set once the drone has started, and honeycombd may assign a task the moment it answers the
/// drone's hello, a little before that: such a fetch waits for the fetcher instead of failing the task.
public typealias ModuleSource = ContentSource

public final class ContentSource: @unchecked Sendable {
    private let lock = PosixLock()
    private var fetcher: (@Sendable (String) async throws -> [UInt8])?
    private var waiting: [CheckedContinuation<@Sendable (String) async throws -> [UInt8], Never>] = []

    public init() {}

    /// Set once the drone is connected.
    public func connect(_ fetch: @escaping @Sendable (String) async throws -> [UInt8]) {
        let ready = lock.withLock { () -> [CheckedContinuation<@Sendable (String) async throws -> [UInt8], Never>] in
            fetcher = fetch
            defer { waiting = [] }
            return waiting
        }
        for w in ready { w.resume(returning: fetch) }
    }

    func fetch(_ hash: String) async throws -> [UInt8] {
        let f = await withCheckedContinuation { (c: CheckedContinuation<@Sendable (String) async throws -> [UInt8], Never>) in
            let now: (@Sendable (String) async throws -> [UInt8])? = lock.withLock {
                if let fetcher { return fetcher }
                waiting.append(c)
                return nil
            }
            if let now { c.resume(returning: now) }
        }
        return try await f(hash)
    }
}

/// What a drone lets any one wasm task use, whatever the task asks: a task may ask for less (`memory_mb`, `fuel`),
/// never more (its numbers are clamped to these).
public struct WasmDroneLimits: Sendable, Equatable {
    /// Linear memory per task (`--wasm-max-memory-mb`); a task without `memory_mb` gets `defaultMemoryMB`.
    public var maxMemoryMB = 256
    public var defaultMemoryMB = 64
    /// Table elements per instance, all tables together (`--wasm-max-table-elements`).
    public var maxTableElements = 1_000_000
    /// Instructions per task (`--wasm-max-fuel`); a task without `fuel` gets this much.
    public var maxFuel: Int64 = 100_000_000_000
    /// Files open at once in a granted scratch directory (`--wasm-max-open-files`).
    public var maxOpenFiles = 64
    /// Bytes written to a granted scratch directory per task (`--wasm-max-scratch-mb`).
    public var maxScratchMB = 64
    /// Compiled modules kept (`--wasm-module-cache`, `--wasm-module-cache-mb`).
    public var cacheModules = 64
    public var cacheBytes = 256 << 20

    public init() {}

    /// The limits for one task.
    func limits(for input: TaskInput?, timeoutMillis: Int) -> WasmLimits {
        let ceiling = min(max(1, maxMemoryMB), Int(WasmLimits.memoryPagesCeiling / 16))
        let mib = min(max(1, input?.memoryMiB ?? defaultMemoryMB), ceiling)
        let fuel = min(max(0, Int64(input?.fuel ?? Int.max)), max(0, maxFuel))
        var limits = WasmLimits(fuel: fuel, maxMemoryPages: UInt32(mib) * 16, timeoutMillis: max(1, timeoutMillis))
        limits.maxTableElements = max(0, maxTableElements)
        limits.maxOpenFiles = max(0, maxOpenFiles)
        limits.maxScratchBytes = min(max(0, maxScratchMB), 1 << 30) << 20
        return limits
    }
}

/// Runs `wasm` tasks: the module named by its SHA-256, fetched from honeycombd once, verified against the hash,
/// validated and translated once and cached that way (`ModuleCache`, bounded), run by HiveWasm on its own thread
/// under the task's fuel, memory and timeout, each clamped to the drone's `WasmDroneLimits`.
/// The module's stdin is the task's `stdin`; its stdout is the output; a trap or a non-zero exit fails the task.
public final class WasmBackend: Backend, @unchecked Sendable {
    public var kind: String { "wasm" }
    public var capabilities: [String] { [] }
    let source: ModuleSource
    let outputCap: Int
    public let limits: WasmDroneLimits
    let cache: ModuleCache

    /// Where a `stdin_blob` comes from.
    let inputs: BlobInputs

    public init(source: ModuleSource, outputCap: Int = 64 * 1024, limits: WasmDroneLimits = WasmDroneLimits(),
                inputs: BlobInputs = BlobInputs()) {
        self.inputs = inputs
        self.source = source
        self.outputCap = max(0, outputCap)
        self.limits = limits
        cache = ModuleCache(maxModules: limits.cacheModules, maxBytes: limits.cacheBytes)
    }

    /// Compiled modules cached now (tests, metrics).
    public var cachedModules: Int { cache.count }

    public func run(_ task: Assignment) async -> BackendOutcome {
        guard let hash = task.input?.module?.lowercased(), hash.count == 64, hash.allSatisfy(\.isHexDigit) else {
            return .failure("a wasm task needs input.module: the module's SHA-256 (hive module add FILE.wasm prints it)", permanent: true)
        }
        var compiled = cache.get(hash)
        if compiled == nil {
            let fetched: [UInt8]
            do { fetched = try await source.fetch(hash) } catch {
                return .failure("cannot fetch module \(hash): \(error)", permanent: (error as? APIError)?.kind == .notFound)
            }
            // Untrusted path: the bytes must be the module the task names. Hashing and compiling take time in
            // proportion to the module: off the cooperative pool (`ThreadPool.blocking`).
            let checked: Result<CompiledModule, WasmError>? = await ThreadPool.blocking.value {
                guard SHA256.hex(fetched) == hash else { return nil }
                return Result { () throws(WasmError) in try CompiledModule(bytes: fetched) }
            }
            switch checked {
            case nil: return .failure("module \(hash) failed verification: its SHA-256 differs")
            case .failure(let error)?: return .failure("module \(hash) cannot run: \(error)", permanent: true)
            case .success(let module)?: compiled = module
            }
            cache.put(hash, compiled!, bytes: fetched.count + compiled!.translatedBytes)
        }
        var limits = self.limits.limits(for: task.input, timeoutMillis: task.timeoutMillis)
        let args = [task.task] + (task.input?.args ?? [])
        let env = (task.input?.env ?? [:]).sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
            + [("HIVE_TASK_ID", task.task), ("HIVE_TASK_INDEX", String(task.index))]
        let stdin: [UInt8]
        switch await inputs.stdin(of: task.input) {
        case .bytes(let bytes): stdin = bytes
        case .refused(let outcome): return outcome
        }
        let module = compiled!
        let cap = outputCap
        // A granted scratch directory is the task's own: made fresh here, removed when the task ends.
        var scratchPath: String?
        if task.input?.scratch == true {
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent("hive-wasm-\(UUID().uuidString)")
            guard (try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)) != nil else {
                return .failure("cannot create a scratch directory")
            }
            scratchPath = dir.path
        }
        defer { if let scratchPath { try? FileManager.default.removeItem(atPath: scratchPath) } }
        let scratch = scratchPath
        let interrupt = WasmInterrupt()
        limits.interrupt = interrupt
        let fixedLimits = limits
        // A cancelled task (its goal ended, or a join no longer needs it) stops the module at its next checkpoint.
        let result: Result<WasmRunResult, any Error> = await withTaskCancellationHandler {
            await withCheckedContinuation { done in
                OSThread(name: "wasm-\(task.task)") {
                    done.resume(returning: Result {
                        try WasmRunner.run(module, args: args, environment: env, stdin: stdin, limits: fixedLimits, outputCap: cap,
                                           deterministicSeed: Self.seed(task.task), scratchDirectory: scratch)
                    })
                }.detach()
            }
        } onCancel: {
            interrupt.set()
        }
        switch result {
        case .failure(let e):
            return .failure("module \(hash) cannot run: \(e)\(limitHint(e))", permanent: true)
        case .success(let r):
            let out = String(decoding: r.stdout, as: UTF8.self)
            let err = String(decoding: r.stderr.suffix(2_000), as: UTF8.self)
            if let trap = r.trap {
                var o = BackendOutcome(succeeded: false, output: out, error: "trap: \(trap) (after \(r.fuelUsed) instructions)")
                o.permanent = trap != .timeout && trap != .interrupted ? true : nil  // deterministic: it would trap again anywhere
                o.fuel = r.fuelUsed
                return o
            }
            let code = Int(r.exitCode ?? 0)
            var o = BackendOutcome(succeeded: code == 0, exitCode: code, output: out,
                                   error: code == 0 ? nil : (err.isEmpty ? "exit code \(code)" : err))
            o.fuel = r.fuelUsed
            o.keepRaw(r.stdout)
            return o
        }
    }

    /// Which drone flag set the limit an instantiation hit, so the message says what to change.
    private func limitHint(_ e: any Error) -> String {
        switch e as? InstantiationError {
        case .memoryLimit?: return " (the task's memory_mb, at most this drone's --wasm-max-memory-mb \(limits.maxMemoryMB))"
        case .tableLimit?: return " (this drone's --wasm-max-table-elements)"
        default: return ""
        }
    }

    /// Deterministic mode's seed: the same task id gives the same clock and random bytes.
    static func seed(_ task: String) -> UInt64 {
        task.utf8.reduce(14_695_981_039_346_656_037) { ($0 ^ UInt64($1)) &* 1_099_511_628_211 }
    }
}
