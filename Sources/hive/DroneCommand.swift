import Foundation
import HiveCore
import NATSClient

/// `hive drone add NAME [--tier T] [--json]`: honeycombd issues a credential for one drone (its own token, its
/// name as its id on the bus, its tier); `hive drone revoke NAME` disconnects that drone and refuses the
/// credential from then on. Operators only; needs principals in honeycombd's config.
func droneCommand(_ args: [String]) async {
    var cli = ControlCLI(args)
    var tier: Tier?
    if let i = cli.rest.firstIndex(of: "--tier") {
        guard i + 1 < cli.rest.count, let t = Tier(rawValue: cli.rest[i + 1]) else { fail("--tier takes edge, worker or core") }
        tier = t
        cli.rest.removeSubrange(i...(i + 1))
    }
    let usage = "usage: hive drone add NAME [--tier edge|worker|core] [--json] | hive drone revoke NAME"
    guard cli.rest.count == 2, let verb = cli.rest.first, verb == "add" || verb == "revoke" else { fail(usage) }
    let name = cli.rest[1]
    guard APISubject.isValidDroneID(name) else { fail("a drone's name is 1 to 64 letters, digits, - and _ (it is its id on the bus)") }
    let nc = await cli.connect()
    defer { nc.close() }
    do {
        if verb == "revoke" {
            let gone = try await cli.call(nc, APISubject.droneRevoke, DroneAdd(name: name), as: DroneCredential.self)
            if cli.json { return cli.printJSON(gone) }
            print("revoked \(gone.name): it is disconnected, and its credential is refused from now on")
            return
        }
        let issued = try await cli.call(nc, APISubject.droneAdd, DroneAdd(name: name, tier: tier ?? .worker), as: DroneCredential.self)
        if cli.json { return cli.printJSON(issued) }
        let bus = (try? NATSClientOptions(urls: cli.urls).servers.first).flatMap { $0 }.map { "\($0.host):\($0.port)" } ?? "HOST:4222"
        print("""
            drone credential for \(issued.name) (\(issued.tier.rawValue) tier); it is shown once, keep it secret:
              token  \(issued.token)
              run    drone --honeycomb nats://\(issued.token)@\(bus) --name \(issued.name) --tier \(issued.tier.rawValue)
            """)
    } catch {
        fail("\(error)", code: 1)
    }
}
