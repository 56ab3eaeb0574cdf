import Foundation

/// Something a test needs from outside the repository is missing. Its description is the one line the test fails
/// with: what is missing and which package provides it (`make deps` installs them all).
public struct MissingDependency: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// The programs the Swift tests run that nobody here wrote (wabt's tools, nats-server, the toolchain's clang and
/// wasmkit, the project's Python), found the same way everywhere, so that a missing one fails the test that needs
/// it with a line naming the package instead of a crash or an unexplained exit status.
public enum ExternalTool {
    /// The repository's root (this file is Tests/ExternalTools/ExternalTool.swift).
    public static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path

    /// The path of `name` on PATH; throws naming the Debian `package` that provides it.
    public static func path(_ name: String, package: String) throws -> String {
        guard let found = onPath(name) else {
            throw MissingDependency("\(name) not found: run make deps (Debian package \(package))")
        }
        return found
    }

    /// The path of `name`, which comes with the Swift toolchain (clang, wasmkit), on PATH.
    public static func toolchainPath(_ name: String) throws -> String {
        guard let found = onPath(name) else {
            throw MissingDependency("\(name) not found: it comes with the Swift toolchain; put the toolchain's usr/bin on PATH")
        }
        return found
    }

    /// The Python the tests run: `$HIVE_PYTHON` (make sets it to its PYTHON), else the project venv's, where
    /// `make deps` installs the packages (`.venv/bin/python3`), else `python3` on PATH.
    public static func python() throws -> String {
        if let configured = ProcessInfo.processInfo.environment["HIVE_PYTHON"], !configured.isEmpty {
            guard FileManager.default.isExecutableFile(atPath: configured) else {
                throw MissingDependency("HIVE_PYTHON=\(configured) is not an executable: run make deps (it creates .venv)")
            }
            return configured
        }
        let venv = root + "/.venv/bin/python3"
        if FileManager.default.isExecutableFile(atPath: venv) { return venv }
        return try path("python3", package: "python3")
    }

    static func onPath(_ name: String) -> String? {
        let dirs = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":")
        return dirs.map { "\($0)/\(name)" }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }
}
