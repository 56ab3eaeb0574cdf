/// Secrets honeycombd makes (session ids, CSRF tokens, drone credentials, its own control token): random bytes
/// from the system's CSPRNG (`getrandom`), written as lowercase hex.
public enum RandomToken {
    /// `bytes` random bytes (rounded up to whole 8-byte words) as `2 * bytes` hex digits.
    public static func hex(bytes: Int = 32) -> String {
        var rng = SystemRandomNumberGenerator()
        var out = ""
        out.reserveCapacity(2 * bytes + 16)
        for _ in 0..<((max(1, bytes) + 7) / 8) {
            let hex = String(rng.next(), radix: 16)
            out += String(repeating: "0", count: 16 - hex.count) + hex
        }
        return String(out.prefix(2 * max(1, bytes)))
    }
}
