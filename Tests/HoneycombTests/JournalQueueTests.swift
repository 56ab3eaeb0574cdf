import HiveCore
import Testing
@testable import Honeycomb

/// What the journal writers take from their queue: records appended between snapshots merge into one group commit,
/// in order, and a snapshot covers exactly the records queued before it.
@Suite struct JournalQueueTests {
    static func expired(_ i: Int) -> JournalEvent {
        .taskExpired(.init(task: "g1.\(i)", attempt: 1, reason: "r", countsAttempt: true, at: Int64(i)))
    }

    static func tasks(_ items: [JournalQueue.Item]) -> [[String]] {
        items.map {
            switch $0 {
            case .records(let events): return events.map { $0.aboutTask ?? "?" }
            case .snapshot: return ["snapshot"]
            }
        }
    }

    @Test func appendsMergeInOrderUntilASnapshot() {
        var q = JournalQueue()
        var seqs: [UInt64] = []
        for i in 0..<1_000 { seqs.append(q.append([Self.expired(2 * i), Self.expired(2 * i + 1)])) }
        #expect(q.append([]) == 1_000)  // nothing to queue: the last sequence
        q.compact(ControlState(config: ControlConfig()).snapshot())
        seqs.append(q.append([Self.expired(2_000)]))
        #expect(seqs == Array(1...1_000).map(UInt64.init) + [1_002])  // the snapshot took 1,001
        let (items, seq) = q.takeAll()
        #expect(seq == 1_002)
        #expect(Self.tasks(items) == [(0..<2_000).map { "g1.\($0)" }, ["snapshot"], ["g1.2000"]])
        #expect(q.takeAll().items.isEmpty)
    }
}
