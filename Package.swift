// swift-tools-version:6.0
import PackageDescription

// No package dependencies, by design: Foundation, Dispatch and Glibc only.
// C enters through module maps (CEpoll now, CLlama with the models issue).
let optimize: [SwiftSetting] = [.unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release))]

let package = Package(
    name: "Hive",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "honeycombd", targets: ["honeycombd"]),
        .executable(name: "drone", targets: ["drone"]),
        .executable(name: "hive", targets: ["hive"]),
    ],
    targets: [
        .systemLibrary(name: "CEpoll", path: "Sources/CEpoll"),
        // fork + rlimits + execve for exec tasks (what posix_spawn cannot do), in C: only async-signal-safe calls.
        .systemLibrary(name: "CSpawn", path: "Sources/CSpawn"),
        // TLS on the bus and the HTTP API: the system's OpenSSL (libssl-dev).
        .systemLibrary(name: "CTLS", path: "Sources/CTLS"),
        // llama.cpp: `make llama` builds it once per machine and exports PKG_CONFIG_PATH for this.
        .systemLibrary(name: "CLlama", path: "Sources/CLlama", pkgConfig: "llama"),
        .target(name: "Llama", dependencies: ["CLlama", "HiveCore", "HiveSystem"], swiftSettings: optimize),
        .target(name: "HiveLog", dependencies: ["HiveSystem"]),
        // Command lines: commands and options declared once; parsing, typed values and help from the declarations.
        .target(name: "HiveCommandLine"),
        // Process plumbing: threads, signals, clocks, locks, syscalls, sockets, durable files.
        .target(name: "HiveSystem", dependencies: ["CEpoll"], swiftSettings: optimize),
        // The one JSON writer and string escaper (standard library only): NATSWire and HiveCore both write JSON.
        .target(name: "HiveJSON", swiftSettings: optimize),
        // Data structures (standard library only) shared by the domain and the broker: the deadline heap.
        .target(name: "HiveCollections", swiftSettings: optimize),
        .target(name: "HiveCore", dependencies: ["HiveJSON", "HiveCollections"]),
        // WebAssembly agents: decoder, validator and interpreter, ours (no package dependencies).
        .target(name: "HiveWasm", swiftSettings: optimize),
        .target(name: "NATSWire", dependencies: ["HiveJSON"], swiftSettings: optimize),
        .target(name: "HiveTLS", dependencies: ["CTLS", "HiveSystem"], swiftSettings: optimize),
        .target(name: "NATSServer", dependencies: ["NATSWire", "HiveJSON", "HiveCollections", "CEpoll", "HiveLog", "HiveSystem", "HiveTLS"], swiftSettings: optimize),
        .target(name: "NATSClient", dependencies: ["NATSWire", "HiveJSON", "CEpoll", "HiveLog", "HiveSystem", "HiveTLS"], swiftSettings: optimize),
        // The JetStream API (streams, acknowledged publishes, message reads, purges) over NATSClient.
        .target(name: "JetStream", dependencies: ["NATSClient", "NATSWire"]),
        .target(name: "NATSBench", dependencies: ["NATSWire", "HiveJSON", "HiveSystem", "NATSClient", "HiveCore", "HiveTLS", "CEpoll"], swiftSettings: optimize),
        .target(name: "HiveHTTP", dependencies: ["CEpoll", "HiveLog", "HiveSystem", "HiveJSON", "HiveTLS"], swiftSettings: optimize),
        .target(name: "Honeycomb", dependencies: ["HiveCommandLine", "NATSServer", "NATSClient", "JetStream", "NATSWire", "HiveJSON", "HiveCore", "HiveLog", "HiveSystem", "HiveWasm", "HiveHTTP", "HiveTLS"]),
        .executableTarget(name: "honeycombd", dependencies: ["HiveCommandLine", "Honeycomb", "NATSServer", "NATSClient", "HiveLog", "HiveSystem", "HiveTLS"]),
        // MCP clients (stdio subprocesses, streamable HTTP): the tools an agent task calls.
        .target(name: "HiveProcess", dependencies: ["CSpawn", "HiveLog", "HiveSystem"]),
        .target(name: "HiveMCP", dependencies: ["HiveCore", "HiveLog", "HiveSystem", "HiveProcess", "CSpawn"]),
        .target(name: "Drone", dependencies: ["HiveMCP", "HiveCore", "NATSClient", "NATSWire", "HiveLog", "HiveSystem", "Llama", "HiveWasm", "HiveProcess", "CSpawn"]),
        .executableTarget(name: "drone", dependencies: ["HiveCommandLine", "Drone", "HiveMCP", "HiveCore", "NATSClient", "HiveLog", "HiveSystem", "Llama", "HiveWasm", "HiveTLS"]),
        .executableTarget(name: "hive", dependencies: ["HiveCommandLine", "HiveSystem", "NATSBench", "NATSClient", "NATSWire", "HiveCore", "HiveLog", "HiveWasm", "HiveTLS"]),
        .testTarget(name: "NATSWireTests", dependencies: ["NATSWire"]),
        .testTarget(name: "HiveTLSTests", dependencies: ["HiveTLS", "HiveSystem"]),
        .testTarget(name: "HiveSystemTests", dependencies: ["HiveSystem"]),
        .testTarget(name: "HiveJSONTests", dependencies: ["HiveJSON"]),
        .testTarget(name: "HiveCollectionsTests", dependencies: ["HiveCollections"]),
        // The tools tests run from outside the repository, found one way: a missing one fails naming its package.
        .target(name: "ExternalTools", path: "Tests/ExternalTools"),
        .target(name: "NATSTestSupport", dependencies: ["NATSServer", "NATSClient", "JetStream", "ExternalTools"], path: "Tests/NATSTestSupport"),
        .testTarget(name: "HiveCoreTests", dependencies: ["HiveCore"]),
        .testTarget(name: "HiveCommandLineTests", dependencies: ["HiveCommandLine"]),
        .testTarget(name: "HiveWasmTests", dependencies: ["HiveWasm", "ExternalTools"], exclude: ["Scripts/hive.wast"]),
        .testTarget(name: "HiveHTTPTests", dependencies: ["HiveHTTP", "HiveTLS", "HiveSystem"]),
        // The servers the tests run (Python, the `mcp` SDK and a hand-written one) live beside them.
        .testTarget(name: "HiveMCPTests", dependencies: ["HiveMCP", "HiveCore", "ExternalTools"], exclude: ["raw_stdio_server.py", "mcp_http_server.py", "hostile_stdio_server.py"]),
        .testTarget(name: "DroneTests", dependencies: ["Drone", "HiveCore", "HiveSystem", "HiveMCP", "HiveProcess", "ExternalTools", "NATSClient", "NATSTestSupport"]),
        .testTarget(name: "LlamaTests", dependencies: ["Llama", "HiveCore", "ExternalTools"]),
        .testTarget(name: "NATSServerTests", dependencies: ["NATSServer", "NATSWire", "NATSTestSupport", "HiveTLS", "HiveSystem"]),
        .testTarget(name: "NATSClientTests", dependencies: ["NATSClient", "NATSServer", "NATSWire", "NATSTestSupport", "HiveTLS"]),
        .testTarget(name: "JetStreamTests", dependencies: ["JetStream", "NATSClient", "NATSWire", "NATSTestSupport"]),
        .testTarget(name: "HoneycombTests", dependencies: ["Honeycomb", "JetStream", "NATSServer", "NATSClient", "HiveCore", "HiveLog", "HiveTLS", "NATSTestSupport"]),
    ],
    swiftLanguageModes: [.v6]
)
