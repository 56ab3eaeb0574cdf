#if canImport(Glibc)
import Glibc
#endif
import Foundation
import NATSServer
import Testing

/// Which broker a wire test talks to. Tests that pin nats-server-compatible behaviour run against both, so
/// the real nats-server is the oracle for what the embedded broker must do.
enum BrokerKind: String, CaseIterable, CustomTestStringConvertible, Sendable {
    case embedded
    case natsServer = "nats-server"
    var testDescription: String { rawValue }
}

/// A running broker of either kind, stopped when released.
final class RunningBroker {
    let port: Int
    let embedded: Broker?
    private let process: Process?

    init(_ kind: BrokerKind, configure: (inout BrokerConfig) -> Void = { _ in }) throws {
        var config = BrokerConfig()
        config.listen = ListenAddress(host: "127.0.0.1", port: 0)
        configure(&config)
        switch kind {
        case .embedded:
            let b = try Broker.start(config: config)
            embedded = b
            process = nil
            port = b.port
        case .natsServer:
            let port = try freePort()
            var args = ["-a", "127.0.0.1", "-p", String(port)]
            switch config.auth {
            case .none: break
            case .token(let t): args += ["--auth", t]
            case .userPassword(let u, let p): args += ["--user", u, "--pass", p]
            }
            if config.maxPayload != BrokerConfig().maxPayload {
                let file = FileManager.default.temporaryDirectory.appendingPathComponent("nats-\(port).conf")
                try "max_payload: \(config.maxPayload)\n".write(to: file, atomically: true, encoding: .utf8)
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

    deinit {
        embedded?.shutdown()
        if let process, process.isRunning {
            process.terminate()
            process.waitUntilExit()
        }
    }
}

func natsServerPath() throws -> String {
    for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/usr/sbin").split(separator: ":") {
        let path = "\(dir)/nats-server"
        if FileManager.default.isExecutableFile(atPath: path) { return path }
    }
    throw RawClientError.closed("nats-server is not installed (apt-get install nats-server); .ci/run installs it")
}

func freePort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    var len = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &addr) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { p -> Int32 in
            bind(fd, p, len)
            return getsockname(fd, p, &len)
        }
    }
    return Int(UInt16(bigEndian: addr.sin_port))
}

/// Polls until something accepts on `port` (bounded), failing early if the process died.
func waitUntilListening(port: Int, process: Process, timeout: TimeInterval = 10) throws {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
        if !process.isRunning { throw RawClientError.closed("server exited with \(process.terminationStatus)") }
        if (try? RawClient(port: port)) != nil { return }
        usleep(20_000)
    }
    throw RawClientError.timeout("nothing listening on \(port)")
}

/// Waits for `condition` to hold, checking it every few milliseconds (for server-side counters that have no
/// event to await). Bounded: returns false at the deadline.
func eventually(timeout: TimeInterval = 5, _ condition: () -> Bool) -> Bool {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
        if condition() { return true }
        usleep(5_000)
    }
    return condition()
}
