import ExternalTools
import Foundation
import HiveWasm
import Testing

@Suite struct ModuleDecoderTests {
    @Test func everySectionOfATextModuleDecodes() throws {
        let bytes = try Wat.assemble("""
            (module
              (type $t (func (param i32 i64) (result i32 f64)))
              (import "env" "log" (func $log (param i32)))
              (import "env" "g" (global $g i32))
              (import "env" "mem" (memory 1 4))
              (table $tab 2 10 funcref)
              (global $counter (mut i64) (i64.const -7))
              (global $pi f64 (f64.const 3.5))
              (global $copy i32 (global.get $g))
              (func $f (type $t) (local i32 i32) (local f32) (i32.const 1) (f64.const 2))
              (func $start)
              (export "f" (func $f))
              (export "tab" (table $tab))
              (start $start)
              (elem (i32.const 0) $f $start)
              (elem $passive func $f)
              (data (i32.const 16) "hive")
              (data $p "passive"))
            """)
        let m = try ModuleDecoder.decode(bytes)
        #expect(m.types == [FuncType(params: [.i32, .i64], results: [.i32, .f64]), FuncType(params: [.i32], results: []),
                            FuncType(params: [], results: [])])
        #expect(m.imports.map(\.name) == ["log", "g", "mem"])
        #expect(m.imports[2].descriptor == .memory(Limits(min: 1, max: 4)))
        #expect(m.functions == [0, 2])
        #expect(m.tables == [TableType(element: .funcref, limits: Limits(min: 2, max: 10))])
        #expect(m.globals.map(\.initializer) == [.i64(-7), .f64(Double(3.5).bitPattern), .globalGet(0)])
        #expect(m.globals[0].type == GlobalType(value: .i64, mutable: true))
        #expect(m.exports == [Export(name: "f", kind: .function, index: 1), Export(name: "tab", kind: .table, index: 0)])
        #expect(m.start == 2)
        #expect(m.elements.count == 2 && m.elements[0].items == [.refFunc(1), .refFunc(2)] && m.elements[1].mode == .passive)
        #expect(m.data.map(\.bytes) == [Array("hive".utf8), Array("passive".utf8)])
        #expect(m.data[0].mode == .active(memory: 0, offset: .i32(16)))
        #expect(m.bodies[0].locals == [.i32, .i32, .f32])
        #expect(m.bytes[m.bodies[0].code.upperBound - 1] == 0x0B)
        try ModuleValidator.validate(m)
    }

    @Test func aCProgramCompiledForWasiDecodesAndValidates() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("hive-c-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let source = #"""
            #include <stdio.h>
            int main(void) { printf("%d\n", 6 * 7); return 0; }
            """#
        try source.write(to: dir.appendingPathComponent("x.c"), atomically: true, encoding: .utf8)
        let m = try ModuleDecoder.decode(try WasiC.compile(dir.appendingPathComponent("x.c"), in: dir))
        try ModuleValidator.validate(m)
        #expect(m.imports.contains { $0.module == "wasi_snapshot_preview1" && $0.name == "fd_write" })
        #expect(m.exports.contains { $0.name == "_start" && $0.kind == .function })
        #expect(m.memoryLimits.count == 1 && m.bodies.count == m.functions.count)
    }

    /// Each malformed input, and the reason and offset the decoder gives.
    @Test(arguments: [
        ([0x00, 0x61, 0x73], "magic header not detected (not a WebAssembly module)", 0),
        ([0x7F, 0x45, 0x4C, 0x46, 0x01, 0, 0, 0], "magic header not detected (not a WebAssembly module)", 0),
        ([0x00, 0x61, 0x73, 0x6D, 0x02, 0, 0, 0], "unknown binary version", 4),
        ([0x00, 0x61, 0x73, 0x6D, 0x01, 0, 0, 0, 0x0E, 0x00], "malformed section id 14", 8),
        ([0x00, 0x61, 0x73, 0x6D, 0x01, 0, 0, 0, 0x01, 0x05, 0x01], "section size out of bounds", 8),
        // type section: one type, 0x61 instead of 0x60
        ([0x00, 0x61, 0x73, 0x6D, 0x01, 0, 0, 0, 0x01, 0x04, 0x01, 0x61, 0x00, 0x00], "malformed function type (expected 0x60)", 11),
        // a v128 parameter
        ([0x00, 0x61, 0x73, 0x6D, 0x01, 0, 0, 0, 0x01, 0x05, 0x01, 0x60, 0x01, 0x7B, 0x00], "v128 (SIMD) is not supported", 13),
        // function section before type section (3 then 1)
        ([0x00, 0x61, 0x73, 0x6D, 0x01, 0, 0, 0, 0x03, 0x01, 0x00, 0x01, 0x01, 0x00], "unexpected section (id 1 out of order or repeated)", 11),
        // a u32 count with 6 LEB bytes
        ([0x00, 0x61, 0x73, 0x6D, 0x01, 0, 0, 0, 0x01, 0x06, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00], "integer representation too long", 10),
        // a u32 with bits above 32 in its fifth byte
        ([0x00, 0x61, 0x73, 0x6D, 0x01, 0, 0, 0, 0x01, 0x05, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F], "integer too large", 10),
        // a function section declaring one function, and no code section
        ([0x00, 0x61, 0x73, 0x6D, 0x01, 0, 0, 0, 0x01, 0x04, 0x01, 0x60, 0x00, 0x00, 0x03, 0x02, 0x01, 0x00],
         "function and code section have inconsistent lengths", 18),
        // an export name that is not UTF-8
        ([0x00, 0x61, 0x73, 0x6D, 0x01, 0, 0, 0, 0x07, 0x05, 0x01, 0x01, 0xFF, 0x00, 0x00], "malformed UTF-8 encoding", 11),
        // a vector claiming 1,000,000 entries in a 4-byte section
        ([0x00, 0x61, 0x73, 0x6D, 0x01, 0, 0, 0, 0x01, 0x03, 0xC0, 0x84, 0x3D], "length out of bounds", 10),
        // a section whose content ends before its declared size
        ([0x00, 0x61, 0x73, 0x6D, 0x01, 0, 0, 0, 0x01, 0x02, 0x00, 0x00], "section size mismatch (section 1 ends early)", 11),
        // shared memory (threads)
        ([0x00, 0x61, 0x73, 0x6D, 0x01, 0, 0, 0, 0x05, 0x04, 0x01, 0x03, 0x01, 0x01], "shared memory (threads) is not supported", 11),
    ] as [([UInt8], String, Int)])
    func malformedBytesAreRefusedWithReasonAndOffset(bytes: [UInt8], reason: String, offset: Int) {
        #expect(throws: WasmError.malformed(offset: offset, reason: reason)) { try ModuleDecoder.decode(bytes) }
    }

    @Test func signedAndUnsignedLEBEdgesDecodeExactly() throws {
        let m = try ModuleDecoder.decode(try Wat.assemble("""
            (module (global i32 (i32.const -2147483648)) (global i32 (i32.const 2147483647))
                    (global i64 (i64.const -9223372036854775808)) (global i64 (i64.const 9223372036854775807))
                    (global f32 (f32.const nan:0x200000)) (global f32 (f32.const -0)))
            """))
        #expect(m.globals.map(\.initializer) == [.i32(.min), .i32(.max), .i64(.min), .i64(.max), .f32(0x7FA0_0000), .f32(0x8000_0000)])
    }
}

@Suite struct ModuleValidatorTests {
    func refusal(_ wat: String) throws -> String? {
        let m = try ModuleDecoder.decode(try Wat.assemble(wat, features: ["--no-check"]))
        do { try ModuleValidator.validate(m) } catch { return error.description }
        return nil
    }

    @Test func moduleLevelRulesAreEnforcedWithTheReason() throws {
        #expect(try refusal("(module (memory 2 1))") == "invalid module: memory 0: size minimum must not be greater than maximum")
        #expect(try refusal("(module (memory 65537))") == "invalid module: memory 0: size minimum must not be greater than 65536")
        #expect(try refusal("(module (memory 1) (memory 1))") == "invalid module: multiple memories are not supported")
        #expect(try refusal("(module (global i32 (i64.const 1)))") == "invalid module: type mismatch: global 0 is i32, its initializer i64")
        #expect(try refusal("(module (func) (export \"a\" (func 0)) (export \"a\" (func 0)))") == "invalid module: duplicate export name 'a'")
        #expect(try refusal("(module (func (param i32)) (start 0))")?.hasPrefix("invalid module: start function 0 must have type [] -> []") == true)
        #expect(try refusal("(module (global (mut i32) (i32.const 0)) (global i32 (global.get 0)))")?.contains("unknown global 0") == true)
        #expect(try refusal("(module (memory 1) (data (i64.const 0) \"x\"))") == "invalid module: type mismatch: data segment 0 offset must be i32")
        #expect(try refusal("(module (func) (export \"f\" (func 0)))") == nil)
    }
}
