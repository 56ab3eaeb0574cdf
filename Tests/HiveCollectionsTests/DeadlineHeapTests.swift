import HiveCollections
import Testing

@Suite struct DeadlineHeapTests {
    @Test func popsInDeadlineOrderOnlyWhatIsDue() {
        var heap = DeadlineHeap<Int64, String>()
        var rng = SystemRandomNumberGenerator()
        var pushed: [Int64] = []
        for i in 0..<1_000 {
            let d = Int64.random(in: 0..<500, using: &rng)
            pushed.append(d)
            heap.push(d, "k\(i)")
        }
        var popped: [Int64] = []
        while let e = heap.popDue(before: 250) { popped.append(e.deadline) }
        #expect(popped == pushed.filter { $0 < 250 }.sorted())
        #expect(heap.count == pushed.count - popped.count)
        #expect(heap.popDue(before: 250) == nil)
    }

    @Test func removeAllWhereKeepsTheOrder() {
        var heap = DeadlineHeap<UInt64, Int>()
        for i in 0..<500 { heap.push(UInt64((i * 7919) % 500), i) }
        heap.removeAll { $0.key % 3 == 0 }
        var popped: [UInt64] = []
        while let e = heap.popDue(before: .max) {
            #expect(e.key % 3 != 0)
            popped.append(e.deadline)
        }
        #expect(popped == popped.sorted())
        #expect(popped.count == (0..<500).filter { $0 % 3 != 0 }.count)
    }
}
