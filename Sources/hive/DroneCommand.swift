import Foundation
import HiveCommandLine
import HiveCore
import NATSClient

/// `hive drone add NAME [--tier T] [--json]`: honeycombd issues a credential for one drone (its own token, its
/// name as its id on the bus, its tier); `hive drone revoke NAME` disconnects that drone and refuses the
/// credential from then on. Operators only; needs principals in honeycombd's config.
func droneCommand(_ p: ParsedArguments) async {
    let cli = ControlCLI(p)
    let tier = p.orExit { try $0.choice("--tier", as: Tier.self) }
    let verb = p.path.last ?? ""
    let name = cli.rest[0]
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
        let server = (try? NATSClientOptions(urls: cli.urls).servers.first).flatMap { $0 }
        let bus = server.map { "\($0.host):\($0.port)" } ?? "HOST:4222"
        // A TLS bus: the drone needs tls:// and the CA this command trusted (honeycombd tls init's ca.pem; none
        // when the system's CAs verified the bus).
        let tls = server?.tls == true || nc.negotiatedTLS != nil
        var run = "drone --honeycomb \(tls ? "tls" : "nats")://\(issued.token)@\(bus)"
        if tls, let ca = cli.tls.ca { run += " --tls-ca \(ca)" }
        run += " --name \(issued.name) --tier \(issued.tier.rawValue)"
        print("""
            drone credential for \(issued.name) (\(issued.tier.rawValue) tier); it is shown once, keep it secret:
              token  \(issued.token)
              run    \(run)
            """)
        if cli.tls.certificate != nil {
            print("  (a bus that requires client certificates also needs --tls-cert \(issued.name).pem --tls-key \(issued.name)-key.pem: honeycombd tls client DIR \(issued.name))")
        }
    } catch {
        fail(ErrorSentence.of(error, urls: cli.urls), code: 1)
    }
}
