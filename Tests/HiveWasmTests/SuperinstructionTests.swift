import ExternalTools
import Foundation
import HiveWasm
import Testing

/// The translator fuses runs of instructions (`Fused`): local-with-immediate ops, local-with-local ops, register
/// moves, compare-and-branch on the stack, a local or a `local.tee`, loads at local + k, stores of constants,
/// xor chains. Every fused form runs here
/// on edge values in two modules: one as written (fused), one with an empty `block` between every instruction, which
/// is a branch target and so stops all fusion. Both must compute what wabt's `wasm-interp` computes, and use the
/// same fuel: fusion changes the dispatch count, never the metered WebAssembly instruction count.
@Suite struct SuperinstructionTests {
    static let values: [Int64] = [0, 1, 2_147_483_647, -2_147_483_648, -1, 0x1234_5678]
    static let immediates: [Int64] = [0, 1, 31, 32, -1, -2_147_483_648]

    /// One exported function: a name, its result type and its body, one instruction per line.
    struct Case {
        var name: String
        var result: String
        var lines: [String]
    }

    static func setLocals(_ v: Int64, _ w: Int64) -> [String] {
        ["i32.const \(v)", "local.set 0", "i32.const \(w)", "local.set 1"]
    }

    static var cases: [Case] {
        var all: [Case] = []
        let immOps = ["add", "sub", "mul", "and", "or", "xor", "shl", "shr_s", "shr_u", "rotl", "rotr"]
        for (i, v) in values.enumerated() {
            for (j, k) in immediates.enumerated() {
                for op in immOps {
                    all.append(Case(name: "imm_\(op)_\(i)_\(j)", result: "i32",
                                    lines: setLocals(v, 0) + ["local.get 0", "i32.const \(k)", "i32.\(op)"]))
                }
                for op in ["add", "sub", "mul", "and", "or", "xor"] {
                    all.append(Case(name: "locals_\(op)_\(i)_\(j)", result: "i32",
                                    lines: setLocals(v, k) + ["local.get 0", "local.get 1", "i32.\(op)"]))
                }
                for op in ["rotl", "shr_u"] {
                    all.append(Case(name: "xor_\(op)_\(i)_\(j)", result: "i32",
                                    lines: setLocals(v, 0x5A5A_5A5A) + ["local.get 1", "local.get 0", "i32.const \(k)", "i32.\(op)", "i32.xor"]))
                }
                all.append(Case(name: "xor_add_\(i)_\(j)", result: "i32",
                                lines: setLocals(v, k) + ["local.get 0", "local.get 1", "i32.const 3", "i32.mul", "local.get 0", "i32.const 1",
                                                          "i32.or", "i32.xor", "i32.add"]))
                let compares = ["ne", "eq", "lt_u", "lt_s", "gt_s", "gt_u", "le_s", "le_u", "ge_s", "ge_u"]
                for cmp in compares {
                    let test = ["i32.const \(k)", "i32.\(cmp)", "br_if 0", "local.get 1", "return", "end", "local.get 1", "i32.const 90", "i32.add"]
                    all.append(Case(name: "br_stack_\(cmp)_\(i)_\(j)", result: "i32",
                                    lines: setLocals(v, 5) + ["block", "local.get 0", "i32.const 0", "i32.or"] + test))
                    all.append(Case(name: "br_local_\(cmp)_\(i)_\(j)", result: "i32",
                                    lines: setLocals(v, 5) + ["block", "local.get 0"] + test))
                    all.append(Case(name: "br_tee_\(cmp)_\(i)_\(j)", result: "i32",
                                    lines: setLocals(v, 5) + ["block", "local.get 0", "i32.const 3", "i32.xor", "local.tee 1"] + test))
                }
            }
            for (j, k) in [0, 4, -4, 65_532, 65_536].enumerated() {
                for offset in [0, 4] {
                    let address = [0, 4, 65_528, 65_532, -4, 100][i]
                    all.append(Case(name: "load_\(i)_\(j)_\(offset)", result: "i32",
                                    lines: setLocals(Int64(address), 0) + ["local.get 0", "i32.const \(k)", "i32.add", "i32.load offset=\(offset)"]))
                }
            }
            // Stores of a constant, at an address on the stack or at local + k (read back, or trapping past the end).
            for (j, k) in [0, 4, -4, 65_532, 65_536].enumerated() {
                let address = [0, 4, 65_528, 65_532, -4, 100][i]
                for (width, load) in [("i32.store", "i32.load"), ("i32.store8", "i32.load8_u"), ("i32.store16", "i32.load16_u")] {
                    all.append(Case(name: "store_local_\(width)_\(i)_\(j)", result: "i32",
                                    lines: setLocals(Int64(address), v) + ["local.get 0", "i32.const \(k)", "i32.add", "i32.const \(v)", "\(width) offset=2",
                                                                           "local.get 0", "i32.const \(k)", "i32.add", "\(load) offset=2"]))
                    all.append(Case(name: "store_stack_\(width)_\(i)_\(j)", result: "i32",
                                    lines: setLocals(Int64(address), v) + ["local.get 0", "i32.const \(k)", "i32.xor", "i32.const \(v)", "\(width)",
                                                                           "local.get 0", "i32.const \(k)", "i32.xor", "\(load)"]))
                }
            }
            all.append(Case(name: "set_get_add_\(i)", result: "i32",
                            lines: setLocals(v, 9) + ["local.get 1", "i32.const 3", "i32.mul", "local.set 1", "local.get 0", "i32.const -2",
                                                      "i32.add", "local.get 1", "i32.add"]))
            // Moves: copy, copy-and-push, constant to local (i32 and i64), set-then-get of the same and another local.
            all.append(Case(name: "copy_\(i)", result: "i32", lines: setLocals(v, 9) + ["local.get 0", "local.set 1", "local.get 1"]))
            all.append(Case(name: "copy_push_\(i)", result: "i32",
                            lines: setLocals(v, 9) + ["local.get 0", "local.tee 1", "local.get 1", "i32.sub", "local.get 1", "i32.xor"]))
            all.append(Case(name: "const_i64_\(i)", result: "i64", lines: ["i64.const \(v &* 4_294_967_297)", "local.set 2", "local.get 2"]))
            all.append(Case(name: "set_get_same_\(i)", result: "i32",
                            lines: setLocals(v, 9) + ["local.get 0", "i32.const 7", "i32.add", "local.set 1", "local.get 1"]))
            all.append(Case(name: "set_get_twice_\(i)", result: "i32",
                            lines: setLocals(v, 77) + ["i32.const 11", "local.set 3", "local.get 0", "local.get 1", "local.set 0", "local.get 3",
                                                       "local.set 1", "local.get 0", "local.get 1", "i32.sub", "i32.add"]))
            all.append(Case(name: "set_get_twice_same_\(i)", result: "i32",
                            lines: setLocals(v, 77) + ["local.get 1", "local.get 0", "i32.const 5", "i32.add", "local.set 0", "local.get 0",
                                                       "local.set 0", "local.get 0", "i32.add"]))
            all.append(Case(name: "set_get_other_\(i)", result: "i32",
                            lines: setLocals(v, 9) + ["local.get 0", "i32.const 7", "i32.mul", "local.get 0", "i32.const 1", "i32.add",
                                                      "local.set 1", "local.get 0", "i32.sub", "local.get 1", "i32.add"]))
        }
        return all
    }

    static func module(fused: Bool) -> String {
        var wat = "(module (memory 1) (data (i32.const 0) \"\\01\\02\\03\\04\\05\\06\\07\\08\")\n"
        wat += "(data (i32.const 65528) \"\\f1\\f2\\f3\\f4\\f5\\f6\\f7\\f8\")\n"
        for c in cases {
            let body = fused ? c.lines : c.lines.flatMap { ["block", "end", $0] }
            wat += "(func (export \"\(c.name)\") (result \(c.result)) (local i32 i32 i64 i32)\n  \(body.joined(separator: "\n  ")))\n"
        }
        return wat + ")"
    }

    /// Each export's result (or trap) and the fuel it used.
    static func runAll(_ bytes: [UInt8]) throws -> [String: (String, Int64)] {
        Dictionary(uniqueKeysWithValues: try ExportRuns.run(bytes, limits: WasmLimits(fuel: 1 << 40)).map { ($0.name, ($0.shown, $0.fuel)) })
    }

    @Test func fusedFormsComputeWhatWasmInterpComputesWithUnchangedFuel() throws {
        let fusedBytes = try Wat.assemble(Self.module(fused: true))
        let plainBytes = try Wat.assemble(Self.module(fused: false))
        #expect(fusedBytes.count < plainBytes.count)
        let fused = try Self.runAll(fusedBytes)
        let plain = try Self.runAll(plainBytes)

        let expected = try WasmInterp.results(fusedBytes)
        #expect(expected.count == Self.cases.count)
        var traps = 0
        for c in Self.cases {
            let (ours, fuel) = try #require(fused[c.name])
            let (unfused, plainFuel) = try #require(plain[c.name])
            #expect(ours == expected[c.name], "\(c.name): wasm-interp says \(expected[c.name] ?? "nothing")")
            #expect(ours == unfused, "\(c.name): fused \(ours), unfused \(unfused)")
            #expect(fuel == plainFuel, "\(c.name): fused used \(fuel) fuel, unfused \(plainFuel)")
            if ours.hasPrefix("error") { traps += 1 }
        }
        // The load cases reach past memory's end on some values: fused loads must trap there too.
        #expect(traps > 0)
    }
}
