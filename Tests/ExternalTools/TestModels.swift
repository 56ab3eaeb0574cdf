import Foundation

/// Random-weight GGUF test models from Tests/models/make_test_model.py (PyPI `gguf` and `numpy`, which `make deps`
/// installs into the project venv), for the tests of the llama.cpp path.
public enum TestModels {
    /// Writes a test model to `output` (`arguments` are the script's options, e.g. `--base`). A missing Python
    /// module throws `MissingDependency` naming its package; any other failure throws with the script's last words.
    public static func generate(at output: String, arguments: [String] = []) throws {
        let python = try ExternalTool.python()
        let p = Process()
        p.executableURL = URL(fileURLWithPath: python)
        p.arguments = [ExternalTool.root + "/Tests/models/make_test_model.py", output] + arguments
        let err = Pipe()
        p.standardError = err
        p.standardOutput = FileHandle.nullDevice
        try p.run()
        let stderr = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        guard p.terminationStatus != 0 else { return }
        if let range = stderr.range(of: "No module named '") {
            let module = stderr[range.upperBound...].prefix { $0 != "'" && $0 != "." }
            throw MissingDependency("Python module \(module) not found in \(python): run make deps (PyPI package \(module))")
        }
        let last = stderr.split(separator: "\n").last.map(String.init) ?? "no output"
        throw MissingDependency("Tests/models/make_test_model.py failed with exit status \(p.terminationStatus): \(last)")
    }
}
