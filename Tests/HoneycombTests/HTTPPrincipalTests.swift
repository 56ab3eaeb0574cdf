#if canImport(Glibc)
import Glibc
#endif
import FoundationEssentials
import HiveCore
import Honeycomb
import NATSClient
import NATSTestSupport
import Testing

/// One request on a fresh real socket; (status, body, head).
private func send(_ port: Int, _ method: String, _ path: String, _ headers: [String: String] = [:], body: String = "") -> (Int, String, String) {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_port = in_port_t(UInt16(port).bigEndian)
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    let rc = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
    guard rc == 0 else { return (0, "connect failed", "") }
    var tv = timeval(tv_sec: 10, tv_usec: 0)
    _ = setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    var text = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nConnection: close\r\nContent-Length: \(body.utf8.count)\r\n"
    for (k, v) in headers { text += "\(k): \(v)\r\n" }
    text += "\r\n" + body
    _ = Array(text.utf8).withUnsafeBytes { Glibc.send(fd, $0.baseAddress!, $0.count, Int32(MSG_NOSIGNAL)) }
    var data: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress!, $0.count, 0) }
        if n <= 0 { break }
        data += buffer[0..<n]
    }
    let answer = String(decoding: data, as: UTF8.self)
    let status = Int(answer.split(separator: " ", maxSplits: 2).dropFirst().first ?? "") ?? 0
    let parts = answer.components(separatedBy: "\r\n\r\n")
    return (status, parts.dropFirst().joined(separator: "\r\n\r\n"), parts.first ?? "")
}

/// The HTTP API's principals: operators change things, observers only read, on a real control plane and socket.
@Suite struct HTTPPrincipalTests {
    static let plan = #"{"name": "p", "root": {"kind": "noop"}}"#
    static let json = ["Content-Type": "application/json"]

    @Test func anObserverReadsButCannotSubmitCancelOrRemoveAndTheRefusalNamesTheRole() async throws {
        let broker = try RunningBroker(.embedded)
        let plane = try await ControlPlane.start(options: try NATSClientOptions(urls: "nats://127.0.0.1:\(broker.port)"), mode: .embedded)
        let auth = HTTPAuth(principals: [HTTPPrincipal(name: "alice", token: "op-token", mayChange: true),
                                         HTTPPrincipal(name: "grafana", token: "obs-token", mayChange: false),
                                         HTTPPrincipal(name: "eve", user: "eve", password: "pw", mayChange: false)])
        let port = try plane.serveHTTP(.init(host: "127.0.0.1", port: 0, auth: auth))
        let op = ["Authorization": "Bearer op-token"], obs = ["Authorization": "Bearer obs-token"]
        let basic = ["Authorization": "Basic " + Data("eve:pw".utf8).base64EncodedString()]

        #expect(send(port, "GET", "/api/goals", obs).0 == 200)
        #expect(send(port, "GET", "/api/goals", basic).0 == 200)
        #expect(send(port, "GET", "/api/goals", ["Authorization": "Basic " + Data("eve:wrong".utf8).base64EncodedString()]).0 == 401)
        #expect(send(port, "GET", "/api/goals", ["Authorization": "Bearer obs-token-not"]).0 == 401)
        let (created, body, _) = send(port, "POST", "/api/goals", op.merging(Self.json) { a, _ in a }, body: Self.plan)
        #expect(created == 201, "\(body)")
        // The reply is a GoalRef (here with a warning too: no drone has joined to run it).
        let ref = try JSONDecoder().decode(GoalRef.self, from: Data(body.utf8))
        #expect(ref.unrunnable?.first?.blocker == "no_drones")
        let goal = ref.goal
        for who in [obs, basic] {
            let headers = who.merging(Self.json) { a, _ in a }
            let (status, refusal, _) = send(port, "POST", "/api/goals", headers, body: Self.plan)
            #expect(status == 403 && refusal.contains("is an observer (read only)"), "\(refusal)")
            #expect(send(port, "POST", "/api/goals/\(goal)/cancel", headers).0 == 403)
            #expect(send(port, "DELETE", "/api/modules/" + String(repeating: "a", count: 64), headers).0 == 403)
        }
        // An observer's browser session reads and is still refused changes, CSRF token or not.
        let (loggedIn, info, head) = send(port, "POST", "/login", Self.json, body: #"{"user": "eve", "pass": "pw"}"#)
        #expect(loggedIn == 200 && info.contains(#""role":"observer""#), "\(info)")
        let cookie = head.split(separator: "\r\n").first { $0.hasPrefix("Set-Cookie: ") }.map { String($0.dropFirst(12).prefix { $0 != ";" }) } ?? ""
        struct Info: Decodable { var csrf: String? }
        let csrf = try JSONDecoder().decode(Info.self, from: Data(info.utf8)).csrf ?? ""
        #expect(cookie.hasPrefix("hive_session=") && csrf.count == 64)
        #expect(send(port, "GET", "/api/goals", ["Cookie": cookie]).0 == 200)
        let session = ["Cookie": cookie, "X-Hive-CSRF": csrf, "Content-Type": "application/json"]
        #expect(send(port, "POST", "/api/goals", session, body: Self.plan).0 == 403)
        #expect(send(port, "POST", "/api/goals/\(goal)/cancel", session).0 == 403)
        // Only the operator's goal exists, and it was not cancelled by anyone.
        let goals = send(port, "GET", "/api/goals", obs).1
        #expect(goals.components(separatedBy: "\"goal\":").count == 2 && goals.contains(goal) && !goals.contains("cancelled"), "\(goals)")
        await plane.stop()
    }

    @Test func anOpenAPIIsRefusedBeyondLoopbackAndTheErrorNamesTheWayOut() async throws {
        let broker = try RunningBroker(.embedded)
        let plane = try await ControlPlane.start(options: try NATSClientOptions(urls: "nats://127.0.0.1:\(broker.port)"), mode: .embedded)
        for host in ["0.0.0.0", "::", "192.0.2.1"] {
            #expect {
                _ = try plane.serveHTTP(.init(host: host, port: 0))
            } throws: { error in
                let text = "\(error)"
                return text.contains("listens beyond loopback") && text.contains("--token") && text.contains("--user")
            }
        }
        let port = try plane.serveHTTP(.init(host: "0.0.0.0", port: 0, auth: .token("t")))
        #expect(send(port, "GET", "/api/goals").0 == 401)
        await plane.stop()
    }
}
