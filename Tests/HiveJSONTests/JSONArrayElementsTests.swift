import HiveJSON
import Testing

/// The elements of a top-level array found by one scan: strings with escapes, nesting, white space, a limit, and
/// what is not one balanced array.
@Suite struct JSONArrayElementsTests {
    static func texts(_ json: String, limit: Int = 100) -> ([String], Int)? {
        let bytes = Array(json.utf8)
        return JSONArrayElements.split(bytes, limit: limit).map { split in
            (split.elements.map { String(decoding: bytes[$0], as: UTF8.self) }, split.beyond)
        }
    }

    @Test func findsEachElementWhateverItHolds() throws {
        let (found, beyond) = try #require(Self.texts(#" [ 1 , "a,]\"}" ,{"x":[1,{"y":"]"}]}, [ [] ], null,-2.5e3 ] "#))
        #expect(found == ["1", #""a,]\"}""#, #"{"x":[1,{"y":"]"}]}"#, "[ [] ]", "null", "-2.5e3"])
        #expect(beyond == 0)
        #expect(Self.texts("[]")?.0 == [] && Self.texts(" [ ] ")?.0 == [])
        #expect(Self.texts("[1,,2]")?.0 == ["1", "", "2"])  // an empty element: for its decoder to refuse
        #expect(Self.texts("[1,]")?.0 == ["1", ""])
    }

    @Test func keepsTheLimitAndCountsTheRest() throws {
        let million = "[" + Array(repeating: #"{"a":"b"}"#, count: 1_000_000).joined(separator: ",") + "]"
        let (found, beyond) = try #require(Self.texts(million, limit: 256))
        #expect(found.count == 256 && found.allSatisfy { $0 == #"{"a":"b"}"# } && beyond == 999_744)
    }

    @Test func depthCostsNothing() throws {
        let deep = "[" + String(repeating: "[", count: 1_000_000) + String(repeating: "]", count: 1_000_000) + ",1]"
        let (found, _) = try #require(Self.texts(deep, limit: 2))
        #expect(found.count == 2 && found[1] == "1")
    }

    @Test(arguments: ["", "{}", "1", "[", "[1", #"["a]"#, "[}", "[1]]", "[1] x", "[{]", #"["\"]"#])
    func refusesWhatIsNotOneBalancedArray(_ json: String) {
        #expect(Self.texts(json) == nil)
    }
}
