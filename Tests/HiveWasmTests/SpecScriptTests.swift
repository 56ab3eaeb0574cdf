import ExternalTools
import Foundation
import Testing

/// WebAssembly scripts in the spec test format, turned into JSON and binaries by wabt's `wast2json` and run by
/// `SpecScript`: the scripts written here (`Scripts/*.wast`) on every run, and the official spec test suite when
/// `HIVE_WASM_SPEC_DIR` names a directory of its `.wast` files (a local checkout of WebAssembly/testsuite; it is
/// not part of this repository).
@Suite struct SpecScriptTests {
    static let scripts = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Scripts")

    /// Converts and runs every `.wast` file in `directory`; returns the outcome per file.
    static func runAll(_ directory: URL) throws -> [(String, SpecScript.Outcome)] {
        let work = FileManager.default.temporaryDirectory.appendingPathComponent("hive-wast-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: work) }
        var outcomes: [(String, SpecScript.Outcome)] = []
        let files = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasSuffix(".wast") }.sorted()
        for name in files {
            let json = work.appendingPathComponent(name.replacingOccurrences(of: ".wast", with: ".json"))
            let converted = try InterpreterTests.run(try ExternalTool.path("wast2json", package: "wabt"), [directory.appendingPathComponent(name).path, "-o", json.path])
            guard converted.code == 0 else {
                var o = SpecScript.Outcome()
                o.skipped = 1  // wabt cannot read it (a proposal it does not know)
                outcomes.append((name, o))
                continue
            }
            outcomes.append((name, try SpecScript.run(json: json)))
        }
        return outcomes
    }

    @Test func theScriptsWrittenHerePass() throws {
        let outcomes = try Self.runAll(Self.scripts)
        #expect(!outcomes.isEmpty)
        for (name, o) in outcomes {
            #expect(o.failures.isEmpty, "\(name): \(o.failures.joined(separator: "\n"))")
            #expect(o.passed > 10, "\(name): \(o.passed) passed")
        }
    }

    @Test(.enabled(if: ProcessInfo.processInfo.environment["HIVE_WASM_SPEC_DIR"] != nil))
    func theSpecTestSuitePasses() throws {
        let dir = URL(fileURLWithPath: ProcessInfo.processInfo.environment["HIVE_WASM_SPEC_DIR"]!)
        var total = SpecScript.Outcome()
        for (name, o) in try Self.runAll(dir) {
            print("spec \(name): passed=\(o.passed) skipped=\(o.skipped) failed=\(o.failures.count)")
            for f in o.failures.prefix(20) { print("  \(f)") }
            total.passed += o.passed
            total.skipped += o.skipped
            total.failures += o.failures
        }
        print("spec total: passed=\(total.passed) skipped=\(total.skipped) failed=\(total.failures.count)")
        #expect(total.failures.isEmpty)
    }
}
