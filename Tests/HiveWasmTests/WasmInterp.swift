import ExternalTools
import Foundation

/// wabt's `wasm-interp`, the reference engine of the differential tests: runs every export of a module (no
/// arguments) and reports what it printed.
enum WasmInterp {
    /// The raw output of `wasm-interp --run-all-exports` on `bytes`.
    static func output(_ bytes: [UInt8]) throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("hive-interp-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("m.wasm")
        try Data(bytes).write(to: path)
        return try InterpreterTests.run(try ExternalTool.path("wasm-interp", package: "wabt"), [path.path, "--run-all-exports"]).out
    }

    /// Each export's result as printed (`i32:5`, `i64:…`), or `error: TRAP` with the trap's message cut at its
    /// first colon and renamed through `names` (wabt's words for a few traps differ from ours).
    static func results(_ bytes: [UInt8], names: [String: String] = [:]) throws -> [String: String] {
        var out: [String: String] = [:]
        for line in try output(bytes).split(separator: "\n") {
            let parts = line.components(separatedBy: "() =>")
            guard parts.count == 2 else { continue }
            var result = parts[1].trimmingCharacters(in: .whitespaces)
            if result.hasPrefix("error: ") {
                let message = String(result.dropFirst(7).split(separator: ":").first ?? "")
                result = "error: " + (names[message] ?? message)
            }
            out[parts[0]] = result
        }
        return out
    }
}
