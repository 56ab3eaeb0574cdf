@testable import HiveHTTP
import Testing

/// `Host` and `Origin` checks: DNS rebinding and cross-site requests.
@Suite struct HostPolicyTests {
    let loopback = HostPolicy(listenHost: "127.0.0.1", allowedNames: ["Hive.LAN"])

    @Test func loopbackNamesTheListenAddressAndAllowedNamesPassAnyOtherHostIsRefusedWith421() {
        for host in ["127.0.0.1:8420", "localhost:8420", "LOCALHOST", "[::1]:8420", "127.0.0.5", "hive.lan:8420", "hive.lan.", "app.localhost:1"] {
            #expect(loopback.check(host: host, origin: nil) == nil, "\(host)")
        }
        for host in ["evil.example", "evil.example:8420", "127.0.0.1.evil.example", "10.0.0.5:8420", "localhost.evil.example", "", "a b", "x:99999"] {
            let refusal = loopback.check(host: host, origin: nil)
            #expect(refusal == .host(host), "\(host)")
            #expect(refusal?.status == 421)
        }
        #expect(HostPolicy.Refusal.host("evil.example").description.contains("--http-allowed-hosts"))
    }

    @Test func onAWildcardAddressAnyIPLiteralIsTheListenAddressButNamesStillNeedAllowing() {
        let open = HostPolicy(listenHost: "0.0.0.0")
        #expect(open.check(host: "192.168.1.20:8420", origin: nil) == nil)
        #expect(open.check(host: "[fe80::1]:8420", origin: nil) == nil)
        #expect(open.check(host: "laptop.local:8420", origin: nil) == .host("laptop.local:8420"))
        let specific = HostPolicy(listenHost: "192.168.1.20")
        #expect(specific.check(host: "192.168.1.20:8420", origin: nil) == nil)
        #expect(specific.check(host: "192.168.1.21:8420", origin: nil) != nil)
    }

    @Test func aRequestWithoutHostIsJudgedByItsOriginAlone() {
        #expect(loopback.check(host: nil, origin: nil) == nil)
        #expect(loopback.check(host: nil, origin: "http://evil.example") == .origin("http://evil.example"))
    }

    @Test func onlyThePagesOwnOriginPassesSameHostAndPort() {
        #expect(loopback.check(host: "127.0.0.1:8420", origin: "http://127.0.0.1:8420") == nil)
        #expect(loopback.check(host: "hive.lan", origin: "http://hive.lan") == nil, "no port on either side means the default")
        #expect(loopback.check(host: "hive.lan", origin: "https://hive.lan") == nil)
        for origin in ["http://evil.example", "http://127.0.0.1:9999", "http://localhost:8420", "null", "file://", "http://127.0.0.1:8420/x", "ftp://127.0.0.1:8420"] {
            let refusal = loopback.check(host: "127.0.0.1:8420", origin: origin)
            #expect(refusal == .origin(origin), "\(origin)")
            #expect(refusal?.status == 403)
        }
    }

    @Test func loopbackIsOnlyLoopback() {
        #expect(HostPolicy.isLoopback("127.0.0.1") && HostPolicy.isLoopback("::1") && HostPolicy.isLoopback("[::1]") && HostPolicy.isLoopback("localhost"))
        #expect(!HostPolicy.isLoopback("0.0.0.0") && !HostPolicy.isLoopback("::") && !HostPolicy.isLoopback("192.168.1.2"))
        #expect(!HostPolicy.isLoopback("127.0.0.1.nip.io") && !HostPolicy.isLoopback("") && !HostPolicy.isLoopback("128.0.0.1"))
    }
}
