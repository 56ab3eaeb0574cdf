#if canImport(Glibc)
import Glibc
#endif
import FoundationEssentials
import HiveCore
import HiveSystem
import NATSServer

/// Why a drone credential could not be issued or revoked; worded for the operator.
public enum DroneCredentialError: Error, CustomStringConvertible, Sendable {
    case noPrincipals
    case badName(String)
    case nameTaken(String)
    case unknown(String)
    case cannotSave(String)

    public var description: String {
        switch self {
        case .noPrincipals:
            return "drone credentials need principals in honeycombd's config (with one shared --token every holder may do everything; see OPERATIONS, Principals) and the embedded broker"
        case .badName(let n): return "'\(n)' cannot be a drone's name: 1 to 64 letters, digits, - and _ (it is its id on the bus)"
        case .nameTaken(let n): return "a principal named '\(n)' exists already"
        case .unknown(let n): return "no drone credential named '\(n)' was issued (drones in the config file are revoked by editing it)"
        case .cannotSave(let why): return "cannot save drone credentials: \(why)"
        }
    }
}

/// Drone credentials issued at run time (`hive drone add NAME --tier T`), each a drone principal with its own token
/// and the tier it may announce, kept under `DATA/drone-credentials.json` (written durably; without `--data` they
/// live as long as the process). The broker is handed the configured principals plus these on every change.
public final class DroneCredentials: @unchecked Sendable {
    public struct Issued: Codable, Sendable, Equatable {
        public var name: String
        public var token: String
        public var tier: Tier
    }

    /// The principals from the config file (never changed here).
    let configured: [Principal]
    private let path: String?
    private let directory: String?
    /// Only the control service's actor touches this after start.
    private(set) var issued: [Issued] = []
    /// Hands the broker the new list (closing connections of revoked credentials).
    private let apply: @Sendable ([Principal]) throws -> Void

    /// Loads what was issued before (under `directory`), or starts empty.
    public init(configured: [Principal], directory: String?, apply: @escaping @Sendable ([Principal]) throws -> Void) throws(DroneCredentialError) {
        self.configured = configured
        self.directory = directory
        path = directory.map { $0 + "/drone-credentials.json" }
        self.apply = apply
        if let directory { DurableTemp.removeStale(in: directory, of: ["drone-credentials.json"]) }  // secrets a crash left
        if let path, let data = FileManager.default.contents(atPath: path) {
            do { issued = try JSONDecoder().decode([Issued].self, from: data) } catch {
                throw .cannotSave("\(path) is unreadable (\(error)); move it away to start without the drones it lists")
            }
        }
    }

    /// Every principal the broker should know: the configured ones and the issued drones.
    public var principals: [Principal] {
        configured + issued.map { Principal(name: $0.name, credential: .token($0.token), permissions: PrincipalRole.drone.permissions(name: $0.name)) }
    }

    /// The tier an issued drone may announce (nil for drones from the config file: any tier).
    func tier(of drone: DroneID) -> Tier? { issued.first { $0.name == drone }?.tier }

    func add(name: String, tier: Tier) throws(DroneCredentialError) -> Issued {
        guard APISubject.isValidDroneID(name) else { throw .badName(name) }
        guard !principals.contains(where: { $0.name == name }) else { throw .nameTaken(name) }
        let token = RandomToken.hex(bytes: 32)
        let entry = Issued(name: name, token: token, tier: tier)
        try change(issued + [entry])
        return entry
    }

    func revoke(name: String) throws(DroneCredentialError) -> Issued {
        guard let entry = issued.first(where: { $0.name == name }) else { throw .unknown(name) }
        try change(issued.filter { $0.name != name })
        return entry
    }

    /// Saves first (a credential the broker accepts is one that survives a restart), then tells the broker.
    private func change(_ next: [Issued]) throws(DroneCredentialError) {
        if let path, let directory {
            guard let data = try? JSONEncoder().encode(next) else { throw .cannotSave("encoding failed") }
            if let e = writeFileDurably(path, Array(data), directory: directory, mode: 0o600) { throw .cannotSave(e) }  // secrets
        }
        let before = issued
        issued = next
        do { try apply(principals) } catch {
            issued = before
            throw .cannotSave("the broker refused the list: \(error)")
        }
    }
}
