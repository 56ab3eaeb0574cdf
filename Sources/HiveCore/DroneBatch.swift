import FoundationEssentials
import HiveJSON

/// Lists of assignments and results on the drone subjects, and how either side reads a message that may hold one.
///
/// A drone whose hello asks for them (`DroneHello.batch` ≥ 2) gets its assignments as a JSON array of `Assignment`
/// objects on `hive.v1.drone.<id>.task`, at most that many per message; when honeycombd's reply agrees
/// (`HelloReply.batch`, its `max_batch`), the drone sends its results as a JSON array of `TaskResult` objects on its
/// result subject, at most that many. Each entry holds what a single message would, its trace context included
/// (`traceparent`, `span_time`, which a single message carries in headers), and each is judged alone: an entry
/// that cannot be read, or one past the reader's limit, is refused by itself and the others still count. A reader
/// tells a list from a single object by its first byte, and neither side sends a list to a peer that did not ask
/// for one, so older drones and an older honeycombd keep working unchanged.
public enum DroneBatch {
    /// Default of `drone --batch` (assignments a drone takes in one message, and results it sends in one).
    public static let defaultDroneBatch = 64
    /// Default of honeycombd's `max_batch` (results it reads from one message, assignments it sends in one).
    public static let defaultMaxBatch = 256
    /// What either limit may be set to (1: no lists).
    public static let limits = 1...4_096

    /// What one message held.
    public struct Entries<Entry> {
        /// The entries read, in order, at most the reader's limit.
        public var entries: [Entry] = []
        /// Entries that could not be read (each refused alone).
        public var unreadable = 0
        /// Entries past the reader's limit (refused unread).
        public var overLimit = 0
        /// Whether the message was a list (a single object otherwise).
        public var isList = false
    }

    /// The assignments in a message from honeycombd (one object, or a list).
    public static func assignments(_ bytes: [UInt8], limit: Int) -> Entries<Assignment> {
        read(bytes, limit: limit, plain: Assignment.init(plain:))
    }

    /// The results in a message from a drone (one object, or a list).
    public static func results(_ bytes: [UInt8], limit: Int) -> Entries<TaskResult> {
        read(bytes, limit: limit, plain: TaskResult.init(plain:))
    }

    /// A list of assignments, each written as a single one would be (`Assignment.fastJSON`).
    public static func json(_ assignments: [Assignment]) -> [UInt8] {
        list(assignments.map(\.fastJSON))
    }

    /// A list of results, each written as a single one would be (`TaskResult.fastJSON`, or `JSONEncoder` for one
    /// that is not plain); a result that cannot be encoded at all is left out.
    public static func json(_ results: [TaskResult]) -> [UInt8] {
        let encoder = JSONEncoder()
        return list(results.compactMap { r in r.fastJSON ?? (try? encoder.encode(r)).map { Array($0) } })
    }

    private static func list(_ entries: [[UInt8]]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(entries.reduce(2) { $0 + $1.count + 1 })
        out.append(UInt8(ascii: "["))
        for (i, e) in entries.enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            out.append(contentsOf: e)
        }
        out.append(UInt8(ascii: "]"))
        return out
    }

    /// The hand reader for the plain form, `JSONDecoder` for the rest (a list entry by entry).
    static func read<Entry: Decodable>(_ bytes: [UInt8], limit: Int,
                                       plain: ([(key: String, value: PlainJSONReader.Member)]) -> Entry?) -> Entries<Entry> {
        var out = Entries<Entry>()
        let limit = max(1, limit)
        guard PlainJSONReader.isArray(bytes) else {
            var reader = PlainJSONReader(bytes)
            var fields: [(key: String, value: PlainJSONReader.Member)] = []
            if reader.object({ fields.append(($0, $1)); return true }) != nil, let e = plain(fields) {
                out.entries = [e]
            } else if let e = try? JSONDecoder().decode(Entry.self, from: Data(bytes)) {
                out.entries = [e]
            } else {
                out.unreadable = 1
            }
            return out
        }
        out.isList = true
        var reader = PlainJSONReader(bytes)
        let read = reader.objects { fields in
            guard out.entries.count < limit else {
                out.overLimit += 1
                return true
            }
            guard let e = plain(fields) else { return false }
            out.entries.append(e)
            return true
        }
        if read != nil { return out }
        // Not plain throughout: each of the first `limit` entries through JSONDecoder on its own, the rest counted
        // unread (one scan, whatever a hostile list holds).
        out = Entries(isList: true)
        guard let split = JSONArrayElements.split(bytes, limit: limit) else {
            out.unreadable = 1
            return out
        }
        let decoder = JSONDecoder()
        for range in split.elements {
            if let e = try? decoder.decode(Entry.self, from: Data(bytes[range])) {
                out.entries.append(e)
            } else {
                out.unreadable += 1
            }
        }
        out.overLimit = split.beyond
        return out
    }
}

extension Assignment {
    /// The plain form read by hand (`PlainJSONReader`): nil for anything else (an escape, a key it does not know or
    /// twice, an input beyond text, command, arguments, stdin, prompt, system and sleep), which `JSONDecoder` then
    /// reads.
    init?(plain fields: [(key: String, value: PlainJSONReader.Member)]) {
        var task, goal, token, kind, traceparent: String?
        var attempt, index, timeout: Int?
        var input: TaskInput?
        for (key, value) in fields {
            switch (key, value) {
            case ("task", .string(let s)) where task == nil: task = s
            case ("goal", .string(let s)) where goal == nil: goal = s
            case ("token", .string(let s)) where token == nil: token = s
            case ("kind", .string(let s)) where kind == nil: kind = s
            case ("traceparent", .string(let s)) where traceparent == nil: traceparent = s
            case ("attempt", .integer(let n)) where attempt == nil: attempt = n
            case ("index", .integer(let n)) where index == nil: index = n
            case ("timeout_ms", .integer(let n)) where timeout == nil: timeout = n
            case ("input", .object(let inner)) where input == nil:
                guard let i = TaskInput(plain: inner) else { return nil }
                input = i
            default: return nil
            }
        }
        guard let task, let goal, let token, let kind, let attempt, let index, let timeout else { return nil }
        self.init(task: task, goal: goal, attempt: attempt, token: token, kind: kind, input: input, index: index,
                  timeoutMillis: timeout, traceparent: traceparent)
    }
}

extension TaskInput {
    /// The inputs of no-op, sleep, exec and plain prompt tasks read by hand; nil for any other member.
    init?(plain fields: [(key: String, value: PlainJSONReader.Member)]) {
        self.init()
        var seen = Set<String>()
        for (key, value) in fields {
            guard seen.insert(key).inserted else { return nil }
            switch (key, value) {
            case ("text", .string(let s)): text = s
            case ("command", .string(let s)): command = s
            case ("stdin", .string(let s)): stdin = s
            case ("prompt", .string(let s)): prompt = s
            case ("system", .string(let s)): system = s
            case ("args", .strings(let list)): args = list
            case ("sleep_ms", .integer(let n)): sleepMillis = n
            default: return nil
            }
        }
    }
}

extension TaskResult {
    /// The plain form read by hand (what `fastJSON` writes, forks and usage aside); nil for anything else, which
    /// `JSONDecoder` then reads.
    init?(plain fields: [(key: String, value: PlainJSONReader.Member)]) {
        var task, token, drone, outcome, output, error, traceparent, spanTime: String?
        var attempt, exitCode, wall: Int?
        for (key, value) in fields {
            switch (key, value) {
            case ("task", .string(let s)) where task == nil: task = s
            case ("token", .string(let s)) where token == nil: token = s
            case ("drone", .string(let s)) where drone == nil: drone = s
            case ("outcome", .string(let s)) where outcome == nil: outcome = s
            case ("output", .string(let s)) where output == nil: output = s
            case ("error", .string(let s)) where error == nil: error = s
            case ("traceparent", .string(let s)) where traceparent == nil: traceparent = s
            case ("span_time", .string(let s)) where spanTime == nil: spanTime = s
            case ("attempt", .integer(let n)) where attempt == nil: attempt = n
            case ("exit_code", .integer(let n)) where exitCode == nil: exitCode = n
            case ("wall_ms", .integer(let n)) where wall == nil: wall = n
            default: return nil
            }
        }
        guard let task, let token, let drone, let attempt, let outcome = outcome.flatMap(Outcome.init(rawValue:)) else { return nil }
        self.init(task: task, attempt: attempt, token: token, drone: drone, outcome: outcome, exitCode: exitCode,
                  output: output, error: error, wallMillis: wall)
        self.traceparent = traceparent
        self.spanTime = spanTime
    }
}
