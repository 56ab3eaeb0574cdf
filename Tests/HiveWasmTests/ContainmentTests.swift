import ExternalTools
import Foundation
@testable import HiveWasm
import Testing

/// Traps and exhausted limits are results, never crashes; deterministic mode repeats itself.
@Suite struct ContainmentTests {
    func instance(_ wat: String, limits: WasmLimits = WasmLimits(), imports: [String: [String: HostFunction]] = [:]) throws -> Instance {
        try Instance(module: try ModuleDecoder.decode(try Wat.assemble(wat)), imports: imports, limits: limits)
    }

    @Test func trapsAreReportedByName() throws {
        let i = try instance("""
            (module (memory 1) (table 2 funcref) (type $v (func)) (type $i (func (result i32)))
              (func $one (result i32) (i32.const 1)) (elem (i32.const 0) $one)
              (func (export "unreachable") (unreachable))
              (func (export "oob") (result i32) (i32.load (i32.const 65534)))
              (func (export "div") (result i32) (i32.div_u (i32.const 1) (i32.const 0)))
              (func (export "conv") (result i32) (i32.trunc_f32_s (f32.const nan)))
              (func (export "mismatch") (call_indirect (type $v) (i32.const 0)))
              (func (export "null") (result i32) (call_indirect (type $i) (i32.const 1)))
              (func (export "undefined") (result i32) (call_indirect (type $i) (i32.const 5)))
              (func $deep (export "deep") (call $deep)))
            """)
        let expected: [(String, Trap)] = [("unreachable", .unreachable), ("oob", .memoryOutOfBounds), ("div", .integerDivideByZero),
                                          ("conv", .invalidConversion), ("mismatch", .indirectCallTypeMismatch),
                                          ("null", .uninitializedElement), ("undefined", .undefinedElement), ("deep", .callStackExhausted)]
        for (name, trap) in expected {
            #expect(throws: trap) { try i.call(name) }
        }
    }

    @Test func fuelStopsAnEndlessLoopAndCountsWhatRan() throws {
        let wat = "(module (func (export \"spin\") (loop $l (br $l))) (func (export \"count\") (result i32) (local i32) (block $b (loop $l (local.set 0 (i32.add (local.get 0) (i32.const 1))) (br_if $b (i32.eq (local.get 0) (i32.const 1000))) (br $l))) (local.get 0)))"
        let spinning = try instance(wat, limits: WasmLimits(fuel: 10_000))
        #expect(throws: Trap.fuelExhausted) { try spinning.call("spin") }
        #expect(spinning.fuelUsed > 10_000 && spinning.fuelUsed < 10_100)
        let counting = try instance(wat, limits: WasmLimits(fuel: 1_000_000))
        #expect(try counting.call("count") == [1000])
        #expect(counting.fuelUsed > 8_000 && counting.fuelUsed < 12_000)
    }

    @Test func aWallClockLimitStopsAnUnmeteredLoop() throws {
        let i = try instance("(module (func (export \"spin\") (loop $l (br $l))))", limits: WasmLimits(timeoutMillis: 200))
        let start = ContinuousClock.now
        #expect(throws: Trap.timeout) { try i.call("spin") }
        #expect(ContinuousClock.now - start < .seconds(5))
    }

    @Test func anInterruptFromAnotherThreadStopsTheModule() throws {
        let stop = WasmInterrupt()
        var limits = WasmLimits()
        limits.interrupt = stop
        let i = try instance("(module (func (export \"spin\") (loop $l (br $l))))", limits: limits)
        Thread.detachNewThread { stop.set() }  // whenever it lands, the next checkpoint sees it
        #expect(throws: Trap.interrupted) { try i.call("spin") }
    }

    @Test func memoryGrowthStopsAtTheCap() throws {
        let i = try instance("(module (memory 1) (func (export \"grow\") (param i32) (result i32) (memory.grow (local.get 0))))",
                             limits: WasmLimits(maxMemoryPages: 4))
        #expect(try i.call("grow", [2]) == [1])
        #expect(try i.call("grow", [2]) == [UInt64(UInt32.max)], "-1: past the 4-page cap")
        #expect(try i.call("grow", [1]) == [3])
        #expect(i.memorySize == 4 * 65_536)
        #expect(throws: InstantiationError.self) {
            _ = try instance("(module (memory 10))", limits: WasmLimits(maxMemoryPages: 4))
        }
    }

    @Test func hugeTablesAreRefusedNotAllocated() throws {
        #expect(throws: InstantiationError.self) { _ = try instance("(module (table 4000000000 funcref))") }
        let i = try instance("(module (table 1 funcref) (func (export \"grow\") (result i32) (table.grow 0 (ref.null func) (i32.const 2000000000))))")
        #expect(try i.call("grow") == [UInt64(UInt32.max)], "-1: past the element cap")
    }

    @Test func missingImportsAreNamedAtInstantiation() throws {
        #expect(throws: InstantiationError.unknownImport(module: "env", name: "secret")) {
            _ = try instance("(module (import \"env\" \"secret\" (func)))")
        }
    }

    /// Found by the spec suite's `assert_unlinkable`: a module importing `proc_exit` with no parameters and calling
    /// it made the host read an argument that was never passed, and crashed the drone. Imports link by type now.
    @Test func wasiImportsWithTheWrongTypeAreNotLinked() throws {
        for (signature, call) in [("(func)", "(call $f)"), ("(func (param i32) (result i32))", "(drop (call $f (i32.const 0)))"),
                                  ("(func (param i64 i32 i32 i32) (result i32))", "(drop (call $f (i64.const 1) (i32.const 0) (i32.const 0) (i32.const 0)))")] {
            let name = signature.contains("i64 i32 i32 i32") ? "fd_write" : "proc_exit"
            let wat = "(module (import \"wasi_snapshot_preview1\" \"\(name)\" \(signature.replacingOccurrences(of: "(func", with: "(func $f")))"
                + " (memory (export \"memory\") 1) (func (export \"_start\") \(call)))"
            #expect(throws: InstantiationError.self, "\(name) as \(signature)") { _ = try WasmRunner.run(try Wat.assemble(wat)) }
        }
        // Stubs that answer ENOSYS accept whatever parameters their importer declares, but must return the errno.
        let stub = "(module (import \"wasi_snapshot_preview1\" \"sock_send\" (func $s (param i32 i32) (result i32)))"
            + " (memory (export \"memory\") 1) (func (export \"_start\") (if (i32.ne (call $s (i32.const 1) (i32.const 2)) (i32.const 52)) (then unreachable))))"
        #expect(try WasmRunner.run(try Wat.assemble(stub)).trap == nil)
        let noResult = "(module (import \"wasi_snapshot_preview1\" \"sock_send\" (func (param i32))))"
        #expect(throws: InstantiationError.self) { _ = try WasmRunner.run(try Wat.assemble(noResult)) }
    }
}

@Suite struct WASITests {
    static let source = #"""
        #include <stdio.h>
        #include <stdlib.h>
        #include <time.h>
        #include <unistd.h>
        int main(void) {
            struct timespec ts; clock_gettime(CLOCK_REALTIME, &ts);
            unsigned char r[8]; getentropy(r, sizeof r);
            printf("t=%lld.%09ld r=%02x%02x%02x%02x env=%s\n", (long long)ts.tv_sec, ts.tv_nsec, r[0], r[1], r[2], r[3],
                   getenv("HIVE_TASK") ? getenv("HIVE_TASK") : "-");
            for (int i = 0; i < 20000; i++) fputs("spam ", stderr);
            exit(7);
        }
        """#

    func module() throws -> [UInt8] {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("hive-wasi-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        try Self.source.write(to: dir.appendingPathComponent("w.c"), atomically: true, encoding: .utf8)
        return try WasiC.compile(dir.appendingPathComponent("w.c"), in: dir)
    }

    @Test func deterministicModeRepeatsClockAndRandomAndTheRestIsContained() throws {
        let bytes = try module()
        func run(_ seed: UInt64) throws -> WasmRunResult {
            try WasmRunner.run(bytes, environment: [("HIVE_TASK", "g1.2")], outputCap: 4_096, deterministicSeed: seed)
        }
        let a = try run(42), b = try run(42), c = try run(43)
        #expect(a.stdout == b.stdout)
        #expect(a.stdout != c.stdout)
        #expect(String(decoding: a.stdout, as: UTF8.self).hasSuffix("env=g1.2\n"))
        #expect(a.exitCode == 7 && a.trap == nil)
        #expect(a.truncated && a.stdout.count + a.stderr.count == 4_096, "100 kB of stderr stops at the output cap")
    }
}

@Suite struct ScratchDirectoryTests {
    static let source = #"""
        #include <stdio.h>
        #include <string.h>
        #include <unistd.h>
        int main(void) {
            FILE *f = fopen("/scratch/notes.txt", "w");
            if (!f) { puts("no scratch"); return 0; }
            fprintf(f, "written by the module\n");
            fclose(f);
            char line[64] = {0};
            f = fopen("/scratch/notes.txt", "r");
            fgets(line, sizeof line, f);
            fclose(f);
            printf("read back: %s", line);
            printf("escape: %s %s\n", fopen("/scratch/../../etc/passwd", "r") ? "OPEN" : "refused",
                   fopen("/etc/passwd", "r") ? "OPEN" : "refused");
            unlink("/scratch/gone.txt");
            return 0;
        }
        """#

    @Test func aGrantedDirectoryIsTheOnlyFileSystemAModuleSees() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("hive-scratch-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        try Self.source.write(to: dir.appendingPathComponent("s.c"), atomically: true, encoding: .utf8)
        let bytes = try WasiC.compile(dir.appendingPathComponent("s.c"), in: dir)
        let scratch = dir.appendingPathComponent("scratch")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        let granted = try WasmRunner.run(bytes, scratchDirectory: scratch.path)
        #expect(String(decoding: granted.stdout, as: UTF8.self) == "read back: written by the module\nescape: refused refused\n")
        #expect(try String(contentsOf: scratch.appendingPathComponent("notes.txt"), encoding: .utf8) == "written by the module\n")
        #expect(try FileManager.default.contentsOfDirectory(atPath: scratch.path) == ["notes.txt"])
        let denied = try WasmRunner.run(bytes)
        #expect(String(decoding: denied.stdout, as: UTF8.self) == "no scratch\n")
    }

    @Test func pathsCannotLeaveTheRoot() {
        #expect(ScratchDirectory.clean("a/./b/../c") == "a/c")
        #expect(ScratchDirectory.clean("../x") == nil)
        #expect(ScratchDirectory.clean("a/../../x") == nil)
        #expect(ScratchDirectory.clean("/etc/passwd") == nil)
        #expect(ScratchDirectory.clean("") == ".")
    }
}
