import ExternalTools
import Foundation
import HiveWasm
import Testing

/// Runs modules under HiveWasm and, for the same module and input, under engines nobody here wrote: the Swift
/// toolchain's `wasmkit` (WASI) and wabt's `wasm-interp` (import-free modules).
@Suite(.serialized) struct InterpreterTests {
    /// Runs `tool` (a path: `ExternalTool` finds it, or says which package it is missing from).
    static func run(_ tool: String, _ args: [String], stdin: Data = Data()) throws -> (out: String, code: Int32) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: tool)
        p.arguments = args
        let out = Pipe(), input = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle.nullDevice
        p.standardInput = input
        try p.run()
        input.fileHandleForWriting.write(stdin)
        try input.fileHandleForWriting.close()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (String(decoding: data, as: UTF8.self), p.terminationStatus)
    }

    func cProgram(_ source: String, optimize: String = "-O2") throws -> (bytes: [UInt8], path: String) {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("hive-run-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        try source.write(to: dir.appendingPathComponent("p.c"), atomically: true, encoding: .utf8)
        let bytes = try WasiC.compile(dir.appendingPathComponent("p.c"), in: dir, optimize: optimize)
        return (bytes, dir.appendingPathComponent("p.wasm").path)
    }

    @Test(arguments: ["-O0", "-O2"])
    func cProgramsPrintWhatWasmkitPrints(optimize: String) throws {
        let (bytes, path) = try cProgram(#"""
            #include <stdio.h>
            #include <stdlib.h>
            #include <string.h>
            #include <stdint.h>
            static int cmp(const void *a, const void *b) { return *(const int *)a - *(const int *)b; }
            static uint64_t fib(int n) { return n < 2 ? (uint64_t)n : fib(n - 1) + fib(n - 2); }
            int main(int argc, char **argv) {
                int xs[200];
                for (int i = 0; i < 200; i++) xs[i] = (i * 7919) % 1009 - 500;
                qsort(xs, 200, sizeof xs[0], cmp);
                printf("min %d max %d median %d\n", xs[0], xs[199], xs[100]);
                printf("fib(25) = %llu\n", (unsigned long long)fib(25));
                double acc = 0;
                for (int i = 1; i <= 1000; i++) acc += 1.0 / ((double)i * i);
                printf("basel %.12f sqrt %.6f\n", acc, __builtin_sqrt(acc * 6));
                char line[256];
                if (fgets(line, sizeof line, stdin)) printf("read: %s", line);
                printf("args %d: %s\n", argc, argc > 1 ? argv[1] : "-");
                char *p = malloc(100000); memset(p, 7, 100000); printf("heap %d\n", p[99999]); free(p);
                return 3;
            }
            """#, optimize: optimize)
        let input = "hello from stdin\n"
        let ours = try WasmRunner.run(bytes, args: ["p.wasm", "first"], stdin: Array(input.utf8))
        let theirs = try Self.run(try ExternalTool.toolchainPath("wasmkit"), ["run", path, "first"], stdin: Data(input.utf8))
        #expect(ours.trap == nil, "\(ours.trap?.description ?? "")")
        #expect(String(decoding: ours.stdout, as: UTF8.self) == theirs.out)
        #expect(ours.exitCode == 3 && theirs.code == 3)
        #expect(String(decoding: ours.stdout, as: UTF8.self).contains("fib(25) = 75025"))
    }
}
