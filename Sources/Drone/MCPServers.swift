import Foundation
import HiveCore
import HiveLog
import HiveMCP

/// The MCP servers a drone hosts (`drone --mcp NAME=…`), started and listed before it joins.
public enum MCPServers {
    /// Tools one drone offers from all its sources (`AgentBackend.maxTools`).
    public static var maxTools: Int { AgentBackend.maxTools }

    /// Starts each server and lists its tools (`MCPLimits.requestTimeoutMillis` per request). A server that cannot
    /// start or list is left out with a warning naming it and why: the drone still starts, without its tools.
    /// The servers' process groups are recorded with the exec groups (`ProcessGroups`, by `ChildProcess`): killed when the drone
    /// stops, swept by the next drone under the same id after a `kill -9`.
    public static func start(_ specs: [MCPServerSpec], limits: MCPLimits = MCPLimits(),
                             readOnly: [String: Set<String>] = [:]) async -> (sources: [MCPClient], tools: [ToolDefinition]) {
        guard !specs.isEmpty else { return ([], []) }
        let log = Log("drone")
        var sources: [MCPClient] = []
        var tools: [ToolDefinition] = []
        for spec in specs {
            let client = MCPClient(spec, limits: limits, readOnlyTools: readOnly[spec.name] ?? [])
            do {
                let listed = try await client.listTools()
                if tools.count + listed.count > maxTools {
                    await client.close()
                    log.warn("mcp_server_unavailable", ["server": spec.name, "tools": listed.count,
                                                        "reason": "the drone would offer more than \(maxTools) tools (a tool and its effect are two of the hello's \(DroneHello.maxCapabilities) capabilities)",
                                                        "effect": "the drone starts without this server's tools"])
                    continue
                }
                sources.append(client)
                tools += listed
                log.info("mcp_server", ["server": spec.name, "tools": listed.map(\.name).joined(separator: ","),
                                        "side_effecting": listed.filter(\.sideEffecting).map(\.name).joined(separator: ",")])
            } catch {
                await client.close()
                log.warn("mcp_server_unavailable", ["server": spec.name, "reason": "\(error)",
                                                    "effect": "the drone starts without this server's tools"])
            }
        }
        return (sources, tools)
    }

    /// `--mcp-read-only NAME[.TOOL],…` as tool sets by server (`*`: every tool of that server).
    public static func readOnly(_ list: [String]) -> [String: Set<String>] {
        var out: [String: Set<String>] = [:]
        for item in list {
            let parts = item.split(separator: ".", maxSplits: 1).map(String.init)
            guard let server = parts.first else { continue }
            out[server, default: []].insert(parts.count == 2 ? parts[1] : "*")
        }
        return out
    }
}
