#if canImport(Glibc)
import Glibc
#endif

/// Writes `bytes` to `path` so that either the old or the new content survives a crash: temp file (created with
/// `mode`, so a secret is never readable by others even for a moment), fsync, rename, fsync of the directory.
/// Returns the error, if any: the file and the failed call (`DIR/x.tmp: write failed: No space left on device (errno 28)`).
public func writeFileDurably(_ path: String, _ bytes: [UInt8], directory: String, mode: mode_t = 0o640) -> String? {
    let tmp = path + ".tmp"
    let fd = Glibc.open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode)
    guard fd >= 0 else { return "\(tmp): \(SystemError(call: "open", errno: errno))" }
    do {
        try Syscall.writeAll(fd, bytes, with: .write)
        try Syscall.check("fsync", fsync(fd))
    } catch {
        Glibc.close(fd)
        return "\(tmp): \(error)"
    }
    Glibc.close(fd)
    guard rename(tmp, path) == 0 else { return "\(path): \(SystemError(call: "rename", errno: errno))" }
    let dfd = Glibc.open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
    if dfd >= 0 {
        _ = fsync(dfd)
        Glibc.close(dfd)
    }
    return nil
}
