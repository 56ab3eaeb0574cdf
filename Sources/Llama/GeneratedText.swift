/// A sequence's output bytes as tokens arrive: stop strings end it, and a token that ends mid-character is held
/// back from the text until the character is complete.
struct GeneratedText {
    private(set) var bytes: [UInt8] = []
    private let stops: [[UInt8]]

    init(stops: [String]) {
        self.stops = stops.filter { !$0.isEmpty }.map { Array($0.utf8) }
    }

    /// Appends a token's bytes; true when a stop string now appears (the bytes are cut where it begins).
    mutating func append(_ piece: [UInt8]) -> Bool {
        bytes.append(contentsOf: piece)
        guard let cut = Self.firstStop(stops, in: bytes) else { return false }
        bytes.removeSubrange(cut...)
        return true
    }

    var text: String { Self.completeUTF8(bytes) }

    /// Where the earliest stop string begins, if any.
    static func firstStop(_ stops: [[UInt8]], in bytes: [UInt8]) -> Int? {
        var best: Int?
        for s in stops where s.count <= bytes.count {
            let from = max(0, bytes.count - s.count - 64)  // only the tail can have changed
            var i = from
            while i + s.count <= bytes.count {
                if bytes[i..<(i + s.count)].elementsEqual(s) {
                    best = min(best ?? i, i)
                    break
                }
                i += 1
            }
        }
        return best
    }

    /// The text, without a trailing partial UTF-8 character (a token can end mid-character).
    static func completeUTF8(_ bytes: [UInt8]) -> String {
        var i = bytes.count - 1
        var continuation = 0
        while i >= 0 && bytes[i] & 0xC0 == 0x80 && continuation < 3 {
            i -= 1
            continuation += 1
        }
        if i >= 0 {
            let lead = bytes[i]
            let length = lead < 0x80 ? 1 : lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1
            if continuation + 1 < length { return String(decoding: bytes[..<i], as: UTF8.self) }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
