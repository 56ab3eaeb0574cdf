;; HiveWasm's own spec-format script: behaviour found by running the official suite, and the edges of the
;; translator's fused forms. Run by SpecScriptTests through wabt's wast2json.

;; Imports are linked by type: host code never reads arguments the module did not pass.
(assert_unlinkable
  (module (import "spectest" "print_i32" (func (param i64))))
  "incompatible import type")
(assert_unlinkable
  (module (import "spectest" "print_i32" (func (param i32) (result i32))))
  "incompatible import type")
(assert_unlinkable
  (module (import "spectest" "no_such_function" (func)))
  "unknown import")
(module (import "spectest" "print_i32" (func (param i32))))

;; Export names are compared as bytes: these two spell the same letter differently (U+00C5; A, U+030A).
(module
  (func (export "\c3\85") (result i32) (i32.const 1))
  (func (export "A\cc\8a") (result i32) (i32.const 2))
  (func (export "\ef\bb\bf") (result i32) (i32.const 3)))
(assert_return (invoke "\c3\85") (i32.const 1))
(assert_return (invoke "A\cc\8a") (i32.const 2))
(assert_return (invoke "\ef\bb\bf") (i32.const 3))
(assert_invalid
  (module (func (export "a")) (func (export "a")))
  "duplicate export name")

;; Traps by name.
(module
  (type $v (func))
  (table 2 funcref)
  (elem (i32.const 0) $f)
  (memory 1)
  (func $f (result i32) (i32.const 7))
  (func (export "div0") (param i32) (result i32) (i32.div_s (i32.const 1) (local.get 0)))
  (func (export "overflow") (result i32) (i32.div_s (i32.const 0x80000000) (i32.const -1)))
  (func (export "oob") (param i32) (result i32) (i32.load offset=4 (local.get 0)))
  (func (export "mismatch") (call_indirect (type $v) (i32.const 0)))
  (func (export "null") (call_indirect (type $v) (i32.const 1)))
  (func (export "undefined") (call_indirect (type $v) (i32.const 2)))
  (func $deep (export "deep") (call $deep))
  (func (export "unreachable") (unreachable)))
(assert_trap (invoke "div0" (i32.const 0)) "integer divide by zero")
(assert_trap (invoke "overflow") "integer overflow")
(assert_return (invoke "oob" (i32.const 65528)) (i32.const 0))
(assert_trap (invoke "oob" (i32.const 65529)) "out of bounds memory access")
(assert_trap (invoke "oob" (i32.const -4)) "out of bounds memory access")
(assert_trap (invoke "mismatch") "indirect call type mismatch")
(assert_trap (invoke "null") "uninitialized element")
(assert_trap (invoke "undefined") "undefined element")
(assert_exhaustion (invoke "deep") "call stack exhausted")
(assert_trap (invoke "unreachable") "unreachable")

;; The translator's fused forms inside loops: compare-and-branch on a local.tee, register rotation, a
;; rotate-xor chain, a load at local + k.
(module
  (memory 1)
  (data (i32.const 0) "\01\00\00\00\02\00\00\00\03\00\00\00")
  (func (export "count") (param $n i32) (result i32) (local $i i32)
    (loop $l
      (br_if $l (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 1))) (local.get $n))))
    (local.get $i))
  (func (export "count_down") (param $n i32) (result i32) (local $steps i32)
    (block $done
      (loop $l
        (br_if $done (i32.le_s (local.get $n) (i32.const 0)))
        (local.set $n (i32.sub (local.get $n) (i32.const 3)))
        (local.set $steps (i32.add (local.get $steps) (i32.const 1)))
        (br $l)))
    (local.get $steps))
  (func (export "fib") (param $n i32) (result i32) (local $a i32) (local $b i32) (local $t i32)
    (local.set $b (i32.const 1))
    (block $done
      (loop $l
        (br_if $done (i32.eqz (local.get $n)))
        (local.set $t (i32.add (local.get $a) (local.get $b)))
        (local.set $a (local.get $b))
        (local.set $b (local.get $t))
        (local.set $n (i32.sub (local.get $n) (i32.const 1)))
        (br $l)))
    (local.get $a))
  (func (export "mix") (param $x i32) (result i32)
    (i32.xor (i32.xor (i32.rotl (local.get $x) (i32.const 7)) (i32.rotr (local.get $x) (i32.const 13)))
             (i32.shr_u (local.get $x) (i32.const 3))))
  (func (export "sum3") (param $p i32) (result i32)
    (i32.add (i32.add (i32.load (i32.add (local.get $p) (i32.const 0)))
                      (i32.load (i32.add (local.get $p) (i32.const 4))))
             (i32.load offset=4 (i32.add (local.get $p) (i32.const 4))))))
(assert_return (invoke "count" (i32.const 0)) (i32.const 1))
(assert_return (invoke "count" (i32.const 1000)) (i32.const 1000))
(assert_return (invoke "count_down" (i32.const 10)) (i32.const 4))
(assert_return (invoke "count_down" (i32.const -5)) (i32.const 0))
(assert_return (invoke "count_down" (i32.const 100)) (i32.const 34))
(assert_return (invoke "fib" (i32.const 0)) (i32.const 0))
(assert_return (invoke "fib" (i32.const 30)) (i32.const 832040))
(assert_return (invoke "fib" (i32.const 48)) (i32.const 512559680))
(assert_return (invoke "mix" (i32.const 0)) (i32.const 0))
(assert_return (invoke "mix" (i32.const 1)) (i32.const 0x80080))
(assert_return (invoke "mix" (i32.const -1)) (i32.const 0x1fffffff))
(assert_return (invoke "sum3" (i32.const 0)) (i32.const 6))
(assert_trap (invoke "sum3" (i32.const 65530)) "out of bounds memory access")

;; Malformed binaries: a bad magic number, a truncated section.
(assert_malformed (module binary "\00asn\01\00\00\00") "magic header not detected")
(assert_malformed (module binary "\00asm\01\00\00\00\01\05\01\60\00") "unexpected end")
