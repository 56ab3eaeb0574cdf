#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// Writes `bytes` to `path` so that either the old or the new content survives a crash: temp file (created with
/// `mode`, so a secret is never readable by others even for a moment), fsync, rename, fsync of the directory.
/// Returns the error, if any: the file and the failed call (`DIR/x.123.4.tmp: write failed: No space left on device (errno 28)`).
///
/// Every write has a temp file of its own (`DurableTemp.name`): two writers of one path (two uploads of one blob)
/// must not share one, or one could rename the other's half-written file into place. The last rename wins, and
/// each rename moves one writer's complete bytes. Temps a crash left behind are removed with `DurableTemp.removeStale`.
public func writeFileDurably(_ path: String, _ bytes: [UInt8], directory: String, mode: mode_t = 0o640) -> String? {
    let tmp = DurableTemp.name(for: path)
    // No live writer has this name (the pid is ours, the number this process's), so a file already there is a
    // crashed run's, left under a pid that came round again (a container's honeycombd is often pid 1 each start):
    // removed, so the temp is created anew with `mode`.
    _ = unlink(tmp)
    let fd = Glibc.open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
    guard fd >= 0 else { return "\(tmp): \(SystemError(call: "open", errno: errno))" }
    do {
        try Syscall.writeAll(fd, bytes, with: .write)
        try Syscall.check("fsync", fsync(fd))
    } catch {
        Glibc.close(fd)
        _ = unlink(tmp)
        return "\(tmp): \(error)"
    }
    Glibc.close(fd)
    guard rename(tmp, path) == 0 else {
        let e = SystemError(call: "rename", errno: errno)
        _ = unlink(tmp)
        return "\(path): \(e)"
    }
    let dfd = Glibc.open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
    if dfd >= 0 {
        _ = fsync(dfd)
        Glibc.close(dfd)
    }
    return nil
}

/// The temp files of `writeFileDurably`: `PATH.PID.N.tmp`, unique per write in this process (N counts up) and
/// across processes (the pid).
public enum DurableTemp {
    private static let counter = Atomic<UInt64>(0)

    /// A temp name for one write of `path` that no other write uses.
    public static func name(for path: String) -> String {
        let n = counter.wrappingAdd(1, ordering: .relaxed).oldValue
        return "\(path).\(getpid()).\(n).tmp"
    }

    /// Whether `name` (a file name, without its directory) is a temp of a write to `target` (a file name too):
    /// `TARGET.PID.N.tmp`, or the `TARGET.tmp` of older versions.
    public static func isTemp(_ name: String, of target: String) -> Bool {
        if name == target + ".tmp" { return true }
        guard name.hasPrefix(target + "."), name.hasSuffix(".tmp") else { return false }
        let middle = name.dropFirst(target.count + 1).dropLast(4).split(separator: ".", omittingEmptySubsequences: false)
        return middle.count == 2 && middle.allSatisfy { !$0.isEmpty && $0.utf8.allSatisfy { $0 >= 0x30 && $0 <= 0x39 } }
    }

    /// Removes the temps that writes to `files` (names in `directory`) left when they were cut short (a crash between
    /// open and rename); call at start-up, before any write. Returns the names removed.
    @discardableResult
    public static func removeStale(in directory: String, of files: [String]) -> [String] {
        guard let dir = opendir(directory) else { return [] }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if files.contains(where: { isTemp(name, of: $0) }) { names.append(name) }
        }
        closedir(dir)
        return names.filter { unlink(directory + "/" + $0) == 0 }
    }
}
