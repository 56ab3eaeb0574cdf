import ExternalTools
import Foundation
@testable import HiveWasm
import Testing

/// What a hostile module can make the host hold: every limit is checked before the host allocates or opens.
@Suite struct ResourceLimitTests {
    /// Descriptors this process has open now.
    static func openDescriptors() -> Int {
        (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").count) ?? -1
    }

    @Test func tablesAreBudgetedTogetherBeforeAnythingIsAllocated() throws {
        // The audit's module: twelve tables of ten million elements each (0.7 GB once allocated).
        let twelve = "(module " + String(repeating: "(table 10000000 funcref) ", count: 12) + ")"
        do {
            _ = try Instance(module: try ModuleDecoder.decode(try Wat.assemble(twelve)), imports: [:])
            Issue.record("instantiated 120M table elements")
        } catch let e as InstantiationError {
            #expect(e == .tableLimit(neededElements: 120_000_000, limitElements: 1_000_000))
            #expect(e.description.contains("the limit is 1000000 table elements per instance"))
        }
        var limits = WasmLimits()
        limits.maxTableElements = 100
        let two = try Instance(module: try ModuleDecoder.decode(try Wat.assemble("""
            (module (table 40 funcref) (table 40 funcref)
              (func (export "grow0") (param i32) (result i32) (table.grow 0 (ref.null func) (local.get 0)))
              (func (export "grow1") (param i32) (result i32) (table.grow 1 (ref.null func) (local.get 0))))
            """)), imports: [:], limits: limits)
        #expect(try two.call("grow0", [20]) == [40])
        #expect(try two.call("grow1", [1]) == [UInt64(UInt32.max)], "-1: both tables together would pass 100")
        #expect(try two.call("grow1", [0]) == [40])
    }

    @Test func memoryAskedBeyondTheCeilingIsCappedAndAnOversizedStartIsNamed() throws {
        #expect(WasmLimits(maxMemoryPages: .max).maxMemoryPages == WasmLimits.memoryPagesCeiling)
        var limits = WasmLimits()
        limits.maxMemoryPages = .max
        #expect(limits.maxMemoryPages == 65_535)
        do {
            _ = try Instance(module: try ModuleDecoder.decode(try Wat.assemble("(module (memory 300))")), imports: [:],
                             limits: WasmLimits(maxMemoryPages: 256))
            Issue.record("instantiated past the memory limit")
        } catch let e as InstantiationError {
            #expect(e == .memoryLimit(neededPages: 300, limitPages: 256))
            #expect(e.description == "the module needs 300 memory pages (18.75 MiB) at start; the memory limit is 256 pages (16 MiB)")
        }
    }

    @Test func wasiLengthsFromTheModuleNeverSizeHostAllocations() throws {
        // random_get of 4 GiB into a 1-page memory: a trap, not a 4 GiB allocation and four billion generator steps.
        let random = """
            (module (import "wasi_snapshot_preview1" "random_get" (func $r (param i32 i32) (result i32)))
              (memory (export "memory") 1) (func (export "_start") (drop (call $r (i32.const 16) (i32.const -1)))))
            """
        let r = try WasmRunner.run(try Wat.assemble(random))
        #expect(r.trap == .memoryOutOfBounds)
        // An fd_write naming 100,000 buffers: EINVAL (28), as writev answers past IOV_MAX.
        let many = """
            (module (import "wasi_snapshot_preview1" "fd_write" (func $w (param i32 i32 i32 i32) (result i32)))
              (memory (export "memory") 16)
              (func (export "_start") (if (i32.ne (call $w (i32.const 1) (i32.const 0) (i32.const 100000) (i32.const 8)) (i32.const 28))
                (then unreachable))))
            """
        #expect(try WasmRunner.run(try Wat.assemble(many)).trap == nil)
        // Pointers at the very top of the address space wrap nowhere: a trap, never an arithmetic overflow.
        let top = """
            (module (import "wasi_snapshot_preview1" "fd_fdstat_get" (func $s (param i32 i32) (result i32)))
              (memory (export "memory") 1) (func (export "_start") (drop (call $s (i32.const 1) (i32.const -4)))))
            """
        #expect(try WasmRunner.run(try Wat.assemble(top)).trap == .memoryOutOfBounds)
    }

    static let hoarder = #"""
        #include <errno.h>
        #include <fcntl.h>
        #include <stdio.h>
        int main(void) {
            int n = 0;
            char path[64];
            for (;;) {
                snprintf(path, sizeof path, "/scratch/f%d", n);
                if (open(path, O_CREAT | O_WRONLY, 0644) < 0) break;
                n++;
            }
            printf("%d %s\n", n, errno == EMFILE ? "EMFILE" : "other");
            return 0;
        }
        """#

    @Test func aModuleHoardingFilesGetsEMFILEAtItsShareAndGivesEveryDescriptorBack() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("hive-hoard-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        try Self.hoarder.write(to: dir.appendingPathComponent("h.c"), atomically: true, encoding: .utf8)
        let bytes = try WasiC.compile(dir.appendingPathComponent("h.c"), in: dir)
        let scratch = dir.appendingPathComponent("scratch")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        var limits = WasmLimits()
        limits.maxOpenFiles = 10
        let before = Self.openDescriptors()
        let r = try WasmRunner.run(bytes, limits: limits, scratchDirectory: scratch.path)
        #expect(String(decoding: r.stdout, as: UTF8.self) == "10 EMFILE\n")
        #expect(Self.openDescriptors() <= before, "every descriptor the module opened is closed when the run ends")
    }
}
