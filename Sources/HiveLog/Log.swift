#if canImport(Glibc)
import Glibc
#endif
import HiveSystem
import Synchronization

/// Severity of a log line. The default threshold is `info`: lifecycle events only, quiet otherwise.
public enum LogLevel: Int, Comparable, Sendable, CaseIterable {
    case debug = 0, info, warn, error

    public var name: String {
        switch self {
        case .debug: return "debug"
        case .info: return "info"
        case .warn: return "warn"
        case .error: return "error"
        }
    }

    public init?(name: String) {
        guard let l = LogLevel.allCases.first(where: { $0.name == name.lowercased() }) else { return nil }
        self = l
    }

    public static func < (a: LogLevel, b: LogLevel) -> Bool { a.rawValue < b.rawValue }
}

/// One-line `key=value` logging to stderr: `ts=… level=info component=broker event=listening addr=…`.
///
/// Writes go straight to fd 2 with one `write` per line so lines from different threads never interleave.
public struct Log: Sendable {
    private static let threshold = Atomic<Int>(LogLevel.info.rawValue)

    /// The component name printed on every line.
    public let component: String

    public init(_ component: String) { self.component = component }

    /// Sets the process-wide threshold.
    public static func setLevel(_ level: LogLevel) { threshold.store(level.rawValue, ordering: .relaxed) }

    public static func enabled(_ level: LogLevel) -> Bool { level.rawValue >= threshold.load(ordering: .relaxed) }

    public func debug(_ event: String, _ fields: KeyValuePairs<String, Any> = [:]) { emit(.debug, event, fields) }
    public func info(_ event: String, _ fields: KeyValuePairs<String, Any> = [:]) { emit(.info, event, fields) }
    public func warn(_ event: String, _ fields: KeyValuePairs<String, Any> = [:]) { emit(.warn, event, fields) }
    public func error(_ event: String, _ fields: KeyValuePairs<String, Any> = [:]) { emit(.error, event, fields) }

    public func emit(_ level: LogLevel, _ event: String, _ fields: KeyValuePairs<String, Any>) {
        guard Log.enabled(level) else { return }
        emit(level, event, fields.map { ($0.key, $0.value) })
    }

    /// The same, with fields built at run time.
    public func emit(_ level: LogLevel, _ event: String, _ fields: [(String, Any)]) {
        guard Log.enabled(level) else { return }
        let millis = Int(WallClock.unixMillis())
        var line = "ts=\(Log.isoTime(millis)) level=\(level.name) component=\(component) event=\(event)"
        for (k, v) in fields { line += " \(k)=\(Log.quote(String(describing: v)))" }
        line += "\n"
        var bytes = Array(line.utf8)
        _ = bytes.withUnsafeMutableBytes { write(2, $0.baseAddress, $0.count) }
    }

    /// Quotes a value only when it contains spaces, quotes or `=`.
    static func quote(_ s: String) -> String {
        if !s.isEmpty && !s.contains(where: { $0 == " " || $0 == "\"" || $0 == "=" || $0 == "\n" }) { return s }
        return "\"" + s.replacingOccurrences(of: "\"", with: "\\\"").replacingOccurrences(of: "\n", with: "\\n") + "\""
    }

    /// UTC ISO-8601 with milliseconds, without Foundation's formatters.
    static func isoTime(_ millis: Int) -> String {
        var t = time_t(millis / 1000)
        var tmv = tm()
        gmtime_r(&t, &tmv)
        func pad(_ v: Int32, _ w: Int) -> String {
            let s = String(v)
            return String(repeating: "0", count: max(0, w - s.count)) + s
        }
        return "\(tmv.tm_year + 1900)-\(pad(tmv.tm_mon + 1, 2))-\(pad(tmv.tm_mday, 2))T"
            + "\(pad(tmv.tm_hour, 2)):\(pad(tmv.tm_min, 2)):\(pad(tmv.tm_sec, 2)).\(pad(Int32(millis % 1000), 3))Z"
    }
}

private extension String {
    func replacingOccurrences(of a: String, with b: String) -> String {
        split(separator: Character(a), omittingEmptySubsequences: false).joined(separator: b)
    }
}
