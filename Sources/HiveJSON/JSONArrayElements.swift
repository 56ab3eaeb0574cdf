/// Where the elements of a top-level JSON array lie, found without decoding them: one pass over the bytes that
/// follows strings (and their escapes) and nesting by counting, never by recursion, so any depth costs nothing.
/// It lets a reader decode the first elements of a list one by one (an unreadable one refused alone) and count the
/// rest without reading them: a hostile list of a million entries costs one scan, not a million decodes.
///
/// It checks structure only (quotes and brackets balanced, commas between elements at the top); whether an element is
/// valid JSON is for its decoder to say.
public enum JSONArrayElements {
    /// The byte ranges of the first `limit` elements (white space trimmed; an empty element, as in `[1,,2]`, is an
    /// empty range) and how many elements follow them; nil when the bytes are not one array with balanced brackets
    /// and nothing after it.
    public static func split(_ bytes: [UInt8], limit: Int) -> (elements: [Range<Int>], beyond: Int)? {
        var i = 0
        func isSpace(_ b: UInt8) -> Bool { b == 0x20 || b == 0x0A || b == 0x0D || b == 0x09 }
        while i < bytes.count, isSpace(bytes[i]) { i += 1 }
        guard i < bytes.count, bytes[i] == UInt8(ascii: "[") else { return nil }
        i += 1
        var elements: [Range<Int>] = []
        var beyond = 0
        var depth = 0
        var start: Int?
        var end = i
        var inString = false
        var sawAny = false
        func close(_ at: Int) {
            let range = (start ?? at)..<(start == nil ? at : end)
            if elements.count < limit { elements.append(range) } else { beyond += 1 }
            start = nil
        }
        while i < bytes.count {
            let b = bytes[i]
            defer { i += 1 }
            if inString {
                if b == UInt8(ascii: "\\") {
                    i += 1
                } else if b == UInt8(ascii: "\"") {
                    inString = false
                    end = i + 1
                }
                continue
            }
            if isSpace(b) { continue }
            switch b {
            case UInt8(ascii: "\""):
                if start == nil { start = i }
                inString = true
            case UInt8(ascii: "["), UInt8(ascii: "{"):
                if start == nil { start = i }
                depth += 1
            case UInt8(ascii: "]") where depth == 0:
                if start != nil || sawAny { close(i) }
                var j = i + 1
                while j < bytes.count, isSpace(bytes[j]) { j += 1 }
                return j == bytes.count ? (elements, beyond) : nil
            case UInt8(ascii: "]"), UInt8(ascii: "}"):
                guard depth > 0 else { return nil }
                depth -= 1
                end = i + 1
            case UInt8(ascii: ",") where depth == 0:
                sawAny = true
                close(i)
            default:
                if start == nil { start = i }
                end = i + 1
            }
        }
        return nil
    }
}
