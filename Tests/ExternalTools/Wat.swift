import Foundation

/// Assembles WebAssembly text with wabt's `wat2wasm` (Debian package `wabt`, installed by make deps): test modules are
/// written here as text and built in the test setup, never committed as binaries.
public enum Wat {
    public struct Failure: Error, CustomStringConvertible {
        public var description: String
        public init(description: String) { self.description = description }
    }

    public static func assemble(_ text: String, features: [String] = []) throws -> [UInt8] {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("hive-wat-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let input = dir.appendingPathComponent("m.wat"), output = dir.appendingPathComponent("m.wasm")
        try text.write(to: input, atomically: true, encoding: .utf8)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: try ExternalTool.path("wat2wasm", package: "wabt"))
        p.arguments = [input.path, "-o", output.path] + features
        let err = Pipe()
        p.standardError = err
        try p.run()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else {
            throw Failure(description: "wat2wasm: " + String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self))
        }
        return Array(try Data(contentsOf: output))
    }
}
