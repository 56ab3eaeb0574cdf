#if canImport(Glibc)
import Glibc
#endif
import FoundationEssentials

/// Whether a model file fits this machine, checked before llama.cpp maps it: a model that does not fit would
/// otherwise load (the file is mapped, not read) and then page-thrash or be killed by the OOM killer in the middle
/// of a task, far from the cause. The drone refuses to start instead, with the numbers.
///
/// The weights are at least the file's size in memory. What is available is the least of: `MemAvailable` in
/// /proc/meminfo, the cgroup's `memory.max` less its `memory.current` (a container's limit, which meminfo does not
/// show), and the address space RLIMIT_AS leaves beside what the process already maps (the mapping counts there).
public struct ModelMemory: Sendable, Equatable {
    /// One limit on the memory a model may use: how many bytes are left, and where that number comes from.
    public struct Limit: Sendable, Equatable {
        public var available: UInt64
        public var source: String

        public init(available: UInt64, source: String) {
            self.available = available
            self.source = source
        }
    }

    public var limits: [Limit]

    public init(limits: [Limit]) { self.limits = limits }

    /// Why a model of `bytes` at `path` cannot be loaded here (naming `--model`, the size and the tightest limit),
    /// or nil when it fits.
    public func problem(path: String, bytes: UInt64) -> String? {
        guard let tightest = limits.min(by: { $0.available < $1.available }), bytes > tightest.available else { return nil }
        return "--model \(path) is \(Self.mebibytes(bytes)) MiB, but only \(Self.mebibytes(tightest.available)) MiB of memory is " +
            "available (\(tightest.source)); free memory, raise the limit or use a smaller model"
    }

    static func mebibytes(_ b: UInt64) -> UInt64 { (b + (1 << 20) - 1) >> 20 }

    /// The limits of this process on this machine (those it can read).
    public static func current() -> ModelMemory {
        var limits: [Limit] = []
        if let text = read("/proc/meminfo"), let kib = field(text, "MemAvailable:") {
            limits.append(Limit(available: kib << 10, source: "MemAvailable in /proc/meminfo"))
        }
        if let max = read("/sys/fs/cgroup/memory.max").flatMap({ UInt64($0.trimmed) }) {
            let used = read("/sys/fs/cgroup/memory.current").flatMap { UInt64($0.trimmed) } ?? 0
            limits.append(Limit(available: max > used ? max - used : 0, source: "the cgroup's memory.max \(mebibytes(max)) MiB, \(mebibytes(used)) MiB in use"))
        }
        var r = rlimit()
        if getrlimit(__rlimit_resource_t(RLIMIT_AS.rawValue), &r) == 0, r.rlim_cur != rlim_t.max {  // RLIM_INFINITY (all ones)
            let mapped = (read("/proc/self/status").flatMap { field($0, "VmSize:") } ?? 0) << 10
            let cap = UInt64(r.rlim_cur)
            limits.append(Limit(available: cap > mapped ? cap - mapped : 0,
                                source: "RLIMIT_AS \(mebibytes(cap)) MiB, \(mebibytes(mapped)) MiB already mapped"))
        }
        return ModelMemory(limits: limits)
    }

    /// The size of the file at `path`, or nil when it cannot be read (llama.cpp's loader then says why).
    public static func fileSize(_ path: String) -> UInt64? {
        var st = stat()
        guard stat(path, &st) == 0, st.st_mode & S_IFMT == S_IFREG else { return nil }
        return UInt64(st.st_size)
    }

    /// The number after `name` in a `/proc` file of `Name:  value kB` lines.
    static func field(_ text: String, _ name: String) -> UInt64? {
        guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix(name) }) else { return nil }
        return line.dropFirst(name.count).split(whereSeparator: { $0 == " " || $0 == "\t" }).first.flatMap { UInt64($0) }
    }

    /// A small text file (procfs and sysfs report a size of 0, so it is read until the end).
    static func read(_ path: String) -> String? {
        guard let f = fopen(path, "r") else { return nil }
        defer { fclose(f) }
        var bytes: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = fread(&buf, 1, buf.count, f)
            if n <= 0 { break }
            bytes += buf[..<n]
            if bytes.count > 1 << 20 { break }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

extension String {
    fileprivate var trimmed: String { String(filter { !$0.isWhitespace }) }
}
