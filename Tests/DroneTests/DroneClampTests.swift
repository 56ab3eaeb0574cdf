@testable import Drone
import HiveCore
import HiveWasm
import Llama
import Testing

/// Numbers from a task (through honeycombd, which a drone does not trust either) are clamped to what the drone
/// allows or refused by name; none can trap.
@Suite struct DroneClampTests {
    static let hugeMiB = 1_152_921_504_606_846_976  // the audit's memory_mb: overflowed `* 16` and crashed drones

    @Test func wasmNumbersAreClampedToTheDronesMaxima() {
        var drone = WasmDroneLimits()
        drone.maxMemoryMB = 128
        let huge = drone.limits(for: TaskInput(fuel: Int.max, memoryMiB: Self.hugeMiB), timeoutMillis: 1_000)
        #expect(huge.maxMemoryPages == 128 * 16)
        #expect(huge.fuel == drone.maxFuel)
        let negative = drone.limits(for: TaskInput(fuel: -5, memoryMiB: Int.min), timeoutMillis: -1)
        #expect(negative.maxMemoryPages == 16 && negative.fuel == 0 && negative.timeoutMillis == 1)
        let unset = drone.limits(for: nil, timeoutMillis: 1_000)
        #expect(unset.maxMemoryPages == 64 * 16 && unset.fuel == drone.maxFuel)
        #expect(unset.maxTableElements == 1_000_000 && unset.maxOpenFiles == 64 && unset.maxScratchBytes == 64 << 20)
        drone.maxMemoryMB = Int.max
        #expect(drone.limits(for: TaskInput(memoryMiB: Self.hugeMiB), timeoutMillis: 1).maxMemoryPages == 4095 * 16)
    }

    /// A minimal WASI command: `_start` does nothing. Sections: type (func), function, export, code.
    static let emptyStart: [UInt8] = [0x00, 0x61, 0x73, 0x6D, 0x01, 0x00, 0x00, 0x00,
                                      0x01, 0x04, 0x01, 0x60, 0x00, 0x00,
                                      0x03, 0x02, 0x01, 0x00,
                                      0x07, 0x0A, 0x01, 0x06] + Array("_start".utf8) + [0x00, 0x00,
                                      0x0A, 0x04, 0x01, 0x02, 0x00, 0x0B]

    /// Twelve funcref tables of ten million elements each: 111 bytes that asked for 0.7 GB.
    static let twelveTables: [UInt8] = {
        let table: [UInt8] = [0x70, 0x00, 0x80, 0xAD, 0xE2, 0x04]  // funcref, min only, 10_000_000
        let body = [UInt8(12)] + Array((0..<12).map { _ in table }.joined())
        return [0x00, 0x61, 0x73, 0x6D, 0x01, 0x00, 0x00, 0x00, 0x04, UInt8(body.count)] + body
    }()

    func wasm(_ bytes: [UInt8], _ input: TaskInput, limits: WasmDroneLimits = WasmDroneLimits()) async -> BackendOutcome {
        let source = ModuleSource()
        source.connect { _ in bytes }
        var i = input
        i.module = SHA256.hex(bytes)
        return await WasmBackend(source: source, limits: limits)
            .run(Assignment(task: "g1.1", goal: "g1", attempt: 1, token: "t", kind: "wasm", input: i, index: 0, timeoutMillis: 5_000))
    }

    @Test func aHugeMemoryAskRunsClampedInsteadOfCrashingTheDrone() async {
        let r = await wasm(Self.emptyStart, TaskInput(fuel: Int.max, memoryMiB: Self.hugeMiB))
        #expect(r.succeeded, "\(r.error ?? "")")
    }

    @Test func aModuleWhoseMemoryStartsAboveTheTasksShareFailsNamingTheLimit() async {
        // memory 1000 pages (62.5 MiB) at start; the task gets 16 MiB.
        let big = Array(Self.emptyStart.prefix(8)) + [0x05, 0x04, 0x01, 0x00, 0xE8, 0x07]
        let r = await wasm(big, TaskInput(memoryMiB: 16))
        #expect(!r.succeeded)
        #expect(r.error?.hasSuffix("the module needs 1000 memory pages (62.5 MiB) at start; the memory limit is 256 pages (16 MiB) "
            + "(the task's memory_mb, at most this drone's --wasm-max-memory-mb 256)") == true, "\(r.error ?? "")")
    }

    @Test func hugeTablesFailTheTaskNamingTheLimit() async {
        let r = await wasm(Self.twelveTables, TaskInput())
        #expect(!r.succeeded && r.permanent == true)
        #expect(r.error?.contains("tables need 120000000 elements") == true)
        #expect(r.error?.contains("the limit is 1000000 table elements per instance (this drone's --wasm-max-table-elements)") == true,
                "\(r.error ?? "")")
    }

    @Test func theModuleCacheIsBoundedByCountAndBytesLeastRecentlyUsedFirst() throws {
        let m = try CompiledModule(bytes: Self.emptyStart)
        let cache = ModuleCache(maxModules: 2, maxBytes: 1_000)
        cache.put("a", m, bytes: 100)
        cache.put("b", m, bytes: 100)
        _ = cache.get("a")  // b is now the least recently used
        cache.put("c", m, bytes: 100)
        #expect(cache.contains("a") && !cache.contains("b") && cache.contains("c") && cache.count == 2)
        cache.put("d", m, bytes: 950)  // over the byte bound with either of a and c: both go
        #expect(cache.count == 1 && cache.contains("d") && cache.totalBytes == 950)
        cache.put("e", m, bytes: 5_000)  // larger than the whole bound: not kept, nothing evicted for it
        #expect(!cache.contains("e") && cache.contains("d"))
        #expect(m.translatedBytes > 0)
    }

    @Test func samplingNumbersAreClampedAndNonFiniteOnesRefusedByName() {
        var input = TaskInput(maxTokens: Int.max, temperature: 5_000, topK: 3_000_000_000, topP: 7, seed: Int.min)
        guard case .success(let p) = LlamaBackend.sampling(input, vocabularySize: 32_000, contextLength: 2_048) else {
            Issue.record("refused finite numbers")
            return
        }
        #expect(p.topK == 32_000 && p.topP == 1 && p.temperature == 1_000 && p.maxTokens == 2_048)
        input = TaskInput(temperature: -1, topK: -3)
        if case .success(let q) = LlamaBackend.sampling(input, vocabularySize: 100, contextLength: 16) {
            #expect(q.temperature == 0 && q.topK == 0)
        }
        input = TaskInput(temperature: .nan)
        #expect(LlamaBackend.sampling(input, vocabularySize: 100, contextLength: 16) == .failure(.notFinite(field: "temperature", value: .nan)) || {
            if case .failure(let e) = LlamaBackend.sampling(input, vocabularySize: 100, contextLength: 16) { return e.description == "temperature must be a finite number, not nan" }
            return false
        }())
        input = TaskInput(topP: .infinity)
        if case .failure(let e) = LlamaBackend.sampling(input, vocabularySize: 100, contextLength: 16) {
            #expect(e.description == "top_p must be a finite number, not inf")
        } else {
            Issue.record("inf top_p accepted")
        }
        #expect(ProviderTransport.checkFinite(TaskInput(temperature: .nan)) == "temperature must be a finite number, not nan")
    }

    @Test func aProvidersRetryAfterCannotTrapOrStallTheDrone() {
        #expect(ProviderTransport.retryDelaySeconds("nan", attempt: 1) == 2)
        #expect(ProviderTransport.retryDelaySeconds("-1e300", attempt: 1) == 0)
        #expect(ProviderTransport.retryDelaySeconds("1e300", attempt: 1) == 30)
        #expect(ProviderTransport.retryDelaySeconds("inf", attempt: 2) == 4)
        #expect(ProviderTransport.retryDelaySeconds(" 3 ", attempt: 1) == 3)
        #expect(ProviderTransport.retryDelaySeconds(nil, attempt: Int.max) == 30)
        #expect(ProviderTransport.requestTimeout(Int.min, cap: 120) == 0.001)
        #expect(ProviderTransport.requestTimeout(Int.max, cap: 120) == 120)
    }

    @Test func aSleepTaskNeverOutlivesItsTimeout() async {
        let a = Assignment(task: "g1.1", goal: "g1", attempt: 1, token: "t", kind: "sleep",
                           input: TaskInput(sleepMillis: Int.max), index: 0, timeoutMillis: 50)
        let start = ContinuousClock.now
        #expect(await SleepBackend().run(a).succeeded)
        #expect(ContinuousClock.now - start < .seconds(3))
    }
}
