import FoundationEssentials
import HiveCore
import Testing

/// `TaskProduct` is the one shape of what an attempt produced; the wire (`TaskResult`), the journal (`TaskOutput`)
/// and the API (`TaskView`) carry it flattened, with the keys they had before it existed.
@Suite struct TaskProductTests {
    /// Every field set. A field added to `TaskProduct` must be set here too (the first test fails until it is), and
    /// the round trips below then prove each carrier writes and reads it.
    static let everyField = TaskProduct(exitCode: 3, output: "out \"é\"", error: "boom", wallMillis: 12,
                                        usage: Usage(model: "m", promptTokens: 5, generatedTokens: 7, promptMillis: 1.5,
                                                     generationMillis: 2),
                                        permanent: true, fuel: 99,
                                        outputBlob: StoredBlob(blob: "sha256:" + String(repeating: "ab", count: 32), size: 70_000))

    /// Each field alone (the fast writers must either write it or leave the whole value to `JSONEncoder`).
    static var eachFieldAlone: [TaskProduct] {
        let all = everyField
        return [TaskProduct(exitCode: all.exitCode), TaskProduct(output: all.output), TaskProduct(error: all.error),
                TaskProduct(wallMillis: all.wallMillis), TaskProduct(usage: all.usage), TaskProduct(permanent: all.permanent),
                TaskProduct(fuel: all.fuel), TaskProduct(outputBlob: all.outputBlob)]
    }

    static func sorted(_ value: some Encodable) throws -> String {
        let e = JSONEncoder()
        e.outputFormatting = .sortedKeys
        return String(decoding: try e.encode(value), as: UTF8.self)
    }

    @Test func theFixturesCoverEveryField() {
        #expect(Self.eachFieldAlone.count == Mirror(reflecting: Self.everyField).children.count, "a field is missing from eachFieldAlone")
        for child in Mirror(reflecting: Self.everyField).children {
            let value = Mirror(reflecting: child.value)
            #expect(value.displayStyle != .optional || !value.children.isEmpty, "everyField leaves \(child.label ?? "?") unset")
        }
    }

    /// The bytes the synthesized coders wrote before `TaskProduct` existed (sorted keys, as the journal writes).
    @Test func carriersWriteTheProductFlatWithTheirOldKeys() throws {
        let usage = #""usage":{"generated_tokens":7,"generation_ms":2,"model":"m","prompt_ms":1.5,"prompt_tokens":5}"#
        let result = TaskResult(task: "g1.1", attempt: 2, token: "t", drone: "d", outcome: .failed, product: Self.everyField)
        #expect(try Self.sorted(result) == #"{"attempt":2,"drone":"d","error":"boom","exit_code":3,"fuel":99,"outcome":"failed","#
            + #""output":"out \"é\"","output_blob":{"blob":"sha256:abababababababababababababababababababababababababababababababab","size":70000},"permanent":true,"task":"g1.1","token":"t",\#(usage),"wall_ms":12}"#)
        let output = TaskOutput(drone: "d", product: Self.everyField, tier: .core, cost: 0.5)
        #expect(try Self.sorted(output) == #"{"cost":0.5,"drone":"d","error":"boom","exit_code":3,"fuel":99,"output":"out \"é\"","#
            + #""output_blob":{"blob":"sha256:abababababababababababababababababababababababababababababababab","size":70000},"permanent":true,"tier":"core",\#(usage),"wall_ms":12}"#)
        #expect(try Self.sorted(TaskOutput(drone: "d", output: "x")) == #"{"drone":"d","output":"x"}"#)
        #expect(try Self.sorted(Self.everyField) == #"{"error":"boom","exit_code":3,"fuel":99,"output":"out \"é\"","output_blob":{"blob":"sha256:abababababababababababababababababababababababababababababababab","size":70000},"permanent":true,"#
            + #"\#(usage),"wall_ms":12}"#)
    }

    @Test func everyCarrierRoundTripsEveryField() throws {
        let d = JSONDecoder()
        let result = TaskResult(task: "g1.1", attempt: 2, token: "t", drone: "d", outcome: .succeeded, product: Self.everyField,
                                fork: [TaskSpec(kind: "noop")], join: .any)
        #expect(try d.decode(TaskResult.self, from: JSONEncoder().encode(result)) == result)
        let output = TaskOutput(drone: "d", product: Self.everyField, tier: .edge, cost: 1)
        #expect(try d.decode(TaskOutput.self, from: JSONEncoder().encode(output)) == output)
        #expect(try d.decode(TaskProduct.self, from: JSONEncoder().encode(Self.everyField)) == Self.everyField)
        let view = try d.decode(TaskView.self, from: Data(#"{"task":"g1.1","index":0,"depth":1,"kind":"exec","state":"dead","attempts":1}"#.utf8))
        var full = view
        full.product = Self.everyField
        let again = try d.decode(TaskView.self, from: JSONEncoder().encode(full))
        #expect(again == full && again.exitCode == 3 && again.fuel == 99)
        #expect(view.product == TaskProduct())
    }

    @Test func carriersReadAndWriteTheProductsFieldsAsTheirOwn() {
        var r = TaskResult(task: "g1.1", attempt: 1, token: "t", drone: "d", outcome: .succeeded, output: "x")
        #expect(r.output == "x" && r.product.output == "x")
        r.fuel = 5
        #expect(r.product.fuel == 5)
        var o = TaskOutput(drone: "d", product: r.product)
        o.error = "why"
        #expect(o.product.error == "why" && o.fuel == 5)
    }

    /// The hand-written JSON on the hot path (the drone's result, the journal's `taskFinished`) decodes to the same
    /// value for every field, written by hand or left to `JSONEncoder`; the plain fields stay on the fast path.
    @Test func fastJSONLosesNoField() throws {
        let d = JSONDecoder()
        for p in Self.eachFieldAlone + [Self.everyField] {
            let r = TaskResult(task: "g1.1", attempt: 1, token: "t", drone: "d", outcome: .failed, product: p)
            let wire = try r.fastJSON ?? Array(JSONEncoder().encode(r))
            #expect(try d.decode(TaskResult.self, from: Data(wire)) == r)
            let e = JournalEvent.taskFinished(.init(task: "g1.1", attempt: 1, succeeded: false,
                                                    output: TaskOutput(drone: "d", product: p, tier: .worker), at: 5))
            let line = try e.fastJSON ?? Array(JSONEncoder().encode(e))
            #expect(try d.decode(JournalEvent.self, from: Data(line)) == e)
        }
        let plain = TaskProduct(exitCode: 0, output: "x", error: "e", wallMillis: 1)
        #expect(TaskResult(task: "g1.1", attempt: 1, token: "t", drone: "d", outcome: .succeeded, product: plain).fastJSON != nil)
        #expect(JournalEvent.taskFinished(.init(task: "g1.1", attempt: 1, succeeded: true, output: TaskOutput(drone: "d", product: plain),
                                                at: 1)).fastJSON != nil)
        #expect(JournalEvent.taskFinished(.init(task: "g1.1", attempt: 1, succeeded: true,
                                                output: TaskOutput(drone: "d", product: plain, cost: 2), at: 1)).fastJSON == nil)
    }

    @Test func clampedBoundsADronesNumbers() {
        let hostile = TaskProduct(wallMillis: -5, usage: Usage(model: "m", promptTokens: -1, generatedTokens: .max,
                                                                promptMillis: .nan, generationMillis: -.infinity),
                                  fuel: .min)
        let c = hostile.clamped()
        #expect(c.wallMillis == 0 && c.fuel == 0)
        #expect(c.usage == Usage(model: "m", promptTokens: 0, generatedTokens: 1 << 40, promptMillis: 0, generationMillis: 0))
        #expect(TaskProduct(wallMillis: .max, fuel: .max).clamped() == TaskProduct(wallMillis: 1 << 40, fuel: 1 << 62))
    }
}
