/// The bus subjects of Hive's control plane (versioned: `hive.v1.…`). Shared by honeycombd, drones and the CLI.
public enum APISubject {
    /// Request/reply: honeycombd's status (`StatusReply`).
    public static let status = "hive.v1.api.status"
}

/// What `hive.v1.api.status` answers.
public struct StatusReply: Codable, Sendable, Equatable {
    public var service: String
    public var version: String
    /// `embedded` (honeycombd hosts the broker) or `external` (a NATS server or cluster given with --nats).
    public var broker: String
    /// The NATS server honeycombd's control plane is connected to.
    public var busServer: String
    public var startedAt: String
    public var uptimeSeconds: Double

    public init(service: String, version: String, broker: String, busServer: String, startedAt: String, uptimeSeconds: Double) {
        self.service = service
        self.version = version
        self.broker = broker
        self.busServer = busServer
        self.startedAt = startedAt
        self.uptimeSeconds = uptimeSeconds
    }

    enum CodingKeys: String, CodingKey {
        case service, version, broker
        case busServer = "bus_server", startedAt = "started_at", uptimeSeconds = "uptime_seconds"
    }
}

/// Hive's own version (not the NATS protocol version the broker advertises).
public enum HiveVersion {
    public static let current = "0.1.0"
}
