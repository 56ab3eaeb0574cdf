import Foundation
import HiveCore
import Testing
@testable import Honeycomb

/// List replies page by count and by bytes (`ReplyPage`), so no reply outgrows one bus message.
@Suite struct ReplyPageTests {
    let encoder: JSONEncoder = {
        let e = JSONEncoder()
        e.outputFormatting = .sortedKeys
        return e
    }()

    func page(_ items: [String], offset: Int = 0, limit: Int = 1_000, budget: Int) throws -> (items: [String], page: ReplyPage) {
        try ReplyPage.array(items[offset...], offset: offset, total: items.count, limit: limit, budget: budget,
                            encoder: encoder, what: "item").get()
    }

    @Test func aPageStopsAtItsByteBudgetAndNamesTheNextOffset() throws {
        let items = (0..<10).map { String(repeating: "\($0)", count: 98) }  // 100 bytes each as JSON
        let (taken, p) = try page(items, budget: 350)
        #expect(taken.count == 3 && p.body.count <= 350 && p.next == "3")
        #expect(try JSONDecoder().decode([String].self, from: Data(p.body)) == Array(items[0..<3]))
        let (rest, last) = try page(items, offset: 9, budget: 350)
        #expect(rest == [items[9]] && last.next == nil)
    }

    @Test func aPageStopsAtItsLimit() throws {
        let (taken, p) = try page(["a", "b", "c"], limit: 2, budget: 1 << 20)
        #expect(taken == ["a", "b"] && p.next == "2")
    }

    @Test func anItemThatCannotFitAloneIsAnErrorNamingTheLimit() {
        let r = ReplyPage.array([String(repeating: "x", count: 5_000)], offset: 0, total: 1, limit: 10, budget: 1_000,
                                encoder: encoder, what: "goal")
        guard case .failure(let e) = r else { Issue.record("a 5 KB item fit a 1 KB page"); return }
        #expect(e.error.contains("goal 0 is 5002 bytes, more than one reply can carry (1000 bytes"))
    }

    @Test func cursorsAndLimitsOutsideTheListAreRefused() {
        #expect((try? Paging.offset("7", count: 5).get()) == nil)
        #expect((try? Paging.offset("-1", count: 5).get()) == nil)
        #expect((try? Paging.offset("99999999999999999999999", count: 5).get()) == nil)
        #expect((try? Paging.offset("5", count: 5).get()) == 5)
        #expect((try? Paging.limit(0).get()) == nil)
        #expect((try? Paging.limit(Int.max).get()) == nil)
        #expect((try? Paging.limit(nil).get()) == Paging.defaultLimit)
    }
}
