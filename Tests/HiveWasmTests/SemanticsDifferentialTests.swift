import ExternalTools
import Foundation
import HiveWasm
import Testing

/// Control flow, multi-value, tables and indirect calls, bulk memory, memory bounds and growth, globals: each
/// export of one module run in order on one instance by HiveWasm and by wabt's `wasm-interp` (whose
/// `--run-all-exports` does the same), with the same results or the same trap. wabt names some traps
/// differently; `wabtNames` maps them.
@Suite struct SemanticsDifferentialTests {
    static let module = #"""
(module
  (type $ii (func (param i32) (result i32)))
  (type $v (func))
  (memory 1 3)
  (table $t 4 8 funcref)
  (global $g (mut i32) (i32.const 10))
  (func $double (type $ii) (i32.mul (local.get 0) (i32.const 2)))
  (func $inc (type $ii) (i32.add (local.get 0) (i32.const 1)))
  (func $nop (type $v))
  (elem (i32.const 0) $double $inc)
  (elem $e func $inc $double $nop)
  (data $d "\01\02\03\04\05")
  (func (export "br_table") (result i32)
    (local i32 i32)
    (loop $l
      (block $b2 (block $b1 (block $b0
        (br_table $b0 $b1 $b2 (local.get 0)))
        (local.set 1 (i32.add (local.get 1) (i32.const 1))) (br $b2))
        (local.set 1 (i32.add (local.get 1) (i32.const 10))) (br $b2))
      (local.set 1 (i32.add (local.get 1) (i32.const 100)))
      (local.set 0 (i32.add (local.get 0) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get 0) (i32.const 5))))
    (local.get 1))
  (func $pair (result i32 i64) (i32.const 7) (i64.const -8))
  (func (export "multi") (result i64 i32) (local i64) (call $pair) (local.set 0) (drop) (local.get 0) (i32.const 4))
  (func (export "block_params") (result i32)
    (i32.const 5) (block (param i32) (result i32) (i32.add (i32.const 6))) )
  (func (export "if_else") (result i32)
    (if (result i32) (global.get $g) (then (i32.const 1)) (else (i32.const 2))))
  (func (export "indirect_ok") (result i32) (call_indirect (type $ii) (i32.const 21) (i32.const 0)))
  (func (export "indirect_null") (result i32) (call_indirect (type $ii) (i32.const 1) (i32.const 3)))
  (func (export "indirect_oob") (result i32) (call_indirect (type $ii) (i32.const 1) (i32.const 9)))
  (func (export "indirect_type") (call_indirect (type $v) (i32.const 0)))
  (func (export "table_ops") (result i32)
    (table.init $t $e (i32.const 2) (i32.const 0) (i32.const 2))
    (elem.drop $e)
    (drop (table.grow $t (ref.null func) (i32.const 2)))
    (table.copy $t $t (i32.const 4) (i32.const 2) (i32.const 2))
    (i32.add (table.size $t) (call_indirect (type $ii) (i32.const 100) (i32.const 5))))
  (func (export "table_init_after_drop") (elem.drop $e) (table.init $t $e (i32.const 0) (i32.const 0) (i32.const 1)))
  (func (export "mem_ops") (result i64)
    (memory.init $d (i32.const 100) (i32.const 0) (i32.const 5))
    (memory.copy (i32.const 102) (i32.const 100) (i32.const 5))
    (memory.fill (i32.const 110) (i32.const 255) (i32.const 2))
    (i64.load (i32.const 100)))
  (func (export "mem_grow") (result i32 i32 i32)
    (memory.grow (i32.const 1)) (memory.grow (i32.const 5)) (memory.size))
  (func (export "load_edge") (result i32) (i32.load (i32.const 65532)))
  (func (export "load_oob") (result i32) (i32.load (i32.const 65533)))
  (func (export "load_offset_oob") (result i32) (i32.load offset=4294967295 (i32.const 1)))
  (func (export "store_oob") (i64.store (i32.const 65530) (i64.const 1)))
  (func (export "fill_oob") (memory.fill (i32.const 65535) (i32.const 0) (i32.const 2)))
  (func (export "select_t") (result i64) (select (result i64) (i64.const 1) (i64.const 2) (i32.const 0)))
  (func (export "global_rw") (result i32) (global.set $g (i32.add (global.get $g) (i32.const 5))) (global.get $g))
  (func $fac (param i64) (result i64)
    (if (result i64) (i64.eqz (local.get 0)) (then (i64.const 1))
      (else (i64.mul (local.get 0) (call $fac (i64.sub (local.get 0) (i64.const 1)))))))
  (func (export "fac20") (result i64) (call $fac (i64.const 20)))
  (func (export "unreachable") (unreachable))
  (func (export "return_early") (result i32) (block (return (i32.const 9))) (i32.const 1))
)
"""#

    static let wabtNames = [
        "uninitialized table element": "uninitialized element",
        "undefined table index": "undefined element",
        "indirect call signature mismatch": "indirect call type mismatch",
    ]

    @Test func everyExportMatchesWasmInterpInOrder() throws {
        let bytes = try Wat.assemble(Self.module)
        let expected = try WasmInterp.results(bytes, names: Self.wabtNames)
        var compared = 0
        for run in try ExportRuns.run(bytes) {
            #expect(run.shown == expected[run.name], "\(run.name)")
            compared += 1
        }
        #expect(compared == expected.count && compared >= 20)
    }
}
