import FoundationEssentials
import HiveCore
import Testing

/// The hand-read result (`TaskResult(fastJSON:)`, one per finished task on honeycombd) agrees with `JSONDecoder` on
/// every input: it reads the plain form the same, and gives up (nil, so `TaskResult.decode` falls back) on anything
/// else, so no field is ever dropped or read differently.
@Suite struct TaskResultJSONTests {
    static func decoded(_ text: String) -> TaskResult? {
        try? JSONDecoder().decode(TaskResult.self, from: Data(text.utf8))
    }

    static func viaDecode(_ text: String) -> TaskResult? {
        try? TaskResult.decode(Array(text.utf8), decoder: JSONDecoder())
    }

    @Test(arguments: [
        #"{"task":"g1.2","attempt":1,"token":"9f","drone":"d1","outcome":"succeeded"}"#,
        #"{"task":"g1.2","attempt":3,"token":"9f","drone":"d1","outcome":"failed","exit_code":-1,"error":"boom","wall_ms":0}"#,
        #"{"outcome":"released","drone":"d1","token":"","attempt":0,"task":"g1.2","error":"no free slot"}"#,
        #"{"task":"g1.2","attempt":1,"token":"9f","drone":"d1","outcome":"succeeded","output":"","exit_code":0,"wall_ms":12}"#,
        " {\n\"task\" : \"g1.2\" , \"attempt\" : 1,\"token\":\"t\",\"drone\":\"dröne\",\"outcome\":\"succeeded\",\"output\":\"タスク\"} ",
        #"{"task":"g1.2","attempt":9223372036854775807,"token":"t","drone":"d","outcome":"succeeded","exit_code":-9223372036854775808}"#,
        #"{"task":"g1.2","attempt":-0,"token":"t","drone":"d","outcome":"succeeded"}"#,
    ])
    func readsThePlainFormAsJSONDecoderDoes(_ text: String) throws {
        let fast = try #require(TaskResult(fastJSON: Array(text.utf8)))
        #expect(fast == Self.decoded(text))
        #expect(Self.viaDecode(text) == fast)
    }

    @Test(arguments: [
        #"{"task":"g1.2","attempt":1,"token":"t","drone":"d","outcome":"succeeded","output":"a\nb"}"#,  // an escape
        #"{"task":"g1.2","attempt":1.0,"token":"t","drone":"d","outcome":"succeeded"}"#,  // a fraction
        #"{"task":"g1.2","attempt":1e0,"token":"t","drone":"d","outcome":"succeeded"}"#,  // an exponent
        #"{"task":"g1.2","attempt":01,"token":"t","drone":"d","outcome":"succeeded"}"#,  // a leading zero
        #"{"task":"g1.2","attempt":-,"token":"t","drone":"d","outcome":"succeeded"}"#,
        #"{"task":"g1.2","attempt":9223372036854775808,"token":"t","drone":"d","outcome":"succeeded"}"#,  // past Int
        #"{"task":"g1.2","attempt":"1","token":"t","drone":"d","outcome":"succeeded"}"#,
        #"{"task":"g1.2","attempt":1,"token":"t","drone":"d","outcome":"won"}"#,  // an unknown outcome
        #"{"task":"g1.2","attempt":1,"token":"t","drone":"d","outcome":"succeeded","output":null}"#,
        #"{"task":"g1.2","attempt":1,"token":"t","drone":"d","outcome":"succeeded","permanent":true}"#,  // a field it does not read
        #"{"task":"g1.2","attempt":1,"token":"t","drone":"d","outcome":"succeeded","usage":{"model":"m"}}"#,
        #"{"task":"g1.2","attempt":1,"token":"t","drone":"d","outcome":"succeeded","fork":[{"kind":"noop"}]}"#,
        #"{"task":"g1.2","attempt":1,"token":"t","drone":"d","outcome":"succeeded","output_blob":{"blob":"x","size":1}}"#,
        #"{"task":"g1.2","attempt":1,"attempt":2,"token":"t","drone":"d","outcome":"succeeded"}"#,  // a key twice
        #"{"task":"g1.2","attempt":1,"token":"t","drone":"d","outcome":"succeeded","wall_ms":1,"wall_ms":2}"#,
        #"{"task":"g1.2","token":"t","drone":"d","outcome":"succeeded"}"#,  // a key missing
        #"{"task":"g1.2","attempt":1,"token":"t","drone":"d","outcome":"succeeded"} x"#,
        #"{"task":"g1.2","attempt":1,"token":"t","drone":"d","outcome":"succeeded""#,
        "",
    ])
    func givesUpWhereInDoubtAndTheFallbackDecides(_ text: String) {
        #expect(TaskResult(fastJSON: Array(text.utf8)) == nil)
        #expect(Self.viaDecode(text) == Self.decoded(text))
    }

    @Test func whatTheDroneSendsReadsBack() throws {
        let plain = [
            TaskResult(task: "g1.0", attempt: 1, token: "a1", drone: "d-1", outcome: .succeeded, exitCode: 0, output: "", wallMillis: 3),
            TaskResult(task: "g1.0", attempt: 2, token: "a1", drone: "d-1", outcome: .failed, error: "exit status 1"),
            TaskResult(task: "g1.0", attempt: 1, token: "a1", drone: "d-1", outcome: .released, error: TaskResult.noFreeSlot),
        ]
        for r in plain {
            let bytes = try #require(r.fastJSON)
            #expect(TaskResult(fastJSON: bytes) == r)
        }
        // A result with more than the plain fields goes through JSONEncoder, and back through JSONDecoder whole.
        let usage = TaskResult(task: "g1.0", attempt: 1, token: "a1", drone: "d-1", outcome: .succeeded, output: "x",
                               usage: Usage(model: "m", promptTokens: 3, generatedTokens: 4, promptMillis: 1, generationMillis: 2))
        let bytes = Array(try JSONEncoder().encode(usage))
        #expect(TaskResult(fastJSON: bytes) == nil)
        #expect(try TaskResult.decode(bytes, decoder: JSONDecoder()) == usage)
    }
}
