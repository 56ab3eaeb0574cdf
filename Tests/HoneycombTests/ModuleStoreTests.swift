import Foundation
import HiveCore
@testable import Honeycomb
import Testing

/// honeycombd's module store: whole modules and modules sent in parts (in order, bounded, hash-checked), kept on disk.
@Suite struct ModuleStoreTests {
    /// A valid module of about `size` bytes: the header and one custom section of filler.
    static func module(size: Int, fill: UInt8 = 0x61) -> [UInt8] {
        let name: [UInt8] = Array("pad".utf8)
        let body = size - 8 - 1 - 5
        var bytes: [UInt8] = [0x00, 0x61, 0x73, 0x6D, 0x01, 0x00, 0x00, 0x00, 0x00]
        var n = UInt32(body)  // section length as a 5-byte LEB128, so the size is exact
        for i in 0..<5 {
            bytes.append(UInt8(n & 0x7F) | (i < 4 ? 0x80 : 0))
            n >>= 7
        }
        bytes += [UInt8(name.count)] + name + [UInt8](repeating: fill, count: body - 1 - name.count)
        return bytes
    }

    static func parts(_ bytes: [UInt8], of size: Int) -> [(Int, [UInt8])] {
        stride(from: 0, to: bytes.count, by: size).map { ($0, Array(bytes[$0..<min(bytes.count, $0 + size)])) }
    }

    @Test func partsInOrderStoreTheModuleUnderItsHash() throws {
        let dir = tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = ModuleStore(dataDirectory: dir)
        let bytes = Self.module(size: 300_000)
        let hash = SHA256.hex(bytes)
        var last: ModuleRef?
        for (offset, part) in Self.parts(bytes, of: 100_000) {
            last = try store.addPart(hash: hash, offset: offset, size: bytes.count, bytes: part).get()
        }
        #expect(last == ModuleRef(module: hash, size: bytes.count))
        #expect(ModuleStore(dataDirectory: dir).get(hash) == bytes)  // on disk, read back by a restarted store
    }

    /// The re-audit: four 1-byte parts declaring 64 MiB each locked every other upload out for as long as the
    /// sender kept touching them. Declared sizes now cost nothing; the idlest uploads make room.
    @Test func uploadsThatClaimSpaceAndStallCannotLockOthersOut() throws {
        let store = ModuleStore(dataDirectory: nil)
        for i in 0..<(ModuleStore.uploadsInFlight + 4) {
            let fake = String(repeating: String(UnicodeScalar(UInt8(0x61 + i % 6))), count: 63) + "\(i % 10)"
            _ = try store.addPart(hash: fake, offset: 0, size: 64 << 20, bytes: [0]).get()
        }
        let bytes = Self.module(size: 300_000)
        let hash = SHA256.hex(bytes)
        var last: ModuleRef?
        for (offset, part) in Self.parts(bytes, of: 100_000) {
            last = try store.addPart(hash: hash, offset: offset, size: bytes.count, bytes: part).get()
        }
        #expect(last == ModuleRef(module: hash, size: bytes.count))
    }

    @Test func aPartOutOfOrderIsRefusedAndTheUploadGoesOn() throws {
        let store = ModuleStore(dataDirectory: nil)
        let bytes = Self.module(size: 30_000)
        let hash = SHA256.hex(bytes)
        let p = Self.parts(bytes, of: 10_000)
        #expect(try store.addPart(hash: hash, offset: 0, size: bytes.count, bytes: p[0].1).get().received == 10_000)
        guard case .failure(let e) = store.addPart(hash: hash, offset: 20_000, size: bytes.count, bytes: p[2].1) else {
            Issue.record("a skipped part was accepted")
            return
        }
        #expect(e.description.contains("expected offset 10000"))
        #expect(try store.addPart(hash: hash, offset: 10_000, size: bytes.count, bytes: p[1].1).get().received == 20_000)
        #expect(try store.addPart(hash: hash, offset: 20_000, size: bytes.count, bytes: p[2].1).get() == ModuleRef(module: hash, size: bytes.count))
        // Stored: another upload of it stops at its first part.
        #expect(try store.addPart(hash: hash, offset: 0, size: bytes.count, bytes: p[0].1).get().received == nil)
    }

    @Test func partsThatDoNotHashToTheNameAreRefusedWhole() throws {
        let store = ModuleStore(dataDirectory: nil)
        let bytes = Self.module(size: 20_000)
        let claimed = SHA256.hex(Self.module(size: 20_000, fill: 0x62))
        let p = Self.parts(bytes, of: 10_000)
        _ = try store.addPart(hash: claimed, offset: 0, size: bytes.count, bytes: p[0].1).get()
        guard case .failure(let e) = store.addPart(hash: claimed, offset: 10_000, size: bytes.count, bytes: p[1].1) else {
            Issue.record("parts with another hash were stored")
            return
        }
        #expect(e.description.contains("SHA-256 is not"))
        #expect(store.get(claimed) == nil)
        guard case .failure = store.addPart(hash: claimed, offset: 10_000, size: bytes.count, bytes: p[1].1) else {
            Issue.record("the refused upload is still open")
            return
        }
    }

    @Test func sizesAndNamesOutsideTheLimitsAreRefused() {
        let store = ModuleStore(dataDirectory: nil, maxModuleBytes: 50_000)
        let big = Self.module(size: 60_000)
        let cases: [(Result<ModuleRef, ModuleStoreError>, String)] = [
            (store.add(big), "up to 50000 bytes"),
            (store.addPart(hash: SHA256.hex(big), offset: 0, size: big.count, bytes: Array(big[0..<1000])), "up to 50000 bytes"),
            (store.addPart(hash: "not-a-hash", offset: 0, size: 10, bytes: [1]), "not a lowercase hex SHA-256"),
            (store.addPart(hash: String(repeating: "a", count: 64), offset: 0, size: 4, bytes: [1, 2, 3, 4, 5]), "past the declared size"),
            (store.addPart(hash: String(repeating: "b", count: 64), offset: 8, size: 40, bytes: [1]), "no upload"),
        ]
        for (result, reason) in cases {
            guard case .failure(let e) = result else {
                Issue.record("accepted; expected a refusal with '\(reason)'")
                continue
            }
            #expect(e.description.contains(reason), "\(e.description)")
        }
    }

    @Test func theQuotaCountsModulesOnDiskAfterARestartAndNamesItsLimit() throws {
        let dir = tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var quota = ModuleQuota()
        quota.maxCount = 2
        quota.maxBytes = 25_000
        let store = ModuleStore(dataDirectory: dir, quota: quota)
        let a = Self.module(size: 10_000, fill: 1), b = Self.module(size: 10_000, fill: 2), c = Self.module(size: 6_000, fill: 3)
        _ = try store.add(a).get()
        _ = try store.add(a).get()  // the same module again costs nothing
        guard case .failure(let overBytes) = store.add(Self.module(size: 16_000)) else {
            Issue.record("a module past modules_max_bytes was stored")
            return
        }
        #expect(overBytes.description.contains("over modules_max_bytes 25000 (--modules-max-bytes)"), "\(overBytes)")
        _ = try store.add(b).get()
        // Restarted: the two modules on disk count.
        let restarted = ModuleStore(dataDirectory: dir, quota: quota)
        #expect(restarted.totalBytes == 20_000 && restarted.list().modules.count == 2)
        guard case .failure(let overCount) = restarted.add(c) else {
            Issue.record("a module past modules_max_count was stored")
            return
        }
        #expect(overCount.description.contains("modules_max_count is 2 (--modules-max-count)"), "\(overCount)")
        // A module sent in parts is refused at its first part, before its bytes are held.
        guard case .failure(let early) = restarted.addPart(hash: SHA256.hex(c), offset: 0, size: c.count, bytes: Array(c[0..<1000])) else {
            Issue.record("an upload past the quota was started")
            return
        }
        #expect(early == overCount)
        // Removing one makes room; its file is gone.
        #expect(try restarted.remove(SHA256.hex(a)).get().size == 10_000)
        #expect(!FileManager.default.fileExists(atPath: dir + "/modules/" + SHA256.hex(a) + ".wasm"))
        #expect(restarted.get(SHA256.hex(a)) == nil)
        _ = try restarted.add(c).get()
        #expect(ModuleStore(dataDirectory: dir, quota: quota).list().modules.map(\.module).sorted() == [SHA256.hex(b), SHA256.hex(c)].sorted())
    }

    @Test func removingAnUnknownModuleOrANonHashIsRefused() {
        let store = ModuleStore(dataDirectory: nil)
        guard case .failure(let unknown) = store.remove(String(repeating: "a", count: 64)),
              case .failure(let notHash) = store.remove("../../etc/passwd") else {
            Issue.record("removed something that was not stored")
            return
        }
        #expect(unknown.kind == .notFound && notHash.kind == .badRequest)
    }
}
