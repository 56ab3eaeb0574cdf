import FoundationEssentials
import HiveCore

/// A stretch of `journal.log` that held no intact record: its place, its size, why, and the goal and task ids
/// readable in its bytes (best effort: the bytes are damaged, so this names what the lost records probably touched).
public struct JournalDamage: Sendable, Equatable {
    public var offset: Int
    public var length: Int
    public var reason: String
    public var goals: [String]
    public var tasks: [String]
}

/// Reads a journal's records, skipping damage instead of stopping at it.
///
/// Records are `[u32 length][u32 crc32][JSON event]`. A record whose checksum fails, whose length is impossible or
/// whose JSON does not decode is *damage*: the scan looks for the next offset where an intact record starts (a
/// plausible length, a `{`, a matching CRC-32: a false match is a 1 in 2^32 event) and goes on from there, so one
/// flipped byte costs one record, not every record after it. Only a torn tail — an incomplete last record, what a
/// crash in the middle of an append leaves — is reported as such; those bytes were never acknowledged.
public struct JournalScan {
    /// Largest record the writer produces (a goal spec is bounded far below this).
    public static let maxRecordBytes = 64 << 20

    public var events: [JournalEvent] = []
    /// Byte ranges of the intact records, in order (to rewrite a clean journal).
    public var intact: [Range<Int>] = []
    public var damage: [JournalDamage] = []
    /// Offset where a torn last record starts, if the file ends in one.
    public var tornTailAt: Int?
    /// Goal ids readable in the torn tail's bytes (a damaged length field on the last record looks torn too).
    public var tornTailGoals: [String] = []

    public init(_ bytes: [UInt8]) {
        let decoder = JSONDecoder()
        bytes.withUnsafeBytes { buf in
            var offset = 0
            while offset < buf.count {
                switch Self.record(at: offset, in: buf, decoder) {
                case .intact(let event, let end):
                    events.append(event)
                    intact.append(offset..<end)
                    offset = end
                case .torn:
                    // Incomplete, and nothing intact follows: the tail of an interrupted append.
                    if Self.nextIntact(after: offset, in: buf, decoder) == nil {
                        tornTailAt = offset
                        tornTailGoals = Self.idsMentioned(in: UnsafeRawBufferPointer(rebasing: buf[offset...])).goals
                        return
                    }
                    offset = skipDamage(from: offset, reason: "record length runs past the end of the file", buf, decoder)
                case .bad(let reason):
                    offset = skipDamage(from: offset, reason: reason, buf, decoder)
                }
            }
        }
    }

    private mutating func skipDamage(from offset: Int, reason: String, _ buf: UnsafeRawBufferPointer,
                                     _ decoder: JSONDecoder) -> Int {
        let end = Self.nextIntact(after: offset, in: buf, decoder) ?? buf.count
        let region = UnsafeRawBufferPointer(rebasing: buf[offset..<end])
        let (goals, tasks) = Self.idsMentioned(in: region)
        damage.append(JournalDamage(offset: offset, length: end - offset, reason: reason, goals: goals, tasks: tasks))
        return end
    }

    enum Found {
        case intact(JournalEvent, end: Int)
        case torn
        case bad(String)
    }

    static func record(at offset: Int, in buf: UnsafeRawBufferPointer, _ decoder: JSONDecoder) -> Found {
        let remaining = buf.count - offset
        guard remaining >= 8 else { return .torn }
        let length = Int(buf.loadUnaligned(fromByteOffset: offset, as: UInt32.self).littleEndian)
        let crc = buf.loadUnaligned(fromByteOffset: offset + 4, as: UInt32.self).littleEndian
        guard length <= maxRecordBytes else { return .bad("impossible record length \(length)") }
        guard length <= remaining - 8 else { return .torn }
        let payload = UnsafeRawBufferPointer(rebasing: buf[(offset + 8)..<(offset + 8 + length)])
        guard CRC32.checksum(payload) == crc else { return .bad("checksum mismatch") }
        guard let event = try? decoder.decode(JournalEvent.self, from: Data(payload)) else {
            return .bad("checksum matches but the event does not decode (unknown kind or corrupt JSON)")
        }
        return .intact(event, end: offset + 8 + length)
    }

    /// The first offset after `offset` where an intact record starts.
    static func nextIntact(after offset: Int, in buf: UnsafeRawBufferPointer, _ decoder: JSONDecoder) -> Int? {
        var p = offset + 1
        while p + 9 <= buf.count {
            // Cheap filters first: every event is a JSON object, and its length must fit in the file.
            if buf[p + 8] == UInt8(ascii: "{") {
                let length = Int(buf.loadUnaligned(fromByteOffset: p, as: UInt32.self).littleEndian)
                if length >= 2 && length <= min(maxRecordBytes, buf.count - p - 8),
                   case .intact = record(at: p, in: buf, decoder) {
                    return p
                }
            }
            p += 1
        }
        return nil
    }

    /// Goal ids (`"goal":"g12"`) and task ids (`"task":"g12.3"`) written in damaged bytes.
    static func idsMentioned(in bytes: UnsafeRawBufferPointer) -> (goals: [String], tasks: [String]) {
        let text = String(decoding: bytes, as: UTF8.self)
        var goals = Set<String>(), tasks = Set<String>()
        for (key, into) in [("\"goal\":\"", 0), ("\"task\":\"", 1)] {
            var rest = text[...]
            while let r = rest.range(of: key) {
                let after = rest[r.upperBound...]
                let value = after.prefix { $0 != "\"" && $0 != "\\" }
                if !value.isEmpty && value.count <= 64 && after.dropFirst(value.count).first == "\"" {
                    if into == 0 { goals.insert(String(value)) } else { tasks.insert(String(value)) }
                }
                rest = after
            }
        }
        // A task id names its goal too.
        for t in tasks { if let dot = t.firstIndex(of: ".") { goals.insert(String(t[..<dot])) } }
        return (goals.sorted(), tasks.sorted())
    }
}
