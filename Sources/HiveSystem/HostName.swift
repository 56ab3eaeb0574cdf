#if canImport(Glibc)
import Glibc
#endif

/// This machine's host name: the default drone name and what a drone reports in its hello.
public enum HostName {
    public static var current: String {
        var buf = [CChar](repeating: 0, count: 256)
        guard gethostname(&buf, buf.count) == 0 else { return "localhost" }
        return String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
