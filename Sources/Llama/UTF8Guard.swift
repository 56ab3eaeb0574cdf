import CLlama

/// Keeps grammar-constrained output valid UTF-8, which llama.cpp's grammar does not: it decodes a token's bytes
/// leniently (a lead byte takes the next bytes whatever they are; overlong forms, surrogates and 0xF5–0xFF
/// leads pass), so a model picking byte tokens could write bytes the grammar counts as one character and every
/// UTF-8 decoder as several replacement characters (a 4-character `maxLength` string came back 7 long). The
/// guard tracks the bytes generated so far (Unicode's table of well-formed byte sequences) and refuses a token
/// whose bytes cannot continue them.
struct UTF8Guard: Equatable {
    /// Continuation bytes still owed by the last character, and the range the next one must fall in.
    private var need = 0
    private var low: UInt8 = 0x80
    private var high: UInt8 = 0xBF

    /// True when `bytes` continue the text well-formed; `mutating` steps past them only when they do.
    mutating func advance<S: Sequence<UInt8>>(over bytes: S) -> Bool {
        var next = self
        for b in bytes {
            if !next.step(b) { return false }
        }
        self = next
        return true
    }

    func allows<S: Sequence<UInt8>>(_ bytes: S) -> Bool {
        var copy = self
        return copy.advance(over: bytes)
    }

    /// Between characters (no partial character pending).
    var isComplete: Bool { need == 0 }

    private mutating func step(_ b: UInt8) -> Bool {
        if need > 0 {
            guard b >= low && b <= high else { return false }
            need -= 1
            (low, high) = (0x80, 0xBF)
            return true
        }
        switch b {
        case 0x00...0x7F: return true
        case 0xC2...0xDF: (need, low, high) = (1, 0x80, 0xBF)
        case 0xE0: (need, low, high) = (2, 0xA0, 0xBF)
        case 0xE1...0xEC, 0xEE...0xEF: (need, low, high) = (2, 0x80, 0xBF)
        case 0xED: (need, low, high) = (2, 0x80, 0x9F)
        case 0xF0: (need, low, high) = (3, 0x90, 0xBF)
        case 0xF1...0xF3: (need, low, high) = (3, 0x80, 0xBF)
        case 0xF4: (need, low, high) = (3, 0x80, 0x8F)
        default: return false
        }
        return true
    }
}

/// The bytes of a vocabulary's tokens, and which tokens are whole well-formed UTF-8 on their own (those continue
/// any text that is between characters; only the others need their bytes checked). The table is built on first
/// use, by the engine's thread (one `llama_token_to_piece` per token: tens of milliseconds for Gemma's 262k).
final class TokenTexts: @unchecked Sendable {
    private let vocab: OpaquePointer
    private var whole: [Bool] = []
    private var buffer = [CChar](repeating: 0, count: 256)

    init(vocab: OpaquePointer) { self.vocab = vocab }

    /// The token's bytes (special tokens: none).
    func bytes(_ token: Int32) -> [UInt8] {
        let n = fill(token)
        return buffer.prefix(n).map { UInt8(bitPattern: $0) }
    }

    /// Whether `token` may follow text in state `text`.
    func allows(_ token: Int32, after text: UTF8Guard) -> Bool {
        if text.isComplete && isWhole(token) { return true }
        return text.allows(bytes(token))
    }

    private func isWhole(_ token: Int32) -> Bool {
        if whole.isEmpty {
            let n = Int(llama_vocab_n_tokens(vocab))
            whole.reserveCapacity(n)
            for t in 0..<Int32(n) {
                let count = fill(t)
                var g = UTF8Guard()
                let ok = buffer.withUnsafeBytes { g.advance(over: $0.prefix(count)) }
                whole.append(ok && g.isComplete)
            }
        }
        return token >= 0 && Int(token) < whole.count && whole[Int(token)]
    }

    /// The token's bytes into `buffer`; their count.
    private func fill(_ token: Int32) -> Int {
        var n = llama_token_to_piece(vocab, token, &buffer, Int32(buffer.count), 0, false)
        if n < 0 {
            buffer = [CChar](repeating: 0, count: Int(0 &- n))
            n = llama_token_to_piece(vocab, token, &buffer, Int32(buffer.count), 0, false)
        }
        return Int(max(0, n))
    }
}
