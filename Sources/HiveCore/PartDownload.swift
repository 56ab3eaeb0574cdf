import FoundationEssentials

/// The one reader of content honeycombd sends in parts (`blob_get`, `module_get`): drones fetch task inputs and
/// modules through it, `hive result --output-dir` fetches task outputs. Each reply carries the whole size in a
/// header; the next request asks from where the bytes so far end.
///
/// The replies are untrusted: the whole is bounded by `limit` before more is read (a size claimed past it stops
/// the fetch at once), a size that changes between parts is refused, and a part that adds nothing before the end
/// is an error, so every request adds at least one byte and a fetch ends within `limit + 1` requests whatever the
/// server says. The caller checks
/// the hash of what comes back.
public enum PartDownload {
    /// One reply: its payload and the size header's value (nil when the reply has none).
    public struct Reply: Sendable {
        public var payload: [UInt8]
        public var size: Int?
        public init(payload: [UInt8], size: Int?) {
            self.payload = payload
            self.size = size
        }
    }

    /// What is fetched, for errors: `noun` (`blob`, `module`) and its name, and the flag that sets `limit`.
    public struct Item: Sendable {
        public var noun: String
        public var name: String
        public var limitFlag: String
        public init(noun: String, name: String, limitFlag: String) {
            self.noun = noun
            self.name = name
            self.limitFlag = limitFlag
        }
        var what: String { "\(noun) \(name)" }
    }

    /// Fetches `item` in parts: `request(offset)` sends one request (nil: from the start) and returns its reply.
    /// `sizeRequired`: every reply carries the size, so one without it is honeycombd's error (`APIError`, thrown
    /// as sent, kind and all), whatever the content's own bytes look like; otherwise a reply without a size is the
    /// whole content (an older honeycombd sending a module whole), and an error is told by its leading `{`.
    public static func fetch(_ item: Item, limit: Int, sizeRequired: Bool,
                             request: (Int?) async throws -> Reply) async throws -> [UInt8] {
        var bytes: [UInt8] = []
        var declared: Int?
        while true {
            let reply = try await request(bytes.isEmpty ? nil : bytes.count)
            if sizeRequired ? reply.size == nil : reply.payload.first == UInt8(ascii: "{"),
               let e = try? JSONDecoder().decode(APIError.self, from: Data(reply.payload)) {
                throw e
            }
            if sizeRequired, reply.size == nil { throw APIError("\(item.what): honeycombd's reply has no size") }
            if let size = reply.size {
                guard size >= 0 else { throw APIError("\(item.what): honeycombd claims a size of \(size) bytes") }
                if let d = declared, d != size { throw APIError("\(item.what): honeycombd said \(d) bytes, then \(size)") }
                declared = size
            }
            // The limit before the bytes are kept: a claimed size or a part past it ends the fetch here.
            let total = bytes.count &+ reply.payload.count
            if total > limit || (reply.size ?? 0) > limit {
                throw APIError("\(item.what) is \(Swift.max(total, reply.size ?? 0)) bytes; at most \(limit) bytes are fetched\(item.limitFlag.isEmpty ? "" : " (\(item.limitFlag))")")
            }
            bytes += reply.payload
            guard let size = reply.size, bytes.count < size else {
                if let size = reply.size, bytes.count > size { throw APIError("\(item.what): honeycombd sent \(bytes.count) bytes of \(size)") }
                return bytes
            }
            if reply.payload.isEmpty { throw APIError("\(item.what): honeycombd sent \(bytes.count) of \(size) bytes, then nothing") }
        }
    }
}
