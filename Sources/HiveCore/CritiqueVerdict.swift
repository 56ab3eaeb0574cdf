import FoundationEssentials

/// A critic's judgement of one candidate: a score from 0 to 10 and the reasons, read from the critic's output.
///
/// Critics are untrusted text generators. Model critics are asked for `{"score": N, "reasons": "…"}` and
/// constrained to `schema` by the drone's grammar; anything else is read leniently (the first JSON object in the
/// text, else the first number) and a critic that gives no score in 0…10 simply does not count.
public struct CritiqueVerdict: Codable, Sendable, Equatable {
    public var score: Double
    public var reasons: String

    public init(score: Double, reasons: String) {
        self.score = score
        self.reasons = reasons
    }

    /// The JSON Schema critics' output is constrained to.
    public static let schema = """
        {"type":"object","properties":{"score":{"enum":[0,1,2,3,4,5,6,7,8,9,10]},\
        "reasons":{"type":"string","maxLength":400}},"required":["score","reasons"]}
        """

    private struct Wire: Decodable {
        var score: Double
        var reasons: String?
    }

    /// The verdict in a critic's output, or nil when it holds no usable score.
    public static func parse(_ text: String) -> CritiqueVerdict? {
        if let open = text.firstIndex(of: "{"), let close = text.lastIndex(of: "}"), open < close,
           let w = try? JSONDecoder().decode(Wire.self, from: Data(text[open...close].utf8)) {
            return (0...10).contains(w.score) ? CritiqueVerdict(score: w.score, reasons: w.reasons ?? "") : nil
        }
        var digits = ""
        for ch in text {
            if ch.isNumber || (ch == "." && !digits.isEmpty) { digits.append(ch) } else if !digits.isEmpty { break }
        }
        guard let s = Double(digits), (0...10).contains(s) else { return nil }
        return CritiqueVerdict(score: s, reasons: ControlState.trimmed(text))
    }
}
