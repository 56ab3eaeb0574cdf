import HiveWasm

/// Our side of the differential tests: every exported function of a module called in order on one instance
/// (state carries from call to call, as in `wasm-interp --run-all-exports`), each result printed the way
/// `wasm-interp` prints it (`i32:5`, `i64:…`, `error: TRAP`), with the fuel each call used.
enum ExportRuns {
    static func run(_ bytes: [UInt8], limits: WasmLimits = WasmLimits()) throws -> [(name: String, shown: String, fuel: Int64)] {
        let module = try ModuleDecoder.decode(bytes)
        let instance = try Instance(module: module, imports: [:], limits: limits)
        var out: [(name: String, shown: String, fuel: Int64)] = []
        for export in module.exports where export.kind == .function {
            let type = module.types[Int(module.typeIndex(ofFunction: export.index)!)]
            let before = instance.fuelUsed
            let shown: String
            do {
                let values = try instance.call(export.name)
                shown = zip(type.results, values).map { t, v in
                    t == .i32 ? "i32:\(UInt32(truncatingIfNeeded: v))" : "\(t):\(v)"
                }.joined(separator: ", ")
            } catch let t as Trap {
                shown = "error: \(t)"
            }
            out.append((export.name, shown, instance.fuelUsed - before))
        }
        return out
    }
}
