import Foundation
import Testing
@testable import Drone

/// Hostile `--wasm-tool NAME=sha256:HEX,MANIFEST.json` values: a manifest that never ends, schemas that cannot be
/// inlined or nest too deep, names with NUL or slashes. Each is refused at start with the reason.
@Suite struct WasmManifestTests {
    static let hash = String(repeating: "ab", count: 32)

    func why(_ s: String, _ file: String) -> String {
        do { _ = try WasmToolSpec.parse(s) { _ in Data(file.utf8) }; return "accepted" } catch { return error.description }
    }

    @Test func aManifestThatNeverEndsIsRefusedAfterItsLimit() {
        let clock = ContinuousClock()
        let started = clock.now
        let why: String
        do { _ = try WasmToolSpec.parse("t=\(Self.hash),/dev/zero"); why = "accepted" } catch { why = error.description }
        #expect(why.contains("over 65536 bytes"), "\(why)")
        #expect(clock.now - started < .seconds(10), "read only up to the limit")
    }

    @Test func schemasGoThroughTheInliner() {
        #expect(why("t=\(Self.hash),m.json", ##"{"input_schema": {"$ref": "#"}}"##).contains("refers to itself"))
        #expect(why("t=\(Self.hash),m.json", #"{"input_schema": {"$ref": "https://x/s.json"}}"#).contains("outside the schema"))
        let deep = String(repeating: #"{"type":"object","properties":{"a":"#, count: 40) + "{}" + String(repeating: "}}", count: 40)
        #expect(why("t=\(Self.hash),m.json", #"{"input_schema": \#(deep)}"#).contains("nests deeper"))
        let spec = try? WasmToolSpec.parse("t=\(Self.hash),m.json") { _ in
            Data(##"{"input_schema": {"type":"object","properties":{"x":{"$ref":"#/$defs/n"}},"$defs":{"n":{"type":"integer"}}}}"##.utf8)
        }
        #expect(spec?.inputSchema == .object(["type": .string("object"), "properties": .object(["x": .object(["type": .string("integer")])])]))
    }

    @Test func namesWithNULOrSlashesAreRefused() {
        for name in ["a\u{0}b", "../x", "a/b", "", String(repeating: "n", count: 33)] {
            #expect(why("\(name)=\(Self.hash)", "{}").contains("must be 1 to 32 letters"), "\(name.debugDescription)")
        }
    }
}
