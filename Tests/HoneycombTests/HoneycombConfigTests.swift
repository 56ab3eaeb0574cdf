import Foundation
import HiveCore
import Testing
import Honeycomb
import NATSServer
import NATSClient
import HiveLog
import HiveTLS

@Suite struct HoneycombConfigTests {
    func load(_ args: [String], files: [String: String] = [:]) throws(HoneycombConfigError) -> HoneycombConfig {
        try HoneycombConfig.from(arguments: args) { path in
            guard let text = files[path] else { throw CocoaError(.fileNoSuchFile) }
            return Data(text.utf8)
        }
    }

    @Test func defaultsMatchNatsServer() throws {
        let c = try load([])
        #expect(c.broker.listen == ListenAddress(host: "127.0.0.1", port: 4222))
        #expect(c.broker.maxPayload == 1_048_576)
        #expect(c.broker.maxControlLine == 4096)
        #expect(c.broker.maxPending == 64 << 20)
        #expect(c.broker.auth == .none)
        #expect(c.logLevel == .info)
    }

    @Test func httpAllowedHostsAndSessionLimitsComeFromFlagsOrTheFileAndBadValuesNameTheKey() throws {
        let d = try load([])
        #expect(d.httpAllowedHosts == [] && d.httpSessions.maxSessions == 256 && d.httpSessions.lifetimeMillis == 720 * 60_000)
        let c = try load(["--config", "c.json", "--http-allowed-hosts", "hive.lan, box.local", "--http-session-ttl-minutes", "5"],
                         files: ["c.json": #"{"http_allowed_hosts": ["x.example"], "http_max_sessions": 3, "http_session_ttl_minutes": 60}"#])
        #expect(c.httpAllowedHosts == ["hive.lan", "box.local"], "the flag wins over the file")
        #expect(c.httpSessions.maxSessions == 3 && c.httpSessions.lifetimeMillis == 5 * 60_000)
        func problem(_ args: [String], _ file: String = "{}") -> String {
            do { _ = try load(args + ["--config", "c.json"], files: ["c.json": file]) } catch { return error.description }
            return "accepted"
        }
        #expect(problem(["--http-allowed-hosts", "http://hive.lan"]).contains("is not a host name"))
        #expect(problem(["--http-allowed-hosts", "hive.lan:8420"]).contains("is not a host name"))
        #expect(problem(["--http-max-sessions", "0"]).contains("--http-max-sessions"))
        #expect(problem(["--http-session-ttl-minutes", "99999999999"]).contains("at most 525600"))
        #expect(problem([], #"{"http_allowed_hosts": "hive.lan"}"#).contains("http_allowed_hosts"))
    }

    @Test func tlsFilesComeFromFlagsOrTheFileAndInconsistenciesNameTheFlag() throws {
        let c = try load(["--config", "c.json", "--tls-verify", "--tls-timeout-ms", "500"],
                         files: ["c.json": #"{"tls_cert": "s.pem", "tls_key": "k.pem", "tls_ca": "ca.pem"}"#])
        #expect(c.tls == TLSFiles(certificate: "s.pem", key: "k.pem", ca: "ca.pem", verifyClients: true))
        #expect(c.tlsTimeoutMillis == 500)
        func problem(_ args: [String], _ file: String = "{}") -> String {
            do { _ = try load(args + ["--config", "c.json"], files: ["c.json": file]) } catch { return error.description }
            return "accepted"
        }
        #expect(problem(["--tls-cert", "s.pem"]).contains("--tls-key"))
        #expect(problem(["--tls-key", "k.pem"]).contains("--tls-cert"))
        #expect(problem(["--tls-cert", "s.pem", "--tls-key", "k.pem", "--tls-verify"]).contains("--tls-ca"))
        #expect(problem(["--nats", "nats://a:4222", "--tls-verify"]).contains("tls_verify"))
        #expect(problem(["--nats", "nats://a:4222", "--tls-cert", "c.pem"]).contains("--tls-key"))
        #expect(problem(["--tls-timeout-ms", "0"]).contains("--tls-timeout-ms"))
        #expect(problem([], #"{"tls_verify": "yes"}"#).contains("tls_verify"))
        let certificatePrincipal = #"{"principals": [{"name": "d1", "role": "drone", "certificate": "d1"}]}"#
        #expect(problem([], certificatePrincipal).contains("needs tls_ca"))
        #expect(problem(["--tls-cert", "s.pem", "--tls-key", "k.pem", "--tls-ca", "ca.pem"], certificatePrincipal) == "accepted")
        let both = #"{"principals": [{"name": "d1", "role": "drone", "certificate": "d1", "token": "t"}]}"#
        #expect(problem(["--tls-cert", "s.pem", "--tls-key", "k.pem", "--tls-ca", "ca.pem"], both).contains("give one of"))
    }

    @Test func aCertificateControlPrincipalIsNotHoneycombdsOwnConnection() throws {
        var c = try load(["--config", "c.json", "--tls-cert", "s.pem", "--tls-key", "k.pem", "--tls-ca", "ca.pem"],
                         files: ["c.json": #"{"principals": [{"name": "admin", "role": "control", "certificate": "admin"}]}"#])
        #expect(c.controlPrincipal == nil)
        let generated = c.withControlPrincipal()
        #expect(generated != nil && c.controlPrincipal == generated?.name)
    }

    @Test func theShippedExampleConfigLoads() throws {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Config/honeycombd.json")
        let text = try String(contentsOf: url, encoding: .utf8)
        let c = try load(["--config", "x.json"], files: ["x.json": text])
        #expect(c.broker == BrokerConfig())
        #expect(c.control.prices["gpt-4o-mini"] == ModelPrice(promptPerMTok: 0.15, generatedPerMTok: 0.60))
        #expect(c.blobQuota == BlobQuota())
    }

    @Test func blobLimitsComeFromFlagsOrTheFileAndAreBounded() throws {
        let c = try load(["--max-blob-bytes", "1000", "--blob-store-bytes", "5000", "--max-blobs", "3"])
        #expect((c.blobQuota.maxBlobBytes, c.blobQuota.maxBytes, c.blobQuota.maxCount) == (1000, 5000, 3))
        let f = try load(["--config", "c.json"], files: ["c.json": #"{"max_blob_bytes": 7, "blob_store_bytes": 8, "max_blobs": 9}"#])
        #expect((f.blobQuota.maxBlobBytes, f.blobQuota.maxBytes, f.blobQuota.maxCount) == (7, 8, 9))
        do {
            _ = try load(["--max-blob-bytes", String(2 << 30)])
            Issue.record("a blob bound over 1 GiB was accepted")
        } catch {
            #expect(error.description.contains("invalid --max-blob-bytes: must be at most 1073741824 (1 GiB)"), "\(error)")
        }
        do {
            _ = try load(["--max-blobs", "0"])
            Issue.record("zero blobs accepted")
        } catch {
            #expect(error.description.contains("--max-blobs"), "\(error)")
        }
    }

    @Test func theBatchLimitComesFromTheFlagOrTheFileAndIsBounded() throws {
        #expect(try load([]).control.maxBatch == DroneBatch.defaultMaxBatch)
        #expect(try load(["--max-batch", "1"]).control.maxBatch == 1)
        #expect(try load(["--config", "c.json"], files: ["c.json": #"{"max_batch": 4096}"#]).control.maxBatch == 4096)
        func problem(_ args: [String], _ file: String = "{}") -> String {
            do { _ = try load(args + ["--config", "c.json"], files: ["c.json": file]) } catch { return error.description }
            return "accepted"
        }
        #expect(problem(["--max-batch", "0"]).contains("--max-batch"))
        #expect(problem(["--max-batch", "4097"]).contains("--max-batch") && problem(["--max-batch", "4097"]).contains("4096"))
        #expect(problem([], #"{"max_batch": -1}"#).contains("max_batch"))
        #expect(problem([], #"{"max_batch": 9223372036854775807}"#).contains("max_batch"))
    }

    @Test func pricesAreCheckedKeyByKey() throws {
        func problem(_ json: String) -> String {
            do { _ = try load(["--config", "c.json"], files: ["c.json": json]) } catch { return error.description }
            return "accepted"
        }
        #expect(problem(#"{"prices": {"m": {"prompt_per_mtok": 1, "generated_per_mtok": 2}}}"#) == "accepted")
        #expect(problem(#"{"prices": {"m": {"prompt_per_mtok": -1, "generated_per_mtok": 2}}}"#)
            == "invalid prices.m.prompt_per_mtok: a price cannot be negative")
        #expect(problem(#"{"prices": {"m": {"prompt_per_mtok": 1}}}"#)
            == "config key 'prices.m.generated_per_mtok' must be a number, not missing")
        #expect(problem(#"{"prices": {"m": {"prompt_per_mtok": 1, "generated_per_mtok": 2, "per_call": 3}}}"#)
            == "config file c.json: unknown key 'prices.m.per_call' (see Config/honeycombd.json for the keys)")
    }

    @Test func httpAndTraceExportSettings() throws {
        let d = try load([])
        #expect(d.http == ListenAddress(host: "127.0.0.1", port: 8420) && !d.httpChosen && !d.httpReadOnly && d.otlpEndpoint == nil)
        let c = try load(["--config", "c.json", "--http-read-only", "--otlp", "http://collector:4318/v1/traces"],
                         files: ["c.json": #"{"http": "0.0.0.0:9000", "http_read_only": false}"#])
        #expect(c.http == ListenAddress(host: "0.0.0.0", port: 9000) && c.httpChosen)
        #expect(c.httpReadOnly, "the flag wins over the file")
        #expect(c.otlpEndpoint == "http://collector:4318/v1/traces")
        #expect(try load(["--http", "off"]).http == nil)
        #expect(throws: HoneycombConfigError.self) { _ = try load(["--http", "nowhere"]) }
        do {
            _ = try load(["--otlp", "collector:4318"])
            Issue.record("a URL without a scheme was accepted")
        } catch {
            #expect(error.description.contains("is not an http:// or https:// URL"))
        }
        #expect(throws: HoneycombConfigError.wrongType(key: "http_read_only", expected: "true or false", got: "a string")) {
            _ = try load(["--config", "c.json"], files: ["c.json": #"{"http_read_only": "yes"}"#])
        }
    }

    @Test func httpConnectionLimitsAndTheModuleQuotaComeFromFlagsAndKeys() throws {
        let d = try load([])
        #expect(d.httpServer.maxConnections == 256 && d.httpServer.maxConnectionsPerAddress == 64)
        #expect(d.httpServer.firstByteTimeout == 5 && d.httpServer.limits.maxBodyBytes == 1 << 20)
        #expect(d.moduleQuota.maxBytes == 256 << 20 && d.moduleQuota.maxCount == 1024)
        let file = #"{"http_max_connections": 10, "http_max_connections_per_address": 3, "http_first_byte_timeout_ms": 1500,"#
            + #" "http_max_body_bytes": 4096, "modules_max_bytes": 1000000, "modules_max_count": 7}"#
        let c = try load(["--config", "c.json", "--http-max-connections", "20", "--modules-max-count=9"], files: ["c.json": file])
        #expect(c.httpServer.maxConnections == 20 && c.httpServer.maxConnectionsPerAddress == 3)
        #expect(c.httpServer.firstByteTimeout == 1.5 && c.httpServer.limits.maxBodyBytes == 4096)
        #expect(c.moduleQuota.maxBytes == 1_000_000 && c.moduleQuota.maxCount == 9)
        for args in [["--http-max-connections-per-address", "0"], ["--modules-max-bytes", "-5"], ["--http-first-byte-timeout-ms", "x"]] {
            do {
                _ = try load(args)
                Issue.record("accepted \(args)")
            } catch {
                #expect(error.description.contains(args[0]) && error.description.contains("at least 1"), "\(error)")
            }
        }
        do {
            _ = try load(["--config", "c.json"], files: ["c.json": #"{"modules_max_count": 0}"#])
            Issue.record("accepted modules_max_count 0")
        } catch {
            #expect(error.description.contains("modules_max_count"))
        }
    }

    @Test func flagsOverrideTheFileWhateverTheirOrder() throws {
        let file = #"{"listen":"0.0.0.0:5000","max_payload":2048,"auth":{"token":"file"}}"#
        let c = try load(["--listen", "127.0.0.1:6000", "--config", "c.json", "--token=flag"], files: ["c.json": file])
        #expect(c.broker.listen == ListenAddress(host: "127.0.0.1", port: 6000))
        #expect(c.broker.maxPayload == 2048)
        #expect(c.broker.auth == .token("flag"))
    }

    @Test func listenAddressForms() throws {
        #expect(try load(["--listen", "[::1]:4223"]).broker.listen == ListenAddress(host: "::1", port: 4223))
        #expect(try load(["--listen", ":4224"]).broker.listen == ListenAddress(host: "0.0.0.0", port: 4224))
    }

    @Test(arguments: [
        (["--listen", "nope"], "not HOST:PORT"),
        (["--listen", "h:99999"], "no valid port"),
        (["--bogus"], "unknown option"),
        (["--token"], "needs a value"),
        (["--user", "u"], "user and pass must be given together"),
        (["--token", "t", "--user", "u", "--pass", "p"], "not both"),
        (["--max-payload", "0"], "max_payload"),
        (["--log-level", "loud"], "not one of"),
        (["--config", "missing.json"], "cannot read config file"),
    ])
    func badFlagsExplainThemselves(args: [String], fragment: String) {
        do {
            _ = try load(args)
            Issue.record("accepted \(args)")
        } catch {
            #expect(error.description.contains(fragment), "\(error.description)")
        }
    }

    @Test(arguments: [
        ("{", "not valid JSON"),
        ("[]", "must be an object"),
        (#"{"max_paylod": 5}"#, "unknown key 'max_paylod'"),
        (#"{"max_payload": "big"}"#, "must be an integer"),
        (#"{"max_payload": 1.5}"#, "must be an integer"),
        (#"{"auth": {"token": "a", "tokn": "b"}}"#, "unknown key 'auth.tokn'"),
        (#"{"ping_max": 0}"#, "ping_max"),
        (#"{"max_replies_awaiting_journal": 0}"#, "max_replies_awaiting_journal: must be 1 to 65536"),
        (#"{"max_replies_awaiting_journal": 70000}"#, "max_replies_awaiting_journal: must be 1 to 65536"),
    ])
    func badConfigFilesExplainThemselves(json: String, fragment: String) {
        do {
            _ = try load(["--config", "c.json"], files: ["c.json": json])
            Issue.record("accepted \(json)")
        } catch {
            #expect(error.description.contains(fragment), "\(error.description)")
        }
    }
}

@Suite struct ExternalBusConfigTests {
    @Test func natsFlagAndConfigKeySelectAnExternalBus() throws {
        let c = try HoneycombConfig.from(arguments: ["--nats", "nats://u:p@a:4222, nats://b:5222"]) { _ in Data() }
        #expect(c.externalBus?.map(\.description) == ["a:4222", "b:5222"])
        #expect(c.externalBus?.first?.user == "u")
        let f = try HoneycombConfig.from(arguments: ["--config", "c"]) { _ in Data(#"{"nats":"nats://x:1"}"#.utf8) }
        #expect(f.externalBus?.map(\.description) == ["x:1"])
        #expect(try HoneycombConfig.from(arguments: []) { _ in Data() }.externalBus == nil)
    }

    @Test func embeddedBusOptionsCarryTheBrokersCredentials() throws {
        let c = try HoneycombConfig.from(arguments: ["--listen", "0.0.0.0:4333", "--token", "t"]) { _ in Data() }
        let o = c.busOptions(embeddedPort: 4333)
        #expect(o.servers == [ServerAddress(host: "127.0.0.1", port: 4333, token: "t")])
    }
}

/// `principals`: roles, the control principal, and what is refused.
extension HoneycombConfigTests {
    @Test func principalsExpandTheirRolesAndKeepExplicitPermissions() throws {
        let file = #"""
        {"principals": [
          {"name": "hc", "role": "control", "token": "tc"},
          {"name": "alice", "role": "operator", "token": "ta"},
          {"name": "grafana", "role": "observer", "user": "obs", "pass": "po"},
          {"name": "laptop-1", "role": "drone", "token": "td"},
          {"name": "custom", "token": "tx", "permissions": {"publish": {"allow": ["a.>"]}, "subscribe": {"deny": [">"]},
                                                          "allow_responses": {"max": 3, "expires_ms": 500}}}
        ]}
        """#
        let c = try load(["--config", "h.json"], files: ["h.json": file])
        guard case .principals(let list) = c.broker.auth else {
            Issue.record("principals not set")
            return
        }
        #expect(c.controlPrincipal == "hc")
        #expect(list.map(\.name) == ["hc", "alice", "grafana", "laptop-1", "custom"])
        #expect(list[0].permissions == .all)
        #expect(list[1].permissions.publish.allow == ["hive.v1.api.>"])
        #expect(list[2].credential == .userPassword(user: "obs", password: "po"))
        #expect(list[2].permissions.subscribe.allow == ["_INBOX.>", "hive.v1.events.>"])
        #expect(list[2].permissions.publish.allow?.contains("hive.v1.api.submit") == false)
        #expect(list[3].permissions.publish.allow == ["hive.v1.drone.laptop-1.hello", "hive.v1.drone.laptop-1.hb",
                                                      "hive.v1.drone.laptop-1.bye", "hive.v1.drone.laptop-1.result",
                                                      "hive.v1.api.module_get", "hive.v1.api.blob_get", "hive.v1.drone.laptop-1.blob"])
        // Nothing else of the API: a drone cannot list, submit, read goals, upload as an operator or ask which blobs exist.
        #expect(list[3].permissions.publish.allow?.contains { $0.hasPrefix("hive.v1.api.") && !$0.hasSuffix("_get") } == false)
        #expect(list[3].permissions.subscribe.allow == ["hive.v1.drone.laptop-1.task", "hive.v1.drone.laptop-1.cancel",
                                                        "_INBOX.laptop-1.>"])
        #expect(list[4].permissions == Permissions(publish: SubjectRules(allow: ["a.>"]), subscribe: SubjectRules(deny: [">"]),
                                                   allowResponses: ResponsePermission(maxMessages: 3, expiresMillis: 500)))
        // honeycombd's own connection uses the configured control principal.
        #expect(c.busOptions(embeddedPort: 4222).servers.first?.token == "tc")
    }

    @Test func withoutAControlPrincipalOneIsGeneratedForHoneycombdItself() throws {
        var c = try load(["--config", "h.json"], files: ["h.json": #"{"principals": [{"name": "honeycombd", "role": "operator", "token": "t"}]}"#])
        #expect(c.controlPrincipal == nil)
        let added = c.withControlPrincipal()
        let generated = try #require(added)
        #expect(generated.name != "honeycombd")
        #expect(generated.permissions == .all)
        guard case .token(let token) = generated.credential else { Issue.record("not a token"); return }
        #expect(token.count == 48)
        #expect(c.busOptions(embeddedPort: 4222).servers.first?.token == token)
        let again = c.withControlPrincipal()
        #expect(again == nil)
    }

    @Test func badPrincipalsAreRefusedWithTheReason() {
        func refusal(_ principals: String, _ flags: [String] = []) -> String {
            do {
                _ = try load(["--config", "h.json"] + flags, files: ["h.json": #"{"principals": \#(principals)}"#])
                return "accepted"
            } catch { return error.description }
        }
        #expect(refusal(#"[{"name": "a", "role": "operator", "token": "t"}, {"name": "b", "role": "drone", "token": "t"}]"#)
            .contains("same token"))
        #expect(refusal(#"[{"name": "a", "token": "t"}]"#).contains("role"))
        #expect(refusal(#"[{"name": "a", "role": "admin", "token": "t"}]"#).contains("not one of"))
        #expect(refusal(#"[{"name": "a.b", "role": "drone", "token": "t"}]"#).contains("letters, digits, - and _"))
        #expect(refusal(#"[{"name": "a", "role": "drone", "token": "t", "pass": "p"}]"#).contains("give one of"))
        #expect(refusal(#"[{"name": "a", "role": "drone", "token": "t", "tier": "x"}]"#).contains("unknown key 'principals[0].tier'"))
        #expect(refusal(#"[{"name": "a", "token": "t", "permissions": {"publish": {"allow": ["a.>.b"]}}}]"#).contains("a.>.b"))
        #expect(refusal(#"[{"name": "a", "role": "drone", "token": "t"}]"#, ["--token", "x"]).contains("remove 'auth'"))
        do {
            _ = try load(["--config", "h.json"], files: ["h.json": #"{"auth": {"token": "x"}, "principals": [{"name": "a", "role": "drone", "token": "t"}]}"#])
            Issue.record("auth and principals together were accepted")
        } catch {
            #expect(error.description.contains("remove 'auth'"))
        }
    }
}


/// honeycombd's options are declared once (`HoneycombConfig.commandLineOptions`); each must change the configuration.
extension HoneycombConfigTests {
    @Test func everyDeclaredOptionSetsSomething() throws {
        // For each option: a command line with it, and the same without it (what it needs besides itself).
        let cert = ["--tls-cert", "c.pem", "--tls-key", "k.pem"]
        let samples: [String: (with: [String], without: [String])] = [
            "--config": (["--config", "c.json"], []),
            "--listen": (["--listen", "127.0.0.1:5000"], []),
            "--token": (["--token", "t"], []),
            "--user": (["--user", "u", "--pass", "p"], []),
            "--pass": (["--user", "u", "--pass", "p"], []),
            "--max-payload": (["--max-payload", "2048"], []),
            "--event-loops": (["--event-loops", "3"], []),
            "--log-level": (["--log-level", "debug"], []),
            "--nats": (["--nats", "nats://a:4222"], []),
            "--data": (["--data", "d"], []),
            "--journal": (["--nats", "nats://a:4222", "--journal", "jetstream://J"], ["--nats", "nats://a:4222"]),
            "--journal-create": (["--nats", "nats://a:4222", "--journal", "jetstream://J", "--journal-create"], ["--nats", "nats://a:4222", "--journal", "jetstream://J"]),
            "--journal-ack-timeout-ms": (["--journal-ack-timeout-ms", "300"], []),
            "--leader-heartbeat-ms": (["--leader-heartbeat-ms", "300"], []),
            "--prompts": (["--prompts", "p"], []),
            "--http": (["--http", "off"], []),
            "--http-read-only": (["--http-read-only"], []),
            "--otlp": (["--otlp", "http://c:4318/v1/traces"], []),
            "--http-max-connections": (["--http-max-connections", "3"], []),
            "--http-max-connections-per-address": (["--http-max-connections-per-address", "3"], []),
            "--http-first-byte-timeout-ms": (["--http-first-byte-timeout-ms", "3"], []),
            "--http-max-body-bytes": (["--http-max-body-bytes", "3"], []),
            "--http-allowed-hosts": (["--http-allowed-hosts", "hive.lan"], []),
            "--http-max-sessions": (["--http-max-sessions", "3"], []),
            "--http-session-ttl-minutes": (["--http-session-ttl-minutes", "3"], []),
            "--modules-max-bytes": (["--modules-max-bytes", "3"], []),
            "--modules-max-count": (["--modules-max-count", "3"], []),
            "--max-blob-bytes": (["--max-blob-bytes", "3"], []),
            "--blob-store-bytes": (["--blob-store-bytes", "3"], []),
            "--max-blobs": (["--max-blobs", "3"], []),
            "--max-spec-bytes": (["--max-spec-bytes", "4096"], []),
            "--max-drones": (["--max-drones", "3"], []),
            "--max-replies-awaiting-journal": (["--max-replies-awaiting-journal", "3"], []),
            "--max-batch": (["--max-batch", "5"], []),
            "--tls-cert": (cert, []),
            "--tls-key": (cert, []),
            "--tls-ca": (cert + ["--tls-ca", "ca.pem"], cert),
            "--tls-verify": (cert + ["--tls-ca", "ca.pem", "--tls-verify"], cert + ["--tls-ca", "ca.pem"]),
            "--tls-timeout-ms": (["--tls-timeout-ms", "3"], []),
        ]
        let file = ["c.json": #"{"max_payload": 4096}"#]
        for option in HoneycombConfig.commandLineOptions where option.name != "--print-nats-authorization" {
            guard let s = samples[option.name] else {
                Issue.record("no sample for \(option.name): add one here")
                continue
            }
            #expect(try load(s.with, files: file) != load(s.without, files: file), "\(option.name) changed nothing")
        }
        #expect(samples.count == HoneycombConfig.commandLineOptions.count - 1, "a sample names an option that is not declared")
    }

    @Test func aMalformedCommandLineIsAUsageErrorInHiveCommandLinesWords() {
        #expect(throws: HoneycombConfigError.usage("unknown option '--listne' for honeycombd (did you mean --listen?)")) {
            _ = try load(["--listne", "x"])
        }
        #expect(throws: HoneycombConfigError.usage("--http-read-only takes no value")) { _ = try load(["--http-read-only=yes"]) }
    }
}
