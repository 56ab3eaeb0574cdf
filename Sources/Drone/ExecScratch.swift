#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// An exec task's scratch directory (its HOME, TMPDIR and working directory): made fresh per task under the
/// drone's temporary directory, 0700, and removed with whatever the task left in it.
enum ExecScratch {
    private static let base = FileManager.default.temporaryDirectory.path

    /// A new empty directory (mkdtemp: one syscall, a name no other task has).
    static func make() -> Result<String, ExecTaskError> {
        var template = Array("\(base)/hive-exec-XXXXXX".utf8CString)
        let made: String? = template.withUnsafeMutableBufferPointer { buffer in
            guard let p = buffer.baseAddress, mkdtemp(p) != nil else { return nil }
            return String(cString: p)
        }
        guard let made else { return .failure(.scratch(String(cString: strerror(errno)))) }
        return .success(made)
    }

    /// Removes `dir`: one rmdir when the task left nothing (most do), else the whole tree.
    static func remove(_ dir: String) {
        if rmdir(dir) == 0 { return }
        try? FileManager.default.removeItem(atPath: dir)
    }
}
