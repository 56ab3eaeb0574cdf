import ExternalTools
import Foundation
@testable import HiveWasm
import Testing

/// Host calls and bulk operations do bounded work, pay fuel for it, and are followed by a look at the clock and the
/// interrupt: a module cannot turn a few instructions into unbounded host work and escape its limits (the audit's
/// module made 1024 iovecs of 64 MiB each and looped on fd_write: 64 GiB copied per call, the clock looked at once
/// a million calls).
@Suite struct HostWorkTests {
    /// The audit's module: 1024 iovecs, each the whole 64 MiB memory, written to stdout for ever.
    static let amplifier = """
        (module
          (import "wasi_snapshot_preview1" "fd_write" (func $w (param i32 i32 i32 i32) (result i32)))
          (memory (export "memory") 1024)
          (func (export "_start") (local $k i32)
            (block $done (loop $fill
              (br_if $done (i32.ge_u (local.get $k) (i32.const 1024)))
              (i32.store (i32.mul (local.get $k) (i32.const 8)) (i32.const 0))
              (i32.store (i32.add (i32.mul (local.get $k) (i32.const 8)) (i32.const 4)) (i32.const 0x4000000))
              (local.set $k (i32.add (local.get $k) (i32.const 1)))
              (br $fill)))
            (loop $forever
              (drop (call $w (i32.const 1) (i32.const 0) (i32.const 1024) (i32.const 16384)))
              (br $forever))))
        """

    func run(_ wat: String, _ limits: WasmLimits, outputCap: Int = 1 << 20) throws -> (WasmRunResult, Duration) {
        let bytes = try Wat.assemble(wat)
        let start = ContinuousClock.now
        let r = try WasmRunner.run(bytes, limits: limits, outputCap: outputCap)
        return (r, ContinuousClock.now - start)
    }

    @Test func theIovecAmplifierEndsAtItsTimeout() throws {
        let (r, took) = try run(Self.amplifier, WasmLimits(maxMemoryPages: 1024, timeoutMillis: 500))
        #expect(r.trap == .timeout)
        #expect(took < .seconds(5), "ran \(took) past a 500 ms timeout")
        #expect(r.stdout.count == 1 << 20 && r.truncated, "output stops at the cap")
    }

    @Test func theIovecAmplifierEndsWhenItsFuelIsSpent() throws {
        // No clock: fuel alone bounds the work (each call pays 1,024 for its buffers, nothing for output past the cap).
        let (r, took) = try run(Self.amplifier, WasmLimits(fuel: 5_000_000, maxMemoryPages: 1024))
        #expect(r.trap == .fuelExhausted)
        #expect(r.fuelUsed <= 5_000_000 + 1_100, "fuel used \(r.fuelUsed)")
        #expect(took < .seconds(30), "took \(took)")
    }

    @Test func anInterruptStopsAModuleThatOnlyCallsTheHost() throws {
        let stop = WasmInterrupt()
        var limits = WasmLimits(maxMemoryPages: 1024)
        limits.interrupt = stop
        Thread.detachNewThread {
            Thread.sleep(forTimeInterval: 0.2)  // not synchronisation: the module must be stopped whenever this lands
            stop.set()
        }
        let (r, took) = try run(Self.amplifier, limits)
        #expect(r.trap == .interrupted)
        #expect(took < .seconds(5))
    }

    /// One `fd_write` of `iovecs` buffers of `bytes` each (all at offset 64), then return.
    static func writeOnce(iovecs: Int, bytes: Int) -> String {
        var fill = ""
        for k in 0..<iovecs {
            fill += "(i32.store (i32.const \(k * 8)) (i32.const 64)) (i32.store (i32.const \(k * 8 + 4)) (i32.const \(bytes)))\n"
        }
        return """
            (module (import "wasi_snapshot_preview1" "fd_write" (func $w (param i32 i32 i32 i32) (result i32)))
              (memory (export "memory") 1)
              (func (export "_start") \(fill) (drop (call $w (i32.const 1) (i32.const 0) (i32.const \(iovecs)) (i32.const 60000)))))
            """
    }

    @Test func hostCallsPayFuelPerBufferAndPerBytesMoved() throws {
        let metered = WasmLimits(fuel: 1_000_000)
        func fuel(_ iovecs: Int, _ bytes: Int, cap: Int = 1 << 20) throws -> Int64 {
            // Instructions differ only by the stores, 6 per iovec (two constants and a store, twice): take them out.
            try run(Self.writeOnce(iovecs: iovecs, bytes: bytes), metered, outputCap: cap).0.fuelUsed - Int64(6 * iovecs)
        }
        let base = try fuel(1, 0)
        #expect(try fuel(4, 0) - base == 3, "one per buffer")
        #expect(try fuel(1, 1_600) - base == 100, "one per \(Instance.bytesPerFuel) bytes")
        #expect(try fuel(1, 1_601) - base == 101, "a started block counts")
        // Output past the cap is neither copied nor paid for.
        #expect(try fuel(1, 1_600, cap: 160) - base == 10)
        #expect(try fuel(1, 1_600, cap: 0) - base == 0)
    }

    @Test func aHostCallWhoseWorkWouldPassTheFuelLeftTrapsBeforeDoingIt() throws {
        let random = """
            (module (import "wasi_snapshot_preview1" "random_get" (func $r (param i32 i32) (result i32)))
              (memory (export "memory") 16) (func (export "_start") (drop (call $r (i32.const 0) (i32.const 1000000)))))
            """
        let (poor, _) = try run(random, WasmLimits(fuel: 10_000))
        #expect(poor.trap == .fuelExhausted)
        let (rich, _) = try run(random, WasmLimits(fuel: 2_000_000))
        #expect(rich.trap == nil && rich.fuelUsed >= 1_000_000, "a byte of random costs one fuel: \(rich.fuelUsed)")
    }

    @Test func bulkMemoryOperationsPayForTheirBytesAndAreTimed() throws {
        let fill = """
            (module (memory 1024)
              (func (export "_start") (loop $l (memory.fill (i32.const 0) (i32.const 1) (i32.const 0x4000000)) (br $l))))
            """
        let (timed, took) = try run(fill, WasmLimits(maxMemoryPages: 1024, timeoutMillis: 300))
        #expect(timed.trap == .timeout)
        #expect(took < .seconds(5), "ran \(took) past a 300 ms timeout")
        let (metered, _) = try run(fill, WasmLimits(fuel: 40_000_000, maxMemoryPages: 1024))
        #expect(metered.trap == .fuelExhausted)
        #expect(metered.fuelUsed < 50_000_000, "ten fills at most: \(metered.fuelUsed)")
    }
}
