#if canImport(Glibc)
import Glibc
#endif

/// The one host directory a task may grant a module: it appears as the preopened `/scratch` (fd 3), and every
/// path is resolved under it. Absolute paths and `..` above the root are refused; nothing can create symlinks
/// (`path_symlink` answers ENOSYS) and the last component is opened with O_NOFOLLOW, so there is no way out.
/// Bytes written are capped (ENOSPC past it), and so are files open at once (EMFILE past `maxOpenFiles`): a module
/// opening files in a loop must not take the drone's descriptors from its other tasks. Every descriptor is closed
/// when the run ends (`closeAll`).
final class ScratchDirectory {
    static let name = "/scratch"
    private(set) var root: Int32
    var files: [UInt32: Int32] = [:]
    var nextFD: UInt32 = 4
    var written = 0
    let writeCap: Int
    let maxOpenFiles: Int

    init?(path: String, writeCap: Int, maxOpenFiles: Int) {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        root = fd
        self.writeCap = writeCap
        self.maxOpenFiles = max(0, maxOpenFiles)
    }

    deinit { closeAll() }

    func closeAll() {
        for (_, fd) in files { close(fd) }
        files = [:]
        if root >= 0 { close(root) }
        root = -1
    }

    /// A path relative to the root that cannot leave it, or nil.
    static func clean(_ path: String) -> String? {
        guard !path.hasPrefix("/"), !path.utf8.contains(0) else { return nil }
        var parts: [Substring] = []
        for c in path.split(separator: "/") where c != "." {
            if c == ".." {
                guard !parts.isEmpty else { return nil }
                parts.removeLast()
            } else {
                parts.append(c)
            }
        }
        return parts.isEmpty ? "." : parts.joined(separator: "/")
    }

    /// WASI errno for a host errno.
    static func wasiErrno(_ e: Int32) -> UInt64 {
        switch e {
        case ENOENT: return 44
        case EEXIST: return 20
        case EISDIR: return 31
        case ENOTDIR: return 54
        case EACCES, EPERM: return 2
        case ENOTEMPTY: return 55
        case ELOOP: return 32
        case ENOSPC: return 51
        case EINVAL: return 28
        case EMFILE: return 33
        case ENFILE: return 41
        default: return 29  // EIO
        }
    }
}

extension WASI {
    /// Longest path a module may name (POSIX's PATH_MAX): past it, ENAMETOOLONG, before anything is copied.
    static let maxPathBytes: UInt32 = 4_096

    /// The path at `a[at]`/`a[at+1]`, resolved under the scratch root; the WASI errno when it is too long or leaves
    /// the root. Its bytes are charged to fuel.
    func scratchPath(_ i: Instance, _ a: [UInt64], at: Int) throws(Trap) -> Result<String, WASIErrno> {
        let length = Instance.u32(a[at + 1])
        guard length <= Self.maxPathBytes else { return .failure(WASIErrno(37)) }  // ENAMETOOLONG
        try i.charge(Instance.fuel(buffers: 1, bytes: Int(length)))
        let raw = try i.read(Instance.u32(a[at]), length)
        guard let path = ScratchDirectory.clean(String(decoding: raw, as: UTF8.self)) else { return .failure(WASIErrno(76)) }  // ENOTCAPABLE
        return .success(path)
    }

    /// The file-system calls, active when the task granted a scratch directory.
    func addScratch(_ f: inout [String: HostFunction.Body]) {
        guard let scratch else { return }
        let name = Array(ScratchDirectory.name.utf8)
        f["fd_prestat_get"] = { i, a in
            guard Instance.u32(a[0]) == 3 else { return [Self.badf] }
            try i.write(Instance.u32(a[1]), [0, 0, 0, 0])
            try i.writeU32(Instance.u32(a[1]) &+ 4, UInt32(name.count))
            return [Self.success]
        }
        f["fd_prestat_dir_name"] = { i, a in
            guard Instance.u32(a[0]) == 3 else { return [Self.badf] }
            try i.write(Instance.u32(a[1]), name.prefix(Int(Instance.u32(a[2]))))
            return [Self.success]
        }
        f["path_open"] = { i, a in
            guard Instance.u32(a[0]) == 3 else { return [Self.badf] }
            let path: String
            switch try self.scratchPath(i, a, at: 2) {
            case .success(let p): path = p
            case .failure(let e): return [e.code]
            }
            let o = Instance.u32(a[4]), rights = a[5], fdflags = Instance.u32(a[7])
            var flags = O_CLOEXEC | O_NOFOLLOW
            if o & 1 != 0 { flags |= O_CREAT }
            if o & 2 != 0 { flags |= O_DIRECTORY }
            if o & 4 != 0 { flags |= O_EXCL }
            if o & 8 != 0 { flags |= O_TRUNC }
            if fdflags & 1 != 0 { flags |= O_APPEND }
            flags |= rights & 0x40 != 0 ? O_RDWR : O_RDONLY  // FD_WRITE
            if o & 2 != 0 { flags = (flags & ~O_RDWR) | O_RDONLY }
            guard scratch.files.count < scratch.maxOpenFiles else { return [33] }  // EMFILE: this task's share is used
            guard scratch.nextFD < UInt32.max else { return [41] }  // ENFILE: descriptor numbers exhausted
            let fd = openat(scratch.root, path, flags, 0o644)
            guard fd >= 0 else { return [ScratchDirectory.wasiErrno(errno)] }
            let wasiFD = scratch.nextFD
            scratch.nextFD += 1
            scratch.files[wasiFD] = fd
            try i.writeU32(Instance.u32(a[8]), wasiFD)
            return [Self.success]
        }
        f["fd_close"] = { _, a in
            let fd = Instance.u32(a[0])
            if fd <= 3 { return [Self.success] }
            guard let host = scratch.files.removeValue(forKey: fd) else { return [Self.badf] }
            close(host)
            return [Self.success]
        }
        f["fd_seek"] = { i, a in
            let fd = Instance.u32(a[0])
            guard let host = scratch.files[fd] else { return [fd <= 2 ? Self.spipe : Self.badf] }
            let whence: Int32 = [SEEK_SET, SEEK_CUR, SEEK_END][min(2, Int(a[2] & 0xFF))]
            let at = lseek(host, off_t(Int64(bitPattern: a[1])), whence)
            guard at >= 0 else { return [ScratchDirectory.wasiErrno(errno)] }
            try i.writeU64(Instance.u32(a[3]), UInt64(at))
            return [Self.success]
        }
        f["fd_filestat_get"] = { i, a in
            guard let host = scratch.files[Instance.u32(a[0])] else { return [Self.badf] }
            var st = stat()
            guard fstat(host, &st) == 0 else { return [ScratchDirectory.wasiErrno(errno)] }
            let at = Instance.u32(a[1])
            try i.writeU64(at, UInt64(st.st_dev))
            try i.writeU64(at &+ 8, UInt64(st.st_ino))
            try i.write(at &+ 16, [(st.st_mode & S_IFMT) == S_IFDIR ? 3 : 4, 0, 0, 0, 0, 0, 0, 0])
            try i.writeU64(at &+ 24, UInt64(st.st_nlink))
            try i.writeU64(at &+ 32, UInt64(clamping: st.st_size))
            for k: UInt32 in 0..<3 { try i.writeU64(at &+ 40 &+ k &* 8, 0) }
            return [Self.success]
        }
        for (call, op) in [("path_unlink_file", 0), ("path_create_directory", 1), ("path_remove_directory", 2)] {
            f[call] = { i, a in
                guard Instance.u32(a[0]) == 3 else { return [Self.badf] }
                let path: String
                switch try self.scratchPath(i, a, at: 1) {
                case .success(let p) where p != ".": path = p
                case .success: return [76]  // ENOTCAPABLE: the root itself
                case .failure(let e): return [e.code]
                }
                let r = op == 1 ? mkdirat(scratch.root, path, 0o755) : unlinkat(scratch.root, path, op == 2 ? AT_REMOVEDIR : 0)
                return [r == 0 ? Self.success : ScratchDirectory.wasiErrno(errno)]
            }
        }
    }

    /// `fd_write` to a scratch file: host write, within the byte cap.
    func writeFile(_ i: Instance, _ host: Int32, _ a: [UInt64]) throws(Trap) -> [UInt64] {
        guard let scratch else { return [Self.badf] }
        var total = 0
        guard let iovs = try buffers(i, a) else { return [Self.inval] }
        for b in iovs {
            // The cap first, then the fuel, then one write straight from memory (no copy).
            guard scratch.written + b.length <= scratch.writeCap else { return [51] }  // ENOSPC
            try i.charge(Instance.fuel(bytes: b.length))
            let n = try i.withMemory(b.at, b.length) { Glibc.write(host, $0.baseAddress, $0.count) }
            guard n >= 0 else { return [ScratchDirectory.wasiErrno(errno)] }
            scratch.written += n
            total += n
        }
        return try moved(i, a, total)
    }

    /// `fd_read` from a scratch file.
    func readFile(_ i: Instance, _ host: Int32, _ a: [UInt64]) throws(Trap) -> [UInt64] {
        var total = 0
        guard let iovs = try buffers(i, a) else { return [Self.inval] }
        for b in iovs {
            // Straight into memory (`buffers` checked the bounds; no host buffer), paid for what was read.
            let n = try i.withMemory(b.at, b.length) { Glibc.read(host, $0.baseAddress, $0.count) }
            guard n >= 0 else { return [ScratchDirectory.wasiErrno(errno)] }
            try i.charge(Instance.fuel(bytes: n))
            total += n
            if n < b.length { break }
        }
        return try moved(i, a, total)
    }
}

/// A WASI errno a host call answers with (a value, not a trap).
struct WASIErrno: Error {
    let code: UInt64
    init(_ code: UInt64) { self.code = code }
}
