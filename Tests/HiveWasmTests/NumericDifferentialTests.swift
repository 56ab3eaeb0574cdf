import ExternalTools
import Foundation
import HiveWasm
import Testing

/// Every numeric instruction on edge values (zeros, signs, extremes, NaN, infinities, rounding ties, the edges of
/// each conversion's range), run by HiveWasm and by wabt's `wasm-interp`: same results, or the same trap. NaN
/// payloads may differ between engines (the spec allows it), so NaNs compare as NaN.
@Suite struct NumericDifferentialTests {
    static let i32s: [Int64] = [0, 1, -1, 2_147_483_647, -2_147_483_648, 7, -7, 31, 32, 65_535, 0x5555_5555]
    static let i64s: [String] = ["0", "1", "-1", "9223372036854775807", "-9223372036854775808", "7", "-7", "63", "64",
                                 "4294967296", "0x5555555555555555"]
    static let f32s: [UInt32] = [0, 0x8000_0000, 0x3F80_0000, 0xBF80_0000, 0x3F00_0000, 0xBF00_0000, 0x3FC0_0000, 0x4020_0000,
                                 0xC020_0000, 0x7F80_0000, 0xFF80_0000, 0x7FC0_0000, 0x7F7F_FFFF, 0x0000_0001, 0x4F00_0000,
                                 0x4F80_0000, 0xCF00_0001, 0x5F00_0000, 0xDF00_0000, 0x5F80_0000]
    static let f64s: [UInt64] = [0, 0x8000_0000_0000_0000, 0x3FF0_0000_0000_0000, 0xBFF0_0000_0000_0000, 0x3FE0_0000_0000_0000,
                                 0xBFE0_0000_0000_0000, 0x3FF8_0000_0000_0000, 0x4004_0000_0000_0000, 0x7FF0_0000_0000_0000,
                                 0xFFF0_0000_0000_0000, 0x7FF8_0000_0000_0000, 0x7FEF_FFFF_FFFF_FFFF, 0x0000_0000_0000_0001,
                                 0x41E0_0000_0000_0000, 0xC1E0_0000_0020_0000, 0x41F0_0000_0000_0000, 0x43E0_0000_0000_0000,
                                 0xC3E0_0000_0000_0000, 0x43F0_0000_0000_0000, 0x41DF_FFFF_FFC0_0000]

    static func operand(_ t: String, _ k: Int) -> String {
        switch t {
        case "i32": return "(i32.const \(i32s[k % i32s.count]))"
        case "i64": return "(i64.const \(i64s[k % i64s.count]))"
        case "f32": return "(f32.reinterpret_i32 (i32.const \(Int32(bitPattern: f32s[k % f32s.count]))))"
        default: return "(f64.reinterpret_i64 (i64.const \(Int64(bitPattern: f64s[k % f64s.count]))))"
        }
    }

    static func count(_ t: String) -> Int {
        switch t {
        case "i32": return i32s.count
        case "i64": return i64s.count
        case "f32": return f32s.count
        default: return f64s.count
        }
    }

    /// Result as an integer the two engines print alike.
    static func wrap(_ t: String, _ e: String) -> (String, String) {
        switch t {
        case "f32": return ("(i32.reinterpret_f32 \(e))", "i32")
        case "f64": return ("(i64.reinterpret_f64 \(e))", "i64")
        default: return (e, t)
        }
    }

    /// (instruction, operand types, result type)
    static var instructions: [(String, [String], String)] {
        var out: [(String, [String], String)] = []
        for t in ["i32", "i64"] {
            for op in ["clz", "ctz", "popcnt", "extend8_s", "extend16_s"] { out.append(("\(t).\(op)", [t], t)) }
            out.append(("\(t).eqz", [t], "i32"))
            for op in ["add", "sub", "mul", "div_s", "div_u", "rem_s", "rem_u", "and", "or", "xor", "shl", "shr_s", "shr_u", "rotl", "rotr"] {
                out.append(("\(t).\(op)", [t, t], t))
            }
            for op in ["eq", "ne", "lt_s", "lt_u", "gt_s", "gt_u", "le_s", "le_u", "ge_s", "ge_u"] { out.append(("\(t).\(op)", [t, t], "i32")) }
        }
        out.append(("i64.extend32_s", ["i64"], "i64"))
        for t in ["f32", "f64"] {
            for op in ["abs", "neg", "ceil", "floor", "trunc", "nearest", "sqrt"] { out.append(("\(t).\(op)", [t], t)) }
            for op in ["add", "sub", "mul", "div", "min", "max", "copysign"] { out.append(("\(t).\(op)", [t, t], t)) }
            for op in ["eq", "ne", "lt", "gt", "le", "ge"] { out.append(("\(t).\(op)", [t, t], "i32")) }
        }
        out += [("i32.wrap_i64", ["i64"], "i32"), ("i64.extend_i32_s", ["i32"], "i64"), ("i64.extend_i32_u", ["i32"], "i64"),
                ("f32.demote_f64", ["f64"], "f32"), ("f64.promote_f32", ["f32"], "f64")]
        for i in ["i32", "i64"] {
            for f in ["f32", "f64"] {
                for s in ["s", "u"] {
                    out.append(("\(i).trunc_\(f)_\(s)", [f], i))
                    out.append(("\(i).trunc_sat_\(f)_\(s)", [f], i))
                    out.append(("\(f).convert_\(i)_\(s)", [i], f))
                }
            }
        }
        return out
    }

    @Test func everyNumericInstructionMatchesWasmInterp() throws {
        var funcs: [String] = []
        var names: [String] = []
        for (op, params, result) in Self.instructions {
            let combos = params.count == 1 ? (0..<Self.count(params[0])).map { [$0] }
                : (0..<Self.count(params[0])).flatMap { a in (0..<Self.count(params[1])).map { [a, $0] } }
            for c in combos {
                let args = zip(params, c).map { Self.operand($0, $1) }.joined(separator: " ")
                let (body, type) = Self.wrap(result, "(\(op) \(args))")
                let name = "t\(names.count)"
                names.append("\(op)(\(c.map(String.init).joined(separator: ",")))")
                funcs.append("(func (export \"\(name)\") (result \(type)) \(body))")
            }
        }
        let wat = "(module\n" + funcs.joined(separator: "\n") + ")"
        let bytes = try Wat.assemble(wat)
        let reference = try WasmInterp.output(bytes)
        var expected: [String: String] = [:]
        for line in reference.split(separator: "\n") {
            let parts = line.components(separatedBy: "() => ")
            if parts.count == 2 { expected[parts[0]] = parts[1] }
        }
        #expect(expected.count == names.count, "wasm-interp ran \(expected.count) of \(names.count)")
        let instance = try Instance(module: try ModuleDecoder.decode(bytes), imports: [:])
        var mismatches: [String] = []
        for (k, label) in names.enumerated() {
            let name = "t\(k)"
            let resultType = Self.instructions.first { label.hasPrefix($0.0 + "(") }!.2
            let ours: String
            do {
                let v = try instance.call(name)[0]
                switch resultType {
                case "i32", "f32": ours = Self.canonical(resultType, "i32:\(UInt32(truncatingIfNeeded: v))")
                default: ours = Self.canonical(resultType, "i64:\(v)")
                }
            } catch let t as Trap {
                ours = "error: \(t)"
            }
            let theirs = Self.canonical(resultType, expected[name] ?? "missing")
            if ours != theirs { mismatches.append("\(label): ours \(ours), wasm-interp \(theirs)") }
        }
        let report = "\(mismatches.count) mismatches:\n" + mismatches.prefix(30).joined(separator: "\n")
        #expect(mismatches.isEmpty, "\(report)")
    }

    /// NaN bit patterns print as "nan": engines may differ in NaN sign and payload.
    static func canonical(_ type: String, _ s: String) -> String {
        guard s.hasPrefix("i32:") || s.hasPrefix("i64:"), let v = UInt64(s.dropFirst(4)) else { return s }
        if type == "f32", Float(bitPattern: UInt32(truncatingIfNeeded: v)).isNaN { return "nan" }
        if type == "f64", Double(bitPattern: v).isNaN { return "nan" }
        return s
    }
}
