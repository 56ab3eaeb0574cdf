#if canImport(Glibc)
import Glibc
#endif
import Dispatch
import HiveSystem
import Testing

@Suite struct DurableFileTests {
    private func tempDirectory() throws -> String {
        var template = Array("/tmp/hive-durable-XXXXXX".utf8CString)
        return try #require(mkdtemp(&template).map { String(cString: $0) })
    }

    private func contents(_ path: String, max: Int) -> [UInt8] {
        let fd = open(path, O_RDONLY)
        defer { close(fd) }
        var back = [UInt8](repeating: 0, count: max + 1)
        let n = read(fd, &back, back.count)
        return Array(back.prefix(Swift.max(n, 0)))
    }

    private func names(in dir: String) -> [String] {
        guard let d = opendir(dir) else { return [] }
        defer { closedir(d) }
        var out: [String] = []
        while let e = readdir(d) {
            let name = withUnsafeBytes(of: e.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if name != "." && name != ".." { out.append(name) }
        }
        return out.sorted()
    }

    @Test func writesTheBytesAndNamesTheFailedCall() throws {
        let dir = try tempDirectory()
        defer { _ = unlink(dir + "/f"); _ = rmdir(dir) }

        let bytes = (0..<100_000).map { UInt8(truncatingIfNeeded: $0) }
        #expect(writeFileDurably(dir + "/f", bytes, directory: dir) == nil)
        let same = contents(dir + "/f", max: bytes.count) == bytes  // outside #expect: no diff of 100 KB on failure
        #expect(same)
        #expect(names(in: dir) == ["f"])  // no temp left behind

        let missing = dir + "/no-such-dir/f"
        let error = try #require(writeFileDurably(missing, bytes, directory: dir))
        #expect(error.hasPrefix("\(missing)."))
        #expect(error.hasSuffix(".tmp: open failed: No such file or directory (errno \(ENOENT))"))
    }

    /// Two uploads of one blob write one path at once: each write has its own temp, so whichever rename lands last,
    /// the file holds one writer's complete bytes (with one shared temp, a rename could move another's half-written file).
    @Test func concurrentWritersOfOnePathLeaveOneWritersCompleteBytes() throws {
        let dir = try tempDirectory()
        let path = dir + "/f"
        defer { for n in names(in: dir) { _ = unlink(dir + "/" + n) }; _ = rmdir(dir) }
        let writers = 16, size = 256 << 10
        let contents = (0..<writers).map { w in [UInt8](repeating: UInt8(w), count: size) }
        for _ in 0..<8 {
            let errors = PosixLockedList()
            DispatchQueue.concurrentPerform(iterations: writers) { w in
                if let e = writeFileDurably(path, contents[w], directory: dir) { errors.append(e) }
            }
            #expect(errors.all.isEmpty)
            let back = self.contents(path, max: size)
            let whole = back.count == size && back.allSatisfy { $0 == back[0] }  // one writer's bytes, all of them
            #expect(whole, "the file holds \(back.count) bytes, not one writer's \(size)")
            #expect(names(in: dir) == ["f"])
        }
    }

    /// A crashed run's temp under a pid that came round again (pid 1 in a container) does not stop the write.
    @Test func aStaleTempUnderTheSameNameIsReplaced() throws {
        let dir = try tempDirectory()
        defer { for n in names(in: dir) { _ = unlink(dir + "/" + n) }; _ = rmdir(dir) }
        let next = DurableTemp.name(for: dir + "/f")  // this name is used once: the next write takes the one after
        let parts = next.dropLast(4).split(separator: ".")
        let number = try #require(Int(parts.last ?? ""))
        let upcoming = parts.dropLast().joined(separator: ".") + ".\(number + 1).tmp"
        let fd = open(upcoming, O_WRONLY | O_CREAT, 0o444)
        close(fd)
        #expect(writeFileDurably(dir + "/f", [1, 2, 3], directory: dir) == nil)
        #expect(contents(dir + "/f", max: 3) == [1, 2, 3])
        #expect(names(in: dir) == ["f"])
    }

    @Test func staleTempsOfTheNamedFilesAreRemovedAndNothingElse() throws {
        let dir = try tempDirectory()
        defer { for n in names(in: dir) { _ = unlink(dir + "/" + n) }; _ = rmdir(dir) }
        let left = ["snapshot.json.tmp", "snapshot.json.123.4.tmp", "goal-ids.9.0.tmp"]
        let kept = ["snapshot.json", "other.1.2.tmp", "snapshot.json.x.4.tmp", "snapshot.json.1.tmp", "notes.tmp"]
        for n in left + kept { #expect(writeFileDurably(dir + "/" + n, [1], directory: dir) == nil) }
        let removed = DurableTemp.removeStale(in: dir, of: ["snapshot.json", "goal-ids"])
        #expect(removed.sorted() == left.sorted())
        #expect(names(in: dir) == kept.sorted())
    }
}

/// Errors collected from concurrent writers.
private final class PosixLockedList: @unchecked Sendable {
    private let lock = PosixLock()
    private var items: [String] = []
    func append(_ s: String) { lock.withLock { items.append(s) } }
    var all: [String] { lock.withLock { items } }
}
