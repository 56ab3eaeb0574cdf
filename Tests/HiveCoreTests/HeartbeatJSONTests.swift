import FoundationEssentials
import HiveCore
import Testing

/// The hand-read heartbeat (`Heartbeat(fastJSON:)`) agrees with `JSONDecoder` on every input: it reads the plain
/// form the same, and gives up (nil, so `Heartbeat.decode` falls back) on anything else.
@Suite struct HeartbeatJSONTests {
    static func decoded(_ text: String) -> Heartbeat? {
        try? JSONDecoder().decode(Heartbeat.self, from: Data(text.utf8))
    }

    @Test(arguments: [
        #"{"drone":"d1","running":[]}"#,
        #"{"drone":"d1","running":["g1.2","g3.4"]}"#,
        #"{"running":["g1.2"],"drone":"d1"}"#,
        " {\n\t\"drone\" : \"d1\" ,\r\n \"running\" : [ \"g1.2\" , \"g1.3\" ] } \n",
        #"{"drone":"drönë-ü","running":["タスク"]}"#,
        #"{"drone":"","running":[""]}"#,
    ])
    func readsThePlainFormAsJSONDecoderDoes(_ text: String) throws {
        let fast = try #require(Heartbeat(fastJSON: Array(text.utf8)))
        #expect(fast == Self.decoded(text))
        #expect(Heartbeat.decode(Array(text.utf8)) == fast)
    }

    @Test(arguments: [
        #"{"drone":"d\"1","running":[]}"#,  // an escape
        #"{"drone":"d\u0031","running":[]}"#,
        #"{"drone":"d1","running":[],"extra":1}"#,  // a key it does not know
        #"{"drone":"d1","running":[],"note":"x"}"#,
        #"{"drone":"d1","drone":"d2","running":[]}"#,  // a key twice
        #"{"drone":"d1"}"#,  // a key missing
        #"{"drone":"d1","running":null}"#,
        #"{"drone":"d1","running":[1]}"#,
        #"{"drone":"d1","running":["a",]}"#,
        #"{"drone":"d1","running":[]} x"#,  // bytes after the value
        #"{"drone":"d1","running":[]}}"#,
        #"{"drone":"d1","running":["#,
        #"{"drone":"d1" "running":[]}"#,
        "{\"drone\":\"d\u{1}\",\"running\":[]}",  // a control character
        #"["d1"]"#,
        "",
        "{}",
    ])
    func givesUpWhereInDoubtAndTheFallbackDecides(_ text: String) {
        #expect(Heartbeat(fastJSON: Array(text.utf8)) == nil)
        #expect(Heartbeat.decode(Array(text.utf8)) == Self.decoded(text))
    }

    @Test func invalidUTF8IsRefusedByBoth() {
        let bytes = Array(#"{"drone":""#.utf8) + [0xC3, 0x28] + Array(#"","running":[]}"#.utf8)
        #expect(Heartbeat(fastJSON: bytes) == nil)
        #expect(Heartbeat.decode(bytes) == nil)
    }

    @Test func encodedHeartbeatsReadBack() throws {
        for hb in [Heartbeat(drone: "swarm-1f-9", running: []), Heartbeat(drone: "d", running: (0..<64).map { "g\($0).\($0)" })] {
            let bytes = Array(try JSONEncoder().encode(hb))
            #expect(Heartbeat(fastJSON: bytes) == hb)
        }
    }

    @Test func theReplyBytesDecodeAsTheReply() throws {
        for known in [true, false] {
            #expect(try JSONDecoder().decode(HeartbeatReply.self, from: Data(HeartbeatReply(known: known).fastJSON)) == HeartbeatReply(known: known))
        }
    }
}

/// The drone a subject names: read on bytes, the same answers as splitting it at every `.`.
@Suite struct DroneSubjectTests {
    @Test(arguments: [
        ("hive.v1.drone.d1.hb", "d1"),
        ("hive.v1.drone.swarm-1f-9.result", "swarm-1f-9"),
        ("hive.v1.drone.d1.", "d1"),
        ("hive.v1.drone..hb", nil),
        ("hive.v1.drone.d1", nil),
        ("hive.v1.drone.d1.hb.x", nil),
        ("hive.v1.drones.d1.hb", nil),
        ("hive.v2.drone.d1.hb", nil),
        ("xhive.v1.drone.d1.hb", nil),
        ("", nil),
    ] as [(String, String?)])
    func namesTheDroneOfItsFourthToken(_ subject: String, _ drone: String?) {
        #expect(APISubject.drone(in: subject) == drone)
        let parts = subject.split(separator: ".", omittingEmptySubsequences: false)
        let bySplit = parts.count == 5 && parts[0] == "hive" && parts[1] == "v1" && parts[2] == "drone" && !parts[3].isEmpty ? String(parts[3]) : nil
        #expect(APISubject.drone(in: subject) == bySplit)
    }
}
