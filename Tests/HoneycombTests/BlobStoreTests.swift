import Foundation
import HiveCore
@testable import Honeycomb
import NATSWire
import Testing

/// honeycombd's blob store: task inputs and outputs in parts (in order, bounded, hash-checked), written durably
/// under DATA/blobs/HASH, kept while a retained goal names them.
@Suite struct BlobStoreTests {
    static func random(_ n: Int, seed: UInt64 = 7) -> [UInt8] {
        var rng = SplitMix64(seed: seed)
        return (0..<n).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
    }

    /// Uploads `bytes` in parts of `part` bytes; returns the last reply.
    static func upload(_ store: BlobStore, _ bytes: [UInt8], part: Int = 100_000, grace: Duration = BlobStore.evictionGrace,
                       referenced: Set<String> = []) -> Result<BlobRef, ContentStoreError> {
        let name = BlobRef.name(hash: SHA256.hex(bytes))
        var last: Result<BlobRef, ContentStoreError> = .failure(ContentStoreError(.unknown(name), BlobStore.words))
        for offset in stride(from: 0, to: bytes.count, by: part) {
            last = store.addPart(blob: name, offset: offset, size: bytes.count, bytes: Array(bytes[offset..<min(bytes.count, offset + part)]),
                                 grace: grace, referenced: { referenced })
            if case .failure = last { return last }
        }
        return last
    }

    @Test func binaryPartsAreStoredDurablyAndReadBackByAStoreRestartedOnTheSameDirectory() throws {
        let dir = tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let bytes = Self.random(350_000)
        let hash = SHA256.hex(bytes)
        let ref = try Self.upload(BlobStore(dataDirectory: dir), bytes).get()
        #expect(ref == BlobRef(blob: "sha256:" + hash, size: bytes.count))
        #expect(FileManager.default.contents(atPath: dir + "/blobs/" + hash) == Data(bytes))
        // A restart (a new store on the same directory, as after kill -9) indexes it and serves it in parts.
        let restarted = BlobStore(dataDirectory: dir)
        #expect(restarted.contains(ref.blob) && restarted.size(of: ref.blob) == bytes.count && restarted.totalBytes == bytes.count)
        var back: [UInt8] = []
        while back.count < bytes.count {
            guard let part = restarted.read(ref.blob, offset: back.count, count: 64_000) else { Issue.record("read"); return }
            #expect(part.size == bytes.count)
            back += part.bytes
        }
        #expect(back == bytes)
        // A write a crash cut short leaves only a .tmp, which the next start removes; it is no blob.
        _ = FileManager.default.createFile(atPath: dir + "/blobs/" + String(repeating: "c", count: 64) + ".tmp", contents: Data([1]))
        #expect(BlobStore(dataDirectory: dir).count == 1)
        #expect(!FileManager.default.fileExists(atPath: dir + "/blobs/" + String(repeating: "c", count: 64) + ".tmp"))
    }

    @Test func partsThatHashOtherwiseAreRefusedNamingBothHashesAndNothingIsStored() {
        let store = BlobStore(dataDirectory: nil)
        let bytes = Self.random(20_000)
        let claimed = String(repeating: "ab", count: 32)
        _ = store.addPart(blob: "sha256:" + claimed, offset: 0, size: bytes.count, bytes: Array(bytes[..<10_000]), referenced: { [] })
        guard case .failure(let e) = store.addPart(blob: "sha256:" + claimed, offset: 10_000, size: bytes.count,
                                                   bytes: Array(bytes[10_000...]), referenced: { [] }) else {
            Issue.record("a mismatch was stored"); return
        }
        #expect(e.description.contains("SHA-256 is not \(claimed)") && e.description.contains(SHA256.hex(bytes)), "\(e)")
        #expect(store.count == 0 && !store.contains("sha256:" + claimed))
        guard case .failure(let notAName) = store.addPart(blob: "../../etc/passwd", offset: 0, size: 1, bytes: [1], referenced: { [] }) else {
            Issue.record("a path was taken for a name"); return
        }
        #expect(notAName.description.contains("is not a lowercase hex SHA-256"))
    }

    @Test func eachLimitIsRefusedNamingItsFlag() {
        var quota = BlobQuota()
        (quota.maxBlobBytes, quota.maxBytes, quota.maxCount) = (50_000, 100_000, 2)
        let store = BlobStore(dataDirectory: nil, quota: quota)
        guard case .failure(let big) = Self.upload(store, Self.random(60_000)) else { Issue.record("too large accepted"); return }
        #expect(big.description.contains("honeycombd accepts blobs up to 50000 bytes (--max-blob-bytes)"), "\(big)")
        #expect(big.kind == .badRequest)
        _ = Self.upload(store, Self.random(45_000, seed: 1))
        _ = Self.upload(store, Self.random(45_000, seed: 2))
        guard case .failure(let count) = Self.upload(store, Self.random(5_000, seed: 3)) else { Issue.record("past max_blobs"); return }
        #expect(count.description.contains("max_blobs is 2 (--max-blobs)") && count.kind == .storageFull, "\(count)")
        var roomy = quota
        roomy.maxCount = 10
        let bytesStore = BlobStore(dataDirectory: nil, quota: roomy)
        _ = Self.upload(bytesStore, Self.random(45_000, seed: 1))
        _ = Self.upload(bytesStore, Self.random(45_000, seed: 2))
        guard case .failure(let bytes) = Self.upload(bytesStore, Self.random(20_000, seed: 3)) else { Issue.record("past the store's bytes"); return }
        #expect(bytes.description.contains("over blob_store_bytes 100000 (--blob-store-bytes)"), "\(bytes)")
    }

    @Test func blobsARetainedGoalNamesAreKeptAndOnlyUnreferencedOnesPastTheirGraceMakeRoom() throws {
        var quota = BlobQuota()
        (quota.maxBytes, quota.maxCount) = (100_000, 100)
        let store = BlobStore(dataDirectory: nil, quota: quota)
        let a = try Self.upload(store, Self.random(45_000, seed: 1)).get()
        let b = try Self.upload(store, Self.random(45_000, seed: 2)).get()
        // Within the grace (an input uploaded for a goal not yet submitted) nothing is evicted: the store is full.
        guard case .failure = Self.upload(store, Self.random(20_000, seed: 3)) else { Issue.record("evicted within the grace"); return }
        // Past it, the blob a retained goal names stays; the unreferenced one makes room.
        let c = try Self.upload(store, Self.random(20_000, seed: 3), grace: .zero, referenced: [a.hash!]).get()
        #expect(store.contains(a.blob) && !store.contains(b.blob) && store.contains(c.blob))
        // Everything referenced: refused, nothing removed.
        guard case .failure(let full) = Self.upload(store, Self.random(45_000, seed: 4), grace: .zero, referenced: [a.hash!, c.hash!]) else {
            Issue.record("a referenced blob was evicted"); return
        }
        #expect(full.kind == .storageFull && store.contains(a.blob) && store.contains(c.blob))
    }

    @Test func theServiceRefusesAGoalNamingABlobItDoesNotHoldAndServesTheOnesItDoes() async throws {
        try await withService { service, _ in
            let bytes = Self.random(3_000)
            let name = BlobRef.name(hash: SHA256.hex(bytes))
            var input = TaskInput(command: "/bin/cat")
            input.stdinBlob = name
            input.size = bytes.count
            let spec = GoalSpec(name: "cat", root: TaskSpec(kind: "exec", input: input))
            let missing = refusal(await service.handle(.submit(spec, traceparent: nil), principal: "t"))
            #expect(missing?.kind == .badRequest && missing?.error.contains("root.input.stdin_blob: honeycombd holds no blob '\(name)'") == true,
                    "\(missing?.error ?? "")")
            #expect(try decoded(await service.handle(.blobHas([name]), principal: "t"), as: BlobHas.self).blobs.isEmpty)
            let stored = try decoded(await service.handle(.blobAddPart(blob: name, offset: 0, size: bytes.count, bytes: bytes), principal: "t"),
                                     as: BlobRef.self)
            #expect(stored == BlobRef(blob: name, size: bytes.count))
            #expect(try decoded(await service.handle(.blobHas([name, "sha256:" + String(repeating: "0", count: 64)]), principal: "t"),
                                as: BlobHas.self).blobs == [name])
            guard case .success(let part) = await service.handle(.blobGet(blob: name, offset: 1_000), principal: "t") else {
                Issue.record("blob_get"); return
            }
            #expect(part.body == Array(bytes[1_000...]) && part.headers.contains { $0.name == BlobTransfer.sizeHeader && $0.value == "3000" })
            #expect(refusal(await service.handle(.blobGet(blob: "sha256:" + String(repeating: "0", count: 64), offset: nil), principal: "t"))?.kind == .notFound)
            let ref = try decoded(await service.handle(.submit(spec, traceparent: nil), principal: "t"), as: GoalRef.self)
            #expect(await service.referencedBlobs() == [SHA256.hex(bytes)], "the goal holds its input")
            _ = ref
        }
    }

    @Test func aPromptBlobIsAcceptedOnlyHeldAtItsSizeOnAModelTaskAndBudgetedByThatSize() async throws {
        try await withService { service, _ in
            let bytes = Array(String(repeating: "a document. ", count: 200).utf8)
            let name = BlobRef.name(hash: SHA256.hex(bytes))
            func goal(kind: String = "model", _ edit: (inout TaskInput) -> Void = { _ in }) -> GoalSpec {
                var input = TaskInput(maxTokens: 16)
                input.promptBlob = name
                input.size = bytes.count
                edit(&input)
                return GoalSpec(name: "p", root: TaskSpec(kind: kind, input: input))
            }
            func refused(_ spec: GoalSpec) async -> String {
                refusal(await service.handle(.submit(spec, traceparent: nil), principal: "t"))?.error ?? ""
            }
            let missing = await refused(goal())
            #expect(missing.contains("root.input.prompt_blob: honeycombd holds no blob '\(name)'"), "\(missing)")
            _ = try decoded(await service.handle(.blobAddPart(blob: name, offset: 0, size: bytes.count, bytes: bytes), principal: "t"),
                            as: BlobRef.self)
            let wrongSize = await refused(goal { $0.size = 10 })
            #expect(wrongSize.contains("root.input.size is 10, but blob '\(name)' is \(bytes.count) bytes"), "\(wrongSize)")
            let both = await refused(goal { $0.prompt = "inline too" })
            #expect(both.contains("root.input.prompt_blob: a task has prompt or prompt_blob, not both"), "\(both)")
            let exec = await refused(goal(kind: "exec") { $0.command = "/bin/cat" })
            #expect(exec.contains("prompt_blob is for model and agent tasks"), "\(exec)")
            let noSize = await refused(goal { $0.size = nil })
            #expect(noSize.contains("prompt_blob needs size"), "\(noSize)")
            let notAName = await refused(goal { $0.promptBlob = "sha256:../../etc/passwd" })
            #expect(notAName.contains("root.input.prompt_blob"), "\(notAName)")
            // Budgets read the blob's size as the prompt's bytes.
            #expect(TaskSpec.worstCaseTokens(kind: "model", input: goal().root.input) == bytes.count + 64 + 16)
            _ = try decoded(await service.handle(.submit(goal(), traceparent: nil), principal: "t"), as: GoalRef.self)
            #expect(await service.referencedBlobs() == [SHA256.hex(bytes)], "the goal holds its prompt")
        }
    }

    @Test func blobVerbsDecodeFromTheBusWithTheirHeaders() {
        let headers: NATSHeaders = [BlobTransfer.hashHeader: "sha256:ab", BlobTransfer.offsetHeader: "0", BlobTransfer.sizeHeader: "2"]
        guard case .success(.blobAddPart("sha256:ab", 0, 2, [0x7B, 0x00])) = APIRequest.bus(verb: "blob_add", payload: [0x7B, 0x00], headers: headers,
                                                                                          maxSpecBytes: 10) else {
            Issue.record("blob part"); return
        }
        guard case .failure(let noHeaders) = APIRequest.bus(verb: "blob_add", payload: [1], headers: nil, maxSpecBytes: 10) else {
            Issue.record("a part without headers"); return
        }
        #expect(noHeaders.kind == .badRequest && noHeaders.error.contains(BlobTransfer.offsetHeader))
        guard case .success(.blobGet("sha256:ab", 5)) = APIRequest.bus(verb: "blob_get", payload: Array(#"{"blob": "sha256:ab", "offset": 5}"#.utf8),
                                                                         headers: nil, maxSpecBytes: 10) else {
            Issue.record("blob_get"); return
        }
        let many = BlobHas(blobs: Array(repeating: "x", count: BlobHas.maxNames + 1))
        guard case .failure(let tooMany) = APIRequest.bus(verb: "blob_has", payload: Array(try! JSONEncoder().encode(many)), headers: nil, maxSpecBytes: 10) else {
            Issue.record("blob_has unbounded"); return
        }
        #expect(tooMany.error.contains("at most \(BlobHas.maxNames)"))
    }
}
