import Drone
import HiveCore
import Synchronization
import Testing

/// A task's stdin blob on the drone: fetched from honeycombd (here a stand-in source), verified against its name,
/// cached by hash, bounded; and an exec task's output that cannot travel in a result is kept raw for upload.
@Suite struct BlobInputsTests {
    static func assignment(_ input: TaskInput) -> Assignment {
        Assignment(task: "g1.1", goal: "g1", attempt: 1, token: "t", kind: "exec", input: input, index: 0, timeoutMillis: 5_000)
    }

    static func catInput(_ bytes: [UInt8], name: String? = nil) -> TaskInput {
        var input = TaskInput(command: "/bin/cat")
        input.stdinBlob = name ?? BlobRef.name(hash: SHA256.hex(bytes))
        input.size = bytes.count
        return input
    }

    @Test func binaryStdinReachesTheCommandByteForByteAndIsFetchedOnce() async {
        let bytes = (0..<70_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        let fetches = Atomic<Int>(0)
        let source = ContentSource()
        source.connect { _ in
            fetches.add(1, ordering: .relaxed)
            return bytes
        }
        let inputs = BlobInputs(source: source)
        let b = ExecBackend(allowed: ["/bin/cat"], outputCap: 1 << 20, inputs: inputs)
        for _ in 0..<2 {
            let r = await b.run(Self.assignment(Self.catInput(bytes)))
            #expect(r.succeeded && r.rawOutput == bytes, "\(r.error ?? "")")
        }
        #expect(fetches.load(ordering: .relaxed) == 1 && inputs.cached == 1)
    }

    @Test func bytesThatHashOtherwiseOrABlobOverTheLimitFailTheTask() async {
        let bytes: [UInt8] = Array("the real input".utf8)
        let source = ContentSource()
        source.connect { _ in bytes + [0] }  // tampered in transit
        let b = ExecBackend(allowed: ["/bin/cat"], inputs: BlobInputs(source: source, maxBlobBytes: 100))
        let tampered = await b.run(Self.assignment(Self.catInput(bytes)))
        #expect(!tampered.succeeded && tampered.error?.contains("failed verification") == true, "\(tampered.error ?? "")")
        var big = Self.catInput(bytes)
        big.size = 101
        let over = await b.run(Self.assignment(big))
        #expect(over.error?.contains("at most 100 bytes (--max-blob-bytes)") == true, "\(over.error ?? "")")
        let notAName = await b.run(Self.assignment(Self.catInput(bytes, name: "../../etc/passwd")))
        #expect(notAName.permanent == true && notAName.error?.contains("is not sha256:") == true)
    }

    /// honeycombd's `not_found` (it holds no such blob) fails the task for good; any other failure may pass on a
    /// retry, whatever its message says (the drone judged by matching "unknown blob" in the text before kinds travelled).
    @Test func aFetchFailureIsPermanentByItsKindNotItsText() async {
        let bytes: [UInt8] = Array("input".utf8)
        for (error, permanent) in [(APIError(.notFound, "no such thing"), true), (APIError(.unavailable, "unknown blob, try later"), false),
                                   (APIError("unknown blob"), false)] {
            let source = ContentSource()
            source.connect { _ in throw error }
            let b = ExecBackend(allowed: ["/bin/cat"], inputs: BlobInputs(source: source))
            let r = await b.run(Self.assignment(Self.catInput(bytes)))
            #expect(!r.succeeded && (r.permanent == true) == permanent, "\(error.kind): \(r.error ?? "")")
        }
    }

    @Test func aPromptBlobResolvesToItsTextAndBytesThatAreNotUTF8AreRefusedForGood() async {
        let text = String(repeating: "ünïcödé document ", count: 2_000) + "END"
        let binary: [UInt8] = [0x61, 0xFF, 0xFE, 0x62]
        let source = ContentSource()
        source.connect { name in name == BlobRef.name(hash: SHA256.hex(binary)) ? binary : Array(text.utf8) }
        let inputs = BlobInputs(source: source)
        func input(_ bytes: [UInt8]) -> TaskInput {
            var i = TaskInput(system: "be brief", maxTokens: 8)
            i.promptBlob = BlobRef.name(hash: SHA256.hex(bytes))
            i.size = bytes.count
            return i
        }
        guard case .input(let resolved?) = await inputs.resolvingPrompt(input(Array(text.utf8))) else {
            Issue.record("not resolved"); return
        }
        #expect(resolved.prompt == text && resolved.promptBlob == nil && resolved.size == nil && resolved.system == "be brief")
        guard case .refused(let o) = await inputs.resolvingPrompt(input(binary)) else { Issue.record("binary accepted"); return }
        #expect(o.permanent == true && o.error?.contains("is not UTF-8 text: a prompt must be text") == true, "\(o.error ?? "")")
        guard case .input(let plain) = await inputs.resolvingPrompt(TaskInput(prompt: "inline")) else { Issue.record("inline"); return }
        #expect(plain?.prompt == "inline")
    }

    @Test func smallTextOutputStaysInlineAndLargeOrBinaryOutputIsKeptRaw() {
        var o = BackendOutcome(succeeded: true, output: "ok\n")
        o.keepRaw(Array("ok\n".utf8))
        #expect(o.rawOutput == nil)
        o.keepRaw([0xFF, 0xFE])
        #expect(o.rawOutput == [0xFF, 0xFE])
        o.keepRaw([UInt8](repeating: 0x61, count: BlobTransfer.inlineThreshold + 1))
        #expect(o.rawOutput?.count == BlobTransfer.inlineThreshold + 1)
    }
}
