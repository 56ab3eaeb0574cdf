#if canImport(Glibc)
import Glibc
#endif

/// Writes `bytes` to `path` so that either the old or the new content survives a crash: temp file (created with
/// `mode`, so a secret is never readable by others even for a moment), fsync, rename, fsync of the directory.
/// Returns the error, if any.
public func writeFileDurably(_ path: String, _ bytes: [UInt8], directory: String, mode: mode_t = 0o640) -> String? {
    let tmp = path + ".tmp"
    let fd = Glibc.open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode)
    guard fd >= 0 else { return "\(tmp): \(String(cString: strerror(errno)))" }
    var ok = (try? Syscall.writeAll(fd, bytes, with: .write)) != nil
    ok = ok && fsync(fd) == 0
    Glibc.close(fd)
    guard ok, rename(tmp, path) == 0 else { return "\(path): \(String(cString: strerror(errno)))" }
    let dfd = Glibc.open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
    if dfd >= 0 {
        _ = fsync(dfd)
        Glibc.close(dfd)
    }
    return nil
}
