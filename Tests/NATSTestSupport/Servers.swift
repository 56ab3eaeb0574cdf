#if canImport(Glibc)
import Glibc
#endif
import ExternalTools
import Foundation
import NATSServer

/// Which broker a wire test talks to. Tests that pin nats-server-compatible behaviour run against both, so
/// the real nats-server is the oracle for what the embedded broker must do.
public enum BrokerKind: String, CaseIterable, Sendable {
    case embedded
    case natsServer = "nats-server"
}

/// A test-support failure (a server that would not start, a port that never opened).
public struct TestSupportError: Error, CustomStringConvertible {
    public let description: String
    public init(_ d: String) { description = d }
}

/// A running broker of either kind, stopped when released.
public final class RunningBroker {
    public let port: Int
    public let embedded: Broker?
    private let process: Process?

    public init(_ kind: BrokerKind, port fixedPort: Int = 0, configure: (inout BrokerConfig) -> Void = { _ in }) throws {
        var config = BrokerConfig()
        config.listen = ListenAddress(host: "127.0.0.1", port: fixedPort)
        configure(&config)
        switch kind {
        case .embedded:
            let b = try Broker.start(config: config)
            embedded = b
            process = nil
            port = b.port
        case .natsServer:
            let port = fixedPort != 0 ? fixedPort : try freePort()
            var args = ["-a", "127.0.0.1", "-p", String(port)]
            switch config.auth {
            case .none: break
            case .token(let t): args += ["--auth", t]
            case .userPassword(let u, let p): args += ["--user", u, "--pass", p]
            case .principals: break
            }
            var conf = ""
            if config.maxPayload != BrokerConfig().maxPayload { conf += "max_payload: \(config.maxPayload)\n" }
            if case .principals(let list) = config.auth { conf += NATSServerAuthorization.block(list) }
            if !conf.isEmpty {
                let file = FileManager.default.temporaryDirectory.appendingPathComponent("nats-\(port).conf")
                try conf.write(to: file, atomically: true, encoding: .utf8)
                args += ["-c", file.path]
            }
            let p = Process()
            p.executableURL = URL(fileURLWithPath: try natsServerPath())
            p.arguments = args
            p.standardOutput = FileHandle.nullDevice
            p.standardError = FileHandle.nullDevice
            try p.run()
            process = p
            embedded = nil
            self.port = port
            try waitUntilListening(port: port, process: p)
        }
    }

    /// Stops the broker now (also done on release).
    public func stop() {
        embedded?.shutdown()
        if let process, process.isRunning {
            process.terminate()
            process.waitUntilExit()
        }
    }

    deinit {
        embedded?.shutdown()
        if let process, process.isRunning {
            process.terminate()
            process.waitUntilExit()
        }
    }
}

/// The reference nats-server on PATH, or an error naming its package.
public func natsServerPath() throws -> String {
    try ExternalTool.path("nats-server", package: "nats-server")
}

public func freePort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    return LoopbackSocket.bindEphemeral(fd)
}

/// Polls until something accepts on `port` (bounded), failing early if the process died.
public func waitUntilListening(port: Int, process: Process, timeout: TimeInterval = 10) throws {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
        if !process.isRunning { throw TestSupportError("server exited with \(process.terminationStatus)") }
        if canConnect(port: port) { return }
        usleep(20_000)
    }
    throw TestSupportError("nothing listening on \(port)")
}

/// Waits for `condition` to hold, checking it every few milliseconds (for server-side counters that have no
/// event to await). Bounded: returns false at the deadline.
public func eventually(timeout: TimeInterval = 5, _ condition: () -> Bool) -> Bool {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
        if condition() { return true }
        usleep(5_000)
    }
    return condition()
}

/// True when something accepts a TCP connection on 127.0.0.1:`port`.
public func canConnect(port: Int) -> Bool {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    return LoopbackSocket.connect(fd, port: port)
}

/// nats-server processes on loopback: `size` of them routed into one cluster (the scale-out path users take), or
/// one alone (`size: 1`). With `jetStream`, each node runs JetStream (`-js`) with a store directory of its own, so
/// a cluster replicates streams (`size: 3` for replicas 3). A node can be killed and started again on the same port
/// (and store), for failover and quorum tests.
public final class NATSServerCluster {
    public let clientPorts: [Int]
    private let routePorts: [Int]
    /// The nodes' JetStream stores (`n0`, `n1`, … below it); nil without JetStream.
    public let storeRoot: URL?
    private var processes: [Process?]

    public init(size: Int = 3, jetStream: Bool = false) throws {
        clientPorts = try (0..<size).map { _ in try freePort() }
        routePorts = try (0..<size).map { _ in try freePort() }
        if jetStream {
            let root = FileManager.default.temporaryDirectory.appendingPathComponent("hive-js-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
            storeRoot = root
        } else {
            storeRoot = nil
        }
        processes = Array(repeating: nil, count: size)
        for i in 0..<size { try start(i) }
        // Routes form asynchronously; wait until every node's INFO advertises the others (bounded).
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
        var args = ["-a", "127.0.0.1", "-p", String(clientPorts[i]), "-n", "n\(i)"]
        if let storeRoot { args += ["-js", "-sd", storeRoot.appendingPathComponent("n\(i)").path] }
        if clientPorts.count > 1 {
            let routes = routePorts.enumerated().filter { $0.offset != i }.map { "nats://127.0.0.1:\($0.element)" }
            args += ["--cluster_name", "hive-test", "--cluster", "nats://127.0.0.1:\(routePorts[i])", "--routes", routes.joined(separator: ",")]
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

    /// Kills node `i` with SIGKILL (no goodbye to its clients).
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
        if let storeRoot { try? FileManager.default.removeItem(at: storeRoot) }
    }
}

/// The `connect_urls` a server's INFO advertises (empty when it is not clustered or not reachable).
public func advertisedURLs(port: Int) -> [String] {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    guard LoopbackSocket.connect(fd, port: port) else { return [] }
    var tv = timeval(tv_sec: 2, tv_usec: 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    var buf = [UInt8](repeating: 0, count: 8192)
    let n = buf.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
    guard n > 0, let line = String(bytes: buf[0..<n], encoding: .utf8), let start = line.firstIndex(of: "{"),
          let end = line.lastIndex(of: "}") else { return [] }
    let json = Data(line[start...end].utf8)
    let info = try? JSONSerialization.jsonObject(with: json) as? [String: Any]
    return info?["connect_urls"] as? [String] ?? []
}
