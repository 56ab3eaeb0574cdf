import Foundation
import HiveCore
import NATSClient
import NATSWire

/// `hive submit --input FILE`: inputs up to `BlobTransfer.inlineThreshold` that are UTF-8 text travel inline as
/// `stdin`; larger or binary ones are uploaded as blobs (raw bytes in parts, never JSON-escaped) and named by
/// `stdin_blob` + `size`. Read as bytes, so binary input arrives byte for byte.
enum TaskStdin {
    case inline(String)
    case blob(Data)

    init(_ data: Data) {
        self = BlobTransfer.inlineText([UInt8](data)).map(Self.inline) ?? .blob(data)
    }
}

/// `hive submit --prompt-file FILE`: a prompt up to `BlobTransfer.inlineThreshold` travels inline as `prompt`; a
/// larger one is uploaded as a blob and named by `prompt_blob` + `size`. A prompt is text: other bytes are refused.
enum PromptFile {
    case inline(String)
    case blob(Data)
    case notText

    init(_ data: Data) {
        if let text = BlobTransfer.inlineText([UInt8](data)) {
            self = .inline(text)
        } else {
            self = String(validating: [UInt8](data), as: UTF8.self) == nil ? .notText : .blob(data)
        }
    }
}

/// Uploads `data` as a blob unless honeycombd holds it already (`blob_has`: identical inputs upload once); returns
/// its reference.
func uploadBlob(_ data: Data, cli: ControlCLI, nc: NATSClient) async throws -> BlobRef {
    let bytes = [UInt8](data)
    let name = BlobRef.name(hash: SHA256.hex(bytes))
    let held = try await cli.call(nc, APISubject.blobHas, BlobHas(blobs: [name]), as: BlobHas.self)
    if held.blobs.contains(name) { return BlobRef(blob: name, size: bytes.count) }
    return try await BlobUpload.send(bytes, partSize: BlobTransfer.partSize(maxPayload: nc.maxPayload)) { part, headers in
        try await nc.request(APISubject.blobAdd, part, headers: NATSHeaders(pairs: headers), timeout: 30).payload
    }
}

/// A blob's bytes from honeycombd, in parts (`PartDownload`: each reply carries the whole size; a reply without it
/// is an error), at most `limit` bytes (`--max-blob-bytes`) and no more than the size the reference names, checked
/// against its name's SHA-256.
func fetchBlob(_ ref: BlobRef, limit: Int, nc: NATSClient) async throws -> [UInt8] {
    guard let hash = ref.hash else { throw APIError("'\(ref.blob.prefix(80))' is not a blob name (sha256:HEX)") }
    let item = PartDownload.Item(noun: "blob", name: ref.blob, limitFlag: "--max-blob-bytes")
    let bytes = try await PartDownload.fetch(item, limit: min(limit, ref.size ?? limit), sizeRequired: true) { offset in
        let reply = try await nc.request(APISubject.blobGet, Array(JSONEncoder().encode(BlobRef(blob: ref.blob, offset: offset))), timeout: 30)
        return PartDownload.Reply(payload: reply.payload, size: reply.headers?[BlobTransfer.sizeHeader].flatMap(Int.init))
    }
    let actual = SHA256.hex(bytes)
    guard actual == hash else { throw APIError("blob \(ref.blob) arrived with SHA-256 \(actual): not the blob it names") }
    return bytes
}

/// Gives every exec and wasm task of `root` the uploaded stdin.
func withStdinBlob(_ root: TaskSpec, _ ref: BlobRef) -> TaskSpec {
    var t = root
    if t.kind == "exec" || t.kind == "wasm" {
        var input = t.input ?? TaskInput()
        input.stdin = nil
        input.stdinBlob = ref.blob
        input.size = ref.size
        t.input = input
    }
    t.children = t.children?.map { withStdinBlob($0, ref) }
    return t
}

/// `hive result GOAL --output-dir DIR`: writes each task's blob output to `DIR/TASK` (checked against its hash,
/// at most `maxBytes` each: `--max-blob-bytes`) and says so on stderr.
func writeOutputBlobs(_ r: GoalResult, to dir: String, maxBytes: Int, nc: NATSClient) async {
    do { try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) } catch {
        fail("cannot create --output-dir \(dir): \(error.localizedDescription)", code: 73)
    }
    for t in r.tasks {
        guard let stored = t.outputBlob else { continue }
        let ref = BlobRef(blob: stored.blob, size: stored.size)
        let path = (dir as NSString).appendingPathComponent(t.task)
        do {
            let bytes = try await fetchBlob(ref, limit: maxBytes, nc: nc)
            guard FileManager.default.createFile(atPath: path, contents: Data(bytes)) else {
                fail("cannot write \(path)", code: 73)
            }
            printError("wrote \(path): \(bytes.count) bytes, \(ref.blob)")
        } catch {
            fail("cannot fetch \(t.task)'s output \(ref.blob): \(ErrorSentence.of(error, urls: ""))", code: 69)
        }
    }
}
