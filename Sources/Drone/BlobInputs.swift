import HiveCore
import HiveSystem

/// A task's stdin as bytes: its inline `stdin` text, or the blob its `stdin_blob` names, fetched from honeycombd in
/// parts (`DroneRuntime.fetchBlob`), checked against its SHA-256 (the bytes are untrusted until they hash to the
/// name) and kept in a bounded cache by hash, so the tasks of one fork fetch their shared input once.
public final class BlobInputs: Sendable {
    let source: ContentSource
    let cache: BoundedCache<[UInt8]>
    /// The largest blob this drone fetches (`--max-blob-bytes`; honeycombd's own bound is 64 MiB by default).
    public let maxBlobBytes: Int

    /// `cacheBytes`: fetched inputs kept (`--blob-cache-mb`); none connected: a task naming a blob fails.
    public init(source: ContentSource = ContentSource(), maxBlobBytes: Int = 64 << 20, cacheBytes: Int = 256 << 20) {
        self.source = source
        self.maxBlobBytes = max(0, maxBlobBytes)
        cache = BoundedCache(maxEntries: 1024, maxBytes: cacheBytes)
    }

    /// Blob inputs cached now (tests).
    public var cached: Int { cache.count }

    /// A task's stdin, or why it has none (the task's outcome).
    enum Stdin {
        case bytes([UInt8])
        case refused(BackendOutcome)
    }

    /// A task's input with its prompt inline, or why it has none (the task's outcome).
    public enum Prompt: Sendable {
        case input(TaskInput?)
        case refused(BackendOutcome)
    }

    /// The stdin bytes `input` names, or the failure the task reports.
    func stdin(of input: TaskInput?) async -> Stdin {
        guard let name = input?.stdinBlob else { return .bytes(Array((input?.stdin ?? "").utf8)) }
        if input?.stdin != nil { return .refused(.failure("a task has stdin or stdin_blob, not both", permanent: true)) }
        return await blob(name, size: input?.size, field: "stdin_blob")
    }

    /// `input` with its `prompt_blob` resolved to `prompt` (the text, as if it had been inline), or the failure the
    /// task reports: a blob that is not UTF-8 text is refused for good. An input without one is returned as it is.
    public func resolvingPrompt(_ input: TaskInput?) async -> Prompt {
        guard var resolved = input, let name = resolved.promptBlob else { return .input(input) }
        if resolved.prompt != nil { return .refused(.failure("a task has prompt or prompt_blob, not both", permanent: true)) }
        switch await blob(name, size: resolved.size, field: "prompt_blob") {
        case .refused(let outcome): return .refused(outcome)
        case .bytes(let bytes):
            guard let text = String(validating: bytes, as: UTF8.self) else {
                return .refused(.failure("prompt blob \(name) is not UTF-8 text: a prompt must be text", permanent: true))
            }
            resolved.prompt = text
            resolved.promptBlob = nil
            resolved.size = nil
            return .input(resolved)
        }
    }

    /// The blob `name` (the task's `field`), from the cache or fetched and checked against its hash.
    private func blob(_ name: String, size: Int?, field: String) async -> Stdin {
        guard let hash = BlobRef.hash(of: name) else {
            return .refused(.failure("input.\(field) '\(name.prefix(80))' is not sha256: and 64 hex digits", permanent: true))
        }
        if let size, size > maxBlobBytes {
            return .refused(.failure("input blob \(name) is \(size) bytes; this drone fetches blobs of at most \(maxBlobBytes) bytes (--max-blob-bytes)",
                                     permanent: false))
        }
        if let bytes = cache.get(hash) { return .bytes(bytes) }
        let fetched: [UInt8]
        do { fetched = try await source.fetch(BlobRef.name(hash: hash)) } catch {
            // honeycombd does not hold it (`not_found`): no retry can fetch it. Anything else (a timeout, a reply lost
            // on the way) may pass.
            return .refused(.failure("cannot fetch input blob \(name): \(error)", permanent: (error as? APIError)?.kind == .notFound))
        }
        // Up to --max-blob-bytes hashed: off the cooperative pool, where it would hold other tasks' results.
        let actual = await ThreadPool.blocking.value { SHA256.hex(fetched) }
        guard actual == hash else {
            return .refused(.failure("input blob \(name) failed verification: honeycombd sent bytes whose SHA-256 is \(actual)"))
        }
        cache.put(hash, fetched, bytes: fetched.count)
        return .bytes(fetched)
    }
}

/// A model or agent task whose prompt is a blob: resolves it (`BlobInputs.resolvingPrompt`) and runs the task on
/// the backend as if the prompt had been inline. The drone wraps the one backend of such an assignment in it when
/// it accepts the task, so every model backend sees text, and the fetch runs under the task's deadline.
struct PromptBlobResolution: Backend {
    let backend: any Backend
    let inputs: BlobInputs
    var kind: String { backend.kind }
    var capabilities: [String] { backend.capabilities }

    func run(_ task: Assignment) async -> BackendOutcome {
        switch await inputs.resolvingPrompt(task.input) {
        case .refused(let outcome): return outcome
        case .input(let input):
            var resolved = task
            resolved.input = input
            return await backend.run(resolved)
        }
    }
}
