import HiveCore
import Testing

/// `DroneHello.problem`: every tool name and pin a drone advertises is checked in full (a pin is copied into each
/// goal that uses the tool), each name once, and host and model facts are bounded; the reason names the limit.
@Suite struct HelloValidationTests {
    static let pin = "sha256:" + String(repeating: "ab", count: 32)

    func hello(tools: [ToolAdvert]? = nil, host: HostFacts? = nil, models: [ModelDescriptor]? = nil) -> DroneHello {
        DroneHello(drone: "d1", name: "d1", tier: .worker, slots: 1, capabilities: ["backend:noop"], host: host,
                   version: "0.1.0", models: models, tools: tools)
    }

    func tool(_ name: String = "mcp.echo", pin: String = Self.pin, bytes: Int? = 10) -> ToolAdvert {
        ToolAdvert(name: name, pin: pin, sideEffecting: false, bytes: bytes)
    }

    @Test func aWellFormedHelloPasses() {
        #expect(DroneHello.problem(hello(tools: [tool(), tool("wasm.wrap")])) == nil)
        #expect(DroneHello.problem(hello(tools: [tool(bytes: nil)])) == nil, "older drones send no definition bytes")
    }

    @Test func pinsMustBeSHA256InLowercaseHex() {
        for bad in ["", "sha256:", "sha256:" + String(repeating: "AB", count: 32), "sha256:" + String(repeating: "ab", count: 31),
                    "sha256:" + String(repeating: "ab", count: 33), "md5:" + String(repeating: "ab", count: 32),
                    "sha256:" + String(repeating: "ab", count: 31) + "a\u{0}", "sha256:" + String(repeating: "zz", count: 32),
                    "SHA256:" + String(repeating: "ab", count: 32)] {
            let why = DroneHello.problem(hello(tools: [tool(pin: bad)]))
            #expect(why?.contains("64 lowercase hex digits") == true, "\(bad.debugDescription): \(why ?? "accepted")")
        }
        #expect(ToolAdvert.isValidPin(ToolDefinition(name: "a.b", description: "", inputSchema: .object([:]), sideEffecting: false).pin))
    }

    @Test func namesFollowTheToolRuleAndAreNotQuotedWhenTheyDoNot() {
        for bad in ["echo", ".echo", "mcp.", "mcp/../etc.passwd", "mcp.ec\u{0}ho", "mcp.é", "mcp." + String(repeating: "x", count: 200)] {
            let why = DroneHello.problem(hello(tools: [tool(bad)])) ?? "accepted"
            #expect(why.contains("<server>.<tool>"), "\(bad.debugDescription): \(why)")
            #expect(!why.contains(bad), "a name that breaks the rule is not echoed: \(why)")
        }
    }

    @Test func aToolListedTwiceIsRefused() {
        let why = DroneHello.problem(hello(tools: [tool(), tool(pin: "sha256:" + String(repeating: "cd", count: 32))]))
        #expect(why == "tool 'mcp.echo' is listed twice")
    }

    @Test func countsAndBytesHaveNamedLimits() {
        let many = (0...DroneHello.maxTools).map { tool("mcp.t\($0)") }
        #expect(DroneHello.problem(hello(tools: many)) == "1025 tools; the limit is 1024")
        #expect(DroneHello.problem(hello(tools: [tool(bytes: -1)]))?.contains("definition bytes") == true)
        #expect(DroneHello.problem(hello(tools: [tool(bytes: Int.max)]))?.contains("definition bytes") == true)
        let host = HostFacts(hostname: String(repeating: "h", count: 300), os: "linux", cpus: 1, memoryMB: 1)
        #expect(DroneHello.problem(hello(host: host)) == "host.hostname is 300 bytes; the limit is 256")
        let model = ModelDescriptor(name: "m", architecture: "a", parameters: 1, sizeBytes: 1,
                                    description: String(repeating: "d", count: 5000), contextLength: 1, sha256: "0")
        #expect(DroneHello.problem(hello(models: [model])) == "models[0].description is 5000 bytes; the limit is 256")
    }
}
