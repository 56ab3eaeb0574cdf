#if canImport(Glibc)
import Glibc
#endif
import HiveSystem
import Testing

@Suite struct DurableFileTests {
    @Test func writesTheBytesAndNamesTheFailedCall() throws {
        var template = Array("/tmp/hive-durable-XXXXXX".utf8CString)
        let dir = try #require(mkdtemp(&template).map { String(cString: $0) })
        defer { _ = unlink(dir + "/f"); _ = rmdir(dir) }

        let bytes = (0..<100_000).map { UInt8(truncatingIfNeeded: $0) }
        #expect(writeFileDurably(dir + "/f", bytes, directory: dir) == nil)
        let fd = open(dir + "/f", O_RDONLY)
        defer { close(fd) }
        var back = [UInt8](repeating: 0, count: bytes.count + 1)
        #expect(read(fd, &back, back.count) == bytes.count)
        let same = Array(back.prefix(bytes.count)) == bytes  // outside #expect: no diff of 100 KB on failure
        #expect(same)

        let missing = dir + "/no-such-dir/f"
        #expect(writeFileDurably(missing, bytes, directory: dir)
                == "\(missing).tmp: open failed: No such file or directory (errno \(ENOENT))")
    }
}
