import ExternalTools
import Foundation
import HiveWasm
import Testing

@Suite struct CodeValidatorTests {
    func compile(_ wat: String) throws -> [FunctionCode] {
        try ModuleValidator.compile(try ModuleDecoder.decode(try Wat.assemble(wat, features: ["--no-check"])))
    }

    func refusal(_ wat: String) throws -> String? {
        do { _ = try compile(wat) } catch let e as WasmError { return e.description }
        return nil
    }

    @Test func everyInstructionFamilyValidates() throws {
        let code = try compile("""
            (module
              (type $bin (func (param i32 i32) (result i32)))
              (memory 1) (table 2 funcref) (global $g (mut i64) (i64.const 0))
              (elem declare func $add)
              (data $d "abc")
              (func $add (type $bin) (i32.add (local.get 0) (local.get 1)))
              (func $all (param i32 f64) (result i64) (local f32 externref)
                (drop (i32.load8_u offset=3 (i32.const 0)))
                (i64.store (i32.const 8) (i64.extend_i32_s (local.get 0)))
                (local.set 2 (f32.demote_f64 (f64.sqrt (local.get 1))))
                (drop (i32.trunc_sat_f32_s (local.get 2)))
                (drop (i64.extend8_s (i64.const 200)))
                (drop (select (i32.const 1) (i32.const 2) (local.get 0)))
                (drop (ref.is_null (local.get 3)))
                (drop (ref.func $add))
                (drop (call_indirect (type $bin) (i32.const 1) (i32.const 2) (i32.const 0)))
                (memory.copy (i32.const 0) (i32.const 8) (i32.const 4))
                (memory.fill (i32.const 0) (i32.const 0) (i32.const 4))
                (memory.init $d (i32.const 0) (i32.const 0) (i32.const 3))
                (data.drop $d)
                (drop (memory.grow (memory.size)))
                (drop (table.size 0))
                (global.set $g (i64.const 5))
                (block $out (result i64)
                  (loop $again
                    (br_if $again (i32.eqz (local.get 0)))
                    (br_table $again $again (local.get 0)))
                  (i64.const 9))))
            """)
        #expect(code.count == 2)
        #expect(code[1].locals == [.i32, .f64, .f32, .externref])
        #expect(code[1].code.last == Instruction(Op.ret, a: 1))
    }

    @Test func branchesResolveToTheirTargetsWithTheHeightsTheyRestore() throws {
        let f = try compile("""
            (module (func (param i32) (result i32)
              (block $b (result i32)
                (i32.const 7)
                (br_if $b (local.get 0))
                (drop)
                (loop $l (br_if $l (i32.const 0)))
                (i32.const 8))))
            """)[0]
        let brIfs = f.code.enumerated().filter { $0.element.op == Op.branchIf }
        #expect(brIfs.count == 2)
        // br_if $b: keep 1 value (the block's i32), restore height 0, jump to the block's end (the ret).
        #expect(brIfs[0].element.b == 1 << 32 | 0)
        #expect(f.code[Int(brIfs[0].element.a)] == Instruction(Op.ret, a: 1))
        // br_if $l: a loop's label takes its parameters (none) and jumps back to the loop's first instruction.
        #expect(brIfs[1].element.b == 0 << 32 | 0)
        #expect(Int(brIfs[1].element.a) == brIfs[1].offset - 1)
        #expect(f.maxStack >= 2)
    }

    @Test func invalidBodiesAreRefusedWithTheReason() throws {
        func why(_ body: String, _ extra: String = "") throws -> String {
            try refusal("(module \(extra) (func \(body)))") ?? "accepted"
        }
        #expect(try why("(result i32) (i32.add (i32.const 1) (i64.const 2))").contains("type mismatch: expected i32, got i64"))
        #expect(try why("(drop (i32.add (i32.const 1)))").contains("the stack is empty"))
        #expect(try why("(i32.const 1)").contains("1 value(s) left on the stack"))
        #expect(try why("(drop (local.get 3))").contains("unknown local 3"))
        #expect(try why("(global.set 0 (i32.const 1))", "(global i32 (i32.const 0))").contains("global 0 is immutable"))
        #expect(try why("(drop (i32.load align=8 (i32.const 0)))", "(memory 1)").contains("alignment must not be larger than natural"))
        #expect(try why("(drop (i32.load (i32.const 0)))").contains("unknown memory 0"))
        #expect(try why("(drop (ref.func 0))").contains("undeclared function reference 0"))
        #expect(try why("(if (result i32) (i32.const 1) (then (i32.const 1)))").contains("an if without else"))
        #expect(try why("(block $a (result i32) (block $b (br_table $a $b (i32.const 0) (i32.const 0))) (i32.const 1))")
            .contains("br_table targets have different arities"))
        #expect(try why("(drop (select (ref.null extern) (ref.null extern) (i32.const 1)))").contains("untyped select needs numeric operands"))
        #expect(try why("(br 1)").contains("unknown label 1"))
        #expect(try why("(unreachable) (i32.add) (drop)") == "accepted")  // unreachable code is polymorphic
    }

    @Test func aCompiledCProgramValidatesInFull() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("hive-c-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let source = #"""
            #include <stdio.h>
            #include <stdlib.h>
            #include <string.h>
            static int cmp(const void *a, const void *b) { return *(const int *)a - *(const int *)b; }
            int main(int argc, char **argv) {
                int xs[64];
                for (int i = 0; i < 64; i++) xs[i] = (i * 7919) % 101;
                qsort(xs, 64, sizeof xs[0], cmp);
                char buf[32];
                snprintf(buf, sizeof buf, "%d %g", xs[63], 1.5 * argc);
                puts(buf);
                return strlen(buf) > 0 ? 0 : 1;
            }
            """#
        try source.write(to: dir.appendingPathComponent("p.c"), atomically: true, encoding: .utf8)
        for opt in ["-O0", "-O2"] {
            let m = try ModuleDecoder.decode(try WasiC.compile(dir.appendingPathComponent("p.c"), in: dir, optimize: opt))
            let code = try ModuleValidator.compile(m)
            #expect(code.count == m.bodies.count && code.count > 20)
        }
    }
}
