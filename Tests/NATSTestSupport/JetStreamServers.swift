#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// nats-server processes with JetStream on loopback (`-js`, a store directory per node): one server alone
/// (`size: 1`), or a routed cluster whose nodes replicate streams (`size: 3` for replicas 3). A node can be
/// killed and started again on the same port and store, for quorum and failover tests.
public final class JetStreamServers {
    public let clientPorts: [Int]
    private let routePorts: [Int]
    public let storeRoot: URL
    private var processes: [Process?]

    public init(size: Int = 1) throws {
        clientPorts = try (0..<size).map { _ in try freePort() }
        routePorts = try (0..<size).map { _ in try freePort() }
        storeRoot = FileManager.default.temporaryDirectory.appendingPathComponent("hive-js-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: storeRoot, withIntermediateDirectories: true)
        processes = Array(repeating: nil, count: size)
        for i in 0..<size { try start(i) }
        if size > 1 {
            for port in clientPorts {
                guard eventually(timeout: 10, { advertisedURLs(port: port).count >= size - 1 }) else {
                    throw TestSupportError("cluster did not form: node \(port) advertises \(advertisedURLs(port: port))")
                }
            }
        }
    }

    /// Starts node `i` (again, after `kill`: same port, same store).
    public func start(_ i: Int) throws {
        var args = ["-a", "127.0.0.1", "-p", String(clientPorts[i]), "-js", "-sd", storeRoot.appendingPathComponent("n\(i)").path,
                    "-n", "n\(i)"]
        if clientPorts.count > 1 {
            let routes = routePorts.enumerated().filter { $0.offset != i }.map { "nats://127.0.0.1:\($0.element)" }
            args += ["--cluster_name", "hive-js", "--cluster", "nats://127.0.0.1:\(routePorts[i])", "--routes", routes.joined(separator: ",")]
        }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: try natsServerPath())
        p.arguments = args
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        processes[i] = p
        try waitUntilListening(port: clientPorts[i], process: p)
    }

    /// Kills node `i` with SIGKILL.
    public func kill(_ i: Int) {
        guard let p = processes[i] else { return }
        Glibc.kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
        processes[i] = nil
    }

    public func url(_ i: Int) -> String { "nats://127.0.0.1:\(clientPorts[i])" }
    /// Every node's URL, comma-separated (what `--nats` takes).
    public var urls: String { clientPorts.indices.map(url).joined(separator: ",") }

    deinit {
        for p in processes.compactMap({ $0 }) where p.isRunning {
            p.terminate()
            p.waitUntilExit()
        }
        try? FileManager.default.removeItem(at: storeRoot)
    }
}
