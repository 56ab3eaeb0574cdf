#if canImport(Glibc)
import Glibc
#endif
import ExternalTools
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import HiveCore
@testable import HiveMCP

/// Paths and waits the MCP tests share.
enum MCPTest {
    static let here = ExternalTool.root + "/Tests/HiveMCPTests"

    /// A console script the venv's PyPI packages installed (`mcp-server-time`, `mcp-server-git`).
    static func venvScript(_ name: String, package: String) throws -> String {
        let python = try ExternalTool.python()
        let path = URL(fileURLWithPath: python).deletingLastPathComponent().appendingPathComponent(name).path
        guard FileManager.default.isExecutableFile(atPath: path) else {
            throw MissingDependency("\(path) not found: run make deps (PyPI package \(package))")
        }
        return path
    }

    /// A stdio client of the hand-written server in raw_stdio_server.py.
    static func raw(_ extra: [String] = [], name: String = "raw") throws -> MCPClient {
        MCPClient(MCPServerSpec(name: name, endpoint: .stdio(argv: [try ExternalTool.python(), "\(here)/raw_stdio_server.py"] + extra)))
    }

    /// Whether process `pid` still exists (a zombie counts as gone: it runs nothing).
    static func alive(_ pid: Int32) -> Bool {
        guard kill(pid, 0) == 0 else { return false }
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return false }
        return !stat[stat.index(close, offsetBy: 2)...].hasPrefix("Z")
    }

    /// Waits (with a deadline, checking every 20 ms) until `condition` holds.
    static func eventually(seconds: Double = 10, _ condition: () -> Bool) async -> Bool {
        let end = Date().addingTimeInterval(seconds)
        while Date() < end {
            if condition() { return true }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return condition()
    }
}

/// mcp_http_server.py (the `mcp` SDK's streamable HTTP server) as a process on a free port.
final class HTTPTestServer: @unchecked Sendable {
    let process = Process()
    let port: Int
    var url: URL { URL(string: "http://127.0.0.1:\(port)/mcp")! }

    init(_ arguments: [String] = []) throws {
        process.executableURL = URL(fileURLWithPath: try ExternalTool.python())
        process.arguments = ["\(MCPTest.here)/mcp_http_server.py"] + arguments
        let out = Pipe()
        process.standardOutput = out
        try process.run()
        // The first line is `PORT <n>` (or nothing, when the mcp package is missing: then the process ends).
        var line = Data()
        while let byte = try out.fileHandleForReading.read(upToCount: 1), !byte.isEmpty, byte != Data("\n".utf8) { line += byte }
        let text = String(decoding: line, as: UTF8.self)
        guard text.hasPrefix("PORT "), let p = Int(text.dropFirst(5)) else {
            process.terminate()
            throw MissingDependency("mcp_http_server.py did not start (\(text)): run make deps (PyPI package mcp)")
        }
        port = p
    }

    /// Makes the server forget every session it handed out.
    func forgetSessions() async throws {
        var r = URLRequest(url: URL(string: "http://127.0.0.1:\(port)/forget")!)
        r.httpMethod = "POST"
        _ = try await URLSession.shared.data(for: r)
    }

    /// SIGKILL: uvicorn's graceful stop would wait for the hanging tool's request for ever.
    func stop() {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
    }
}
