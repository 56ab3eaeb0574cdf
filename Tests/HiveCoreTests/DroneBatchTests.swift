import FoundationEssentials
import HiveCore
import Testing

/// Assignments and results read by hand (`DroneBatch`) agree with `JSONDecoder`, one per message or in lists; a
/// list's entries are judged one by one, and a hostile list is clamped to the reader's limit, never a crash.
@Suite struct DroneBatchTests {
    static let assignments = [
        Assignment(task: "g1.1", goal: "g1", attempt: 1, token: "9f3a", kind: "noop", input: TaskInput(), index: 0, timeoutMillis: 60_000),
        Assignment(task: "g1.2", goal: "g1", attempt: 3, token: "ab", kind: "exec",
                   input: TaskInput(command: "/bin/echo", args: ["a", "b c"], stdin: "x", sleepMillis: 5, text: "t"), index: 7,
                   timeoutMillis: -4, traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"),
        Assignment(task: "g2.1", goal: "g2", attempt: 1, token: "c", kind: "noop", input: nil, index: 1, timeoutMillis: 1),
    ]
    static let results = [
        TaskResult(task: "g1.1", attempt: 1, token: "9f3a", drone: "d1", outcome: .succeeded, wallMillis: 0),
        TaskResult(task: "g1.2", attempt: 3, token: "ab", drone: "d1", outcome: .failed, exitCode: -1, output: "out", error: "boom", wallMillis: 12),
        TaskResult(task: "g2.1", attempt: 1, token: "c", drone: "d1", outcome: .released, error: TaskResult.noFreeSlot),
    ]

    @Test func plainAssignmentsReadAsJSONDecoderReadsThem() throws {
        for a in Self.assignments {
            let bytes = a.fastJSON
            let read = DroneBatch.assignments(bytes, limit: 64)
            #expect(read.entries == [a] && !read.isList && read.unreadable == 0)
            #expect(read.entries == [try JSONDecoder().decode(Assignment.self, from: Data(bytes))])
        }
        let list = DroneBatch.assignments(DroneBatch.json(Self.assignments), limit: 64)
        #expect(list.isList && list.entries == Self.assignments)
        #expect(list.entries == (try JSONDecoder().decode([Assignment].self, from: Data(DroneBatch.json(Self.assignments)))))
    }

    @Test func plainResultsReadAsJSONDecoderReadsThem() throws {
        var traced = Self.results
        traced[0].traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
        traced[0].spanTime = "1 2"
        for r in traced {
            let bytes = try #require(r.fastJSON)
            #expect(DroneBatch.results(bytes, limit: 8).entries == [r])
            #expect(try JSONDecoder().decode(TaskResult.self, from: Data(bytes)) == r)
        }
        let bytes = DroneBatch.json(traced)
        #expect(DroneBatch.results(bytes, limit: 8).entries == traced)
        #expect(try JSONDecoder().decode([TaskResult].self, from: Data(bytes)) == traced)
    }

    /// What the hand reader does not take (an escape, usage, a fork, a number it cannot hold exactly, a key twice)
    /// goes to `JSONDecoder`: same entries, in order.
    @Test func entriesBeyondThePlainFormFallBackToJSONDecoder() throws {
        var fancy = Self.results
        fancy[1].output = "line\n\"quoted\""
        fancy[2].usage = Usage(model: "m", promptTokens: 3, generatedTokens: 4, promptMillis: 1, generationMillis: 2)
        fancy.append(TaskResult(task: "g3.1", attempt: 1, token: "t", drone: "d1", outcome: .succeeded,
                                fork: [TaskSpec(kind: "noop")], join: .all))
        let read = DroneBatch.results(DroneBatch.json(fancy), limit: 8)
        #expect(read.entries == fancy && read.unreadable == 0)
        let big = Array(#"{"task":"g1.1","attempt":12345678901234567890,"token":"t","drone":"d","outcome":"failed"}"#.utf8)
        #expect(DroneBatch.results(big, limit: 1).entries.isEmpty)  // JSONDecoder refuses it too: an Int overflow
        let twice = Array(#"{"task":"a","task":"b","attempt":1,"token":"t","drone":"d","outcome":"failed"}"#.utf8)
        #expect(DroneBatch.results(twice, limit: 1).entries.map(\.task) == (try? JSONDecoder().decode(TaskResult.self, from: Data(twice))).map { [$0.task] } ?? [])
        for number in ["1.0", "1e2", "01", "-", "+1"] {
            let odd = Array(#"{"task":"a","attempt":\#(number),"token":"t","drone":"d","outcome":"failed"}"#.utf8)
            #expect(DroneBatch.results(odd, limit: 1).entries.map(\.attempt) == (try? JSONDecoder().decode(TaskResult.self, from: Data(odd))).map { [$0.attempt] } ?? [])
        }
    }

    @Test func anUnreadableEntryIsRefusedAloneAndTheOthersCount() {
        var text = "[" + Self.results.compactMap { $0.fastJSON.map { String(decoding: $0, as: UTF8.self) } }.joined(separator: ",")
        text += #",42,{"task":"x"},{"task":"g9.1","attempt":1,"token":"t","drone":"d1","outcome":"exploded"},null]"#
        let read = DroneBatch.results(Array(text.utf8), limit: 64)
        #expect(read.entries == Self.results)
        #expect(read.unreadable == 4 && read.overLimit == 0 && read.isList)
        #expect(DroneBatch.results(Array("{nope".utf8), limit: 64).unreadable == 1)
        #expect(DroneBatch.results(Array("[1,".utf8), limit: 64).unreadable == 1)
        #expect(DroneBatch.results([], limit: 64).unreadable == 1)
        #expect(DroneBatch.results(Array("[]".utf8), limit: 64).entries.isEmpty)
    }

    /// A million entries (and a hundred thousand plain ones, more than a bus message holds): the reader keeps its
    /// limit's worth and counts the rest.
    @Test func aMillionEntriesAreClampedToTheLimit() throws {
        let one = try #require(Self.results[0].fastJSON)
        var plain: [UInt8] = [UInt8(ascii: "[")]
        plain.reserveCapacity(100_000 * (one.count + 1) + 2)
        for i in 0..<100_000 {
            if i > 0 { plain.append(UInt8(ascii: ",")) }
            plain.append(contentsOf: one)
        }
        plain.append(UInt8(ascii: "]"))
        let read = DroneBatch.results(plain, limit: 256)
        #expect(read.entries.count == 256 && read.overLimit == 99_744 && read.unreadable == 0)
        let junk = Array(("[" + Array(repeating: "1", count: 1_000_000).joined(separator: ",") + "]").utf8)
        let refused = DroneBatch.results(junk, limit: 256)
        #expect(refused.entries.isEmpty && refused.unreadable == 256 && refused.overLimit == 999_744)
    }

    /// Lists are a thing both sides agree on in the hello: an older drone (no `batch`) gets no `batch` back, and a
    /// drone's number is clamped to honeycombd's limit whatever it says.
    @Test(arguments: [(nil, nil, nil), (1, nil, nil), (0, nil, nil), (-5, nil, nil), (Int.min, nil, nil), (2, 2, 256),
                      (64, 64, 256), (Int.max, 256, 256)] as [(Int?, Int?, Int?)])
    func helloNegotiatesLists(_ asked: Int?, _ kept: Int?, _ replied: Int?) {
        let state = ControlState()
        let hello = DroneHello(drone: "d1", name: "d1", tier: .worker, slots: 4, capabilities: ["backend:noop"], host: nil,
                               version: "test", batch: asked)
        let (reply, _) = state.hello(hello, now: 0)
        #expect(reply.accepted && reply.batch == replied)
        #expect(state.drones["d1"]?.batch == kept)
    }
}
