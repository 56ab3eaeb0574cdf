import Testing
import NATSWire

@Suite struct ByteKeyTableTests {
    @Test func behavesLikeADictionaryThroughGrowthAndRemoval() {
        var table = ByteKeyTable<Int>()
        var model: [String: Int] = [:]
        var rng = SystemRandomNumberGenerator()
        for step in 0..<5000 {
            let key = "k\(rng.next() % 300)"
            if rng.next() % 3 == 0 {
                let removed = withBytes(key) { table.remove($0) }
                #expect(removed == model.removeValue(forKey: key), "step \(step)")
            } else {
                withBytes(key) { table.set(step, for: $0) }
                model[key] = step
            }
        }
        #expect(table.count == model.count)
        for (k, v) in model { #expect(withBytes(k) { table.value(for: $0) } == v) }
        for i in 300..<400 { #expect(withBytes("k\(i)") { table.value(for: $0) } == nil) }
    }
}
