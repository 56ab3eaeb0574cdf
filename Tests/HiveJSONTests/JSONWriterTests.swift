import HiveJSON
import Testing

@Suite struct JSONWriterEscapingTests {
    @Test func quotedEscapesQuotesBackslashesAndControlCharacters() {
        #expect(JSONWriter.quoted("plain é ✓") == "\"plain é ✓\"")
        #expect(JSONWriter.quoted("a\"b\\c") == #""a\"b\\c""#)
        #expect(JSONWriter.quoted("\n\r\t") == #""\n\r\t""#)
        #expect(JSONWriter.quoted("\u{0}\u{1}\u{1f}\u{7f}") == "\"\\u0000\\u0001\\u001f\u{7f}\"")
    }

    @Test func objectsWriteCommasKeysAndNestedValues() {
        var w = JSONWriter()
        w.beginObject()
        w.field("s", "x"); w.field("n", -3); w.field("b", true); w.optional("absent", nil as String?)
        w.key("o"); w.beginObject(); w.field("k", ["a", "b"]); w.endObject()
        w.field("m", ["z": "1", "a": "2"])
        w.endObject()
        #expect(w.text == #"{"s":"x","n":-3,"b":true,"o":{"k":["a","b"]},"m":{"a":"2","z":"1"}}"#)
    }
}
