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

    /// The stdin bytes `input` names, or the failure the task reports.
    func stdin(of input: TaskInput?) async -> Stdin {
        guard let name = input?.stdinBlob else { return .bytes(Array((input?.stdin ?? "").utf8)) }
        guard let hash = BlobRef.hash(of: name) else {
            return .refused(.failure("input.stdin_blob '\(name.prefix(80))' is not sha256: and 64 hex digits", permanent: true))
        }
        if input?.stdin != nil { return .refused(.failure("a task has stdin or stdin_blob, not both", permanent: true)) }
        if let size = input?.size, size > maxBlobBytes {
            return .refused(.failure("input blob \(name) is \(size) bytes; this drone fetches blobs of at most \(maxBlobBytes) bytes (--max-blob-bytes)",
                                     permanent: false))
        }
        if let bytes = cache.get(hash) { return .bytes(bytes) }
        let fetched: [UInt8]
        do { fetched = try await source.fetch(BlobRef.name(hash: hash)) } catch {
            return .refused(.failure("cannot fetch input blob \(name): \(error)", permanent: "\(error)".contains("unknown blob")))
        }
        let actual = SHA256.hex(fetched)
        guard actual == hash else {
            return .refused(.failure("input blob \(name) failed verification: honeycombd sent bytes whose SHA-256 is \(actual)"))
        }
        cache.put(hash, fetched, bytes: fetched.count)
        return .bytes(fetched)
    }
}
