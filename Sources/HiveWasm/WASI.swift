#if canImport(Glibc)
import Glibc
#endif

/// WASI preview 1, the part a CLI-style module needs: arguments, environment, clocks, random, stdin/stdout/
/// stderr, `proc_exit`. Nothing else of the host is reachable: every other WASI call answers ENOSYS, and there are
/// no preopened directories. Deterministic mode seeds the clock and random from the task, so the same module and
/// input give the same output.
///
/// Every call does work bounded by what the module can use and pays fuel for it before doing it (`Instance.charge`):
/// a buffer is validated in O(1) and only the bytes that go somewhere are copied (output past the cap is neither
/// copied nor kept), so no call can turn a few instructions into unbounded host work.
public final class WASI {
    public var args: [String]
    public var environment: [(String, String)]
    public var stdin: [UInt8]
    var stdinOffset = 0
    public private(set) var stdout: [UInt8] = []
    public private(set) var stderr: [UInt8] = []
    /// Output past this many bytes (stdout and stderr together) is dropped; `truncated` says so.
    public let outputCap: Int
    public private(set) var truncated = false
    /// When set, clocks start at this many nanoseconds and advance 1 µs per reading, and random bytes come from a
    /// generator seeded with it.
    let seed: UInt64?
    var clockReadings: UInt64 = 0
    var random: SplitMix64
    /// The granted directory, when the task grants one (`/scratch` to the module).
    let scratch: ScratchDirectory?

    /// `scratchDirectory`: a host directory to expose as `/scratch` (the task's own, made and removed by the host);
    /// nil exposes no file system at all.
    public init(args: [String], environment: [(String, String)] = [], stdin: [UInt8] = [], outputCap: Int = 1 << 20,
                deterministicSeed: UInt64? = nil, scratchDirectory: String? = nil, scratchWriteCap: Int = 64 << 20,
                maxOpenFiles: Int = 64) {
        scratch = scratchDirectory.flatMap { ScratchDirectory(path: $0, writeCap: scratchWriteCap, maxOpenFiles: maxOpenFiles) }
        self.args = args
        self.environment = environment
        self.stdin = stdin
        self.outputCap = outputCap
        seed = deterministicSeed
        var system = SystemRandomNumberGenerator()
        random = SplitMix64(seed: deterministicSeed ?? system.next())
    }

    static let success: UInt64 = 0, badf: UInt64 = 8, inval: UInt64 = 28, nosys: UInt64 = 52, spipe: UInt64 = 70
    /// Buffers one `fd_read`/`fd_write` may name (POSIX's IOV_MAX): past it, EINVAL, as `readv` answers.
    static let maxIOVecs: UInt32 = 1_024

    /// Closes every file the module opened in its scratch directory (the host's descriptors go back at once,
    /// not whenever this object is released).
    public func closeFiles() { scratch?.closeAll() }

    /// Unsupported calls C and Rust runtimes import: present, answering ENOSYS.
    static let unsupported = [
        "path_open", "path_filestat_get", "path_filestat_set_times", "path_create_directory", "path_remove_directory",
        "path_unlink_file", "path_rename", "path_link", "path_readlink", "path_symlink", "fd_filestat_get",
        "fd_filestat_set_size", "fd_filestat_set_times", "fd_readdir", "fd_sync", "fd_datasync", "fd_tell", "fd_advise",
        "fd_allocate", "fd_fdstat_set_flags", "fd_fdstat_set_rights", "fd_pread", "fd_pwrite", "fd_renumber", "poll_oneoff",
        "proc_raise", "sock_accept", "sock_recv", "sock_send", "sock_shutdown",
    ]

    /// The parameters of the calls implemented here (WASI preview 1's witx: `i` i32, `I` i64); each returns an
    /// errno (i32) except `proc_exit`. The ENOSYS stubs take whatever their importer declares.
    static let signatures: [String: String] = [
        "args_get": "ii", "args_sizes_get": "ii", "environ_get": "ii", "environ_sizes_get": "ii", "clock_res_get": "ii",
        "clock_time_get": "iIi", "fd_close": "i", "fd_fdstat_get": "ii", "fd_filestat_get": "ii", "fd_prestat_get": "ii",
        "fd_prestat_dir_name": "iii", "fd_read": "iiii", "fd_write": "iiii", "fd_seek": "iIii", "path_open": "iiiiiIIii",
        "proc_exit": "i", "random_get": "ii", "sched_yield": "",
    ]

    /// The `wasi_snapshot_preview1` import table.
    public var imports: [String: [String: HostFunction]] {
        var f: [String: HostFunction.Body] = [:]
        for name in Self.unsupported { f[name] = { _, _ in [Self.nosys] } }
        f["proc_exit"] = { _, a in throw Trap.exit(Int32(truncatingIfNeeded: a[0])) }
        f["sched_yield"] = { _, _ in [Self.success] }
        f["args_sizes_get"] = { [unowned self] i, a in try self.sizes(i, self.args.map { Array($0.utf8) }, a) }
        f["args_get"] = { [unowned self] i, a in try self.strings(i, self.args.map { Array($0.utf8) }, a) }
        f["environ_sizes_get"] = { [unowned self] i, a in try self.sizes(i, self.environment.map { Array("\($0.0)=\($0.1)".utf8) }, a) }
        f["environ_get"] = { [unowned self] i, a in try self.strings(i, self.environment.map { Array("\($0.0)=\($0.1)".utf8) }, a) }
        f["clock_res_get"] = { i, a in
            try i.writeU64(Instance.u32(a[1]), 1_000)
            return [Self.success]
        }
        f["clock_time_get"] = { [unowned self] i, a in
            try i.writeU64(Instance.u32(a[2]), self.now(clock: Instance.u32(a[0])))
            return [Self.success]
        }
        f["random_get"] = { [unowned self] i, a in
            // Bounds first: the length is the module's. Filled in place (no host allocation); a generator step per
            // byte costs about an instruction, so each byte costs one fuel.
            let at = Instance.u32(a[0]), count = Int(Instance.u32(a[1]))
            guard i.contains(at, count) else { throw Trap.memoryOutOfBounds }
            try i.charge(Int64(count))
            try i.withMemory(at, count) { buffer in
                for k in 0..<buffer.count { buffer[k] = UInt8(truncatingIfNeeded: self.random.next()) }
            }
            return [Self.success]
        }
        f["fd_write"] = { [unowned self] i, a in try self.write(i, a) }
        f["fd_read"] = { [unowned self] i, a in try self.read(i, a) }
        f["fd_close"] = { _, a in [Instance.u32(a[0]) <= 2 ? Self.success : Self.badf] }
        f["fd_seek"] = { _, a in [Instance.u32(a[0]) <= 2 ? Self.spipe : Self.badf] }
        f["fd_prestat_get"] = { _, _ in [Self.badf] }
        f["fd_prestat_dir_name"] = { _, _ in [Self.badf] }
        f["fd_fdstat_get"] = { [unowned self] i, a in
            let fd = Instance.u32(a[0]), at = Instance.u32(a[1])
            // stdio: a character device (2); the scratch root: a directory (3); its files: regular files (4).
            let type: UInt8 = fd <= 2 ? 2 : fd == 3 && self.scratch != nil ? 3 : self.scratch?.files[fd] != nil ? 4 : 0
            guard type != 0 else { return [Self.badf] }
            try i.write(at, [type, 0, 0, 0, 0, 0, 0, 0])
            try i.writeU64(at &+ 8, .max)
            try i.writeU64(at &+ 16, .max)
            return [Self.success]
        }
        addScratch(&f)
        var typed: [String: HostFunction] = [:]
        for (name, body) in f {
            let params = Self.signatures[name].map { $0.map { $0 == "I" ? ValueType.i64 : .i32 } }
            typed[name] = HostFunction(params, name == "proc_exit" ? [] : [.i32], body)
        }
        return ["wasi_snapshot_preview1": typed]
    }

    func now(clock: UInt32) -> UInt64 {
        if let seed {
            clockReadings += 1
            return (seed % 1_000_000) * 1_000_000_000 + clockReadings * 1_000
        }
        var ts = timespec()
        clock_gettime(clock == 0 ? CLOCK_REALTIME : CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
    }

    func sizes(_ i: Instance, _ items: [[UInt8]], _ a: [UInt64]) throws(Trap) -> [UInt64] {
        try i.charge(Instance.fuel(buffers: items.count, bytes: 0))
        try i.writeU32(Instance.u32(a[0]), UInt32(clamping: items.count))
        try i.writeU32(Instance.u32(a[1]), UInt32(clamping: items.reduce(0) { $0 &+ $1.count &+ 1 }))
        return [Self.success]
    }

    func strings(_ i: Instance, _ items: [[UInt8]], _ a: [UInt64]) throws(Trap) -> [UInt64] {
        var pointers = Instance.u32(a[0]), buffer = Instance.u32(a[1])
        try i.charge(Instance.fuel(buffers: items.count, bytes: items.reduce(0) { $0 &+ $1.count }))
        for item in items {
            try i.writeU32(pointers, buffer)
            try i.write(buffer, item + [0])
            pointers &+= 4  // the writes above were in bounds; wrapping only ever makes the next one fail
            buffer &+= UInt32(truncatingIfNeeded: item.count &+ 1)
        }
        return [Self.success]
    }

    /// The buffers of an `fd_write`/`fd_read` call (its iovec array: `a[1]`, `a[2]` entries of pointer + length),
    /// each checked to lie in memory (O(1) each, nothing copied; a buffer outside memory traps), and one fuel
    /// charged per buffer. Nil when the call names more than `maxIOVecs` buffers (the caller answers EINVAL).
    func buffers(_ i: Instance, _ a: [UInt64]) throws(Trap) -> [(at: UInt32, length: Int)]? {
        let count = Instance.u32(a[2])
        guard count <= Self.maxIOVecs else { return nil }
        try i.charge(Instance.fuel(buffers: Int(count), bytes: 0))
        return try (0..<count).map { k throws(Trap) in
            let iov = Instance.u32(a[1]) &+ k &* 8
            let buffer = (at: try i.readU32(iov), length: Int(try i.readU32(iov &+ 4)))
            guard i.contains(buffer.at, buffer.length) else { throw .memoryOutOfBounds }
            return buffer
        }
    }

    /// Reports the bytes moved at `a[3]`.
    func moved(_ i: Instance, _ a: [UInt64], _ total: Int) throws(Trap) -> [UInt64] {
        try i.writeU32(Instance.u32(a[3]), UInt32(clamping: total))
        return [Self.success]
    }

    func write(_ i: Instance, _ a: [UInt64]) throws(Trap) -> [UInt64] {
        let fd = Instance.u32(a[0])
        if let host = scratch?.files[fd] { return try writeFile(i, host, a) }
        guard fd == 1 || fd == 2 else { return [Self.badf] }
        var written = 0
        guard let iovs = try buffers(i, a) else { return [Self.inval] }
        for b in iovs {
            // Only what fits under the cap is copied (and paid for); the rest is dropped unread.
            let room = max(0, outputCap - stdout.count - stderr.count)
            let kept = min(b.length, room)
            if b.length > room { truncated = true }
            if kept > 0 {
                try i.charge(Instance.fuel(bytes: kept))
                try i.withMemory(b.at, kept) { bytes in
                    if fd == 1 { self.stdout.append(contentsOf: bytes) } else { self.stderr.append(contentsOf: bytes) }
                }
            }
            written &+= b.length
        }
        return try moved(i, a, written)
    }

    func read(_ i: Instance, _ a: [UInt64]) throws(Trap) -> [UInt64] {
        if let host = scratch?.files[Instance.u32(a[0])] { return try readFile(i, host, a) }
        guard Instance.u32(a[0]) == 0 else { return [Self.badf] }
        var total = 0
        guard let iovs = try buffers(i, a) else { return [Self.inval] }
        for b in iovs {
            let n = min(b.length, stdin.count - stdinOffset)
            if n > 0 {
                try i.charge(Instance.fuel(bytes: n))
                try i.write(b.at, stdin[stdinOffset..<stdinOffset + n])
                stdinOffset += n
                total += n
            }
            if n < b.length { break }
        }
        return try moved(i, a, total)
    }
}

/// A generator for deterministic random bytes (SplitMix64).
struct SplitMix64 {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
