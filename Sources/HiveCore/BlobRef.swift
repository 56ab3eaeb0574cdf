import FoundationEssentials

/// A blob in honeycombd's store: bytes too large (or not text enough) to travel inside a goal or a result, named by
/// their SHA-256 (`sha256:` + 64 lowercase hex digits) and size. Task inputs name one as `stdin_blob`, results as
/// `output_blob`; the journal holds these references only, never the bytes.
///
/// As a `blob_get` request `offset` asks for the part from there on; as the reply to one part of a `blob_add`,
/// `received` says how many bytes honeycombd holds so far (absent once the blob is stored).
public struct BlobRef: Codable, Sendable, Equatable, Hashable {
    public var blob: String
    public var size: Int?
    public var offset: Int?
    public var received: Int?

    public init(blob: String, size: Int? = nil, offset: Int? = nil, received: Int? = nil) {
        self.blob = blob
        self.size = size
        self.offset = offset
        self.received = received
    }

    /// The prefix that says how a blob's name was computed.
    public static let scheme = "sha256:"

    /// `sha256:HEX` for a SHA-256 in hex.
    public static func name(hash: String) -> String { scheme + hash }

    /// The lowercase hex SHA-256 a blob name stands for (`sha256:HEX`, or a bare `HEX`), or nil when it is not one.
    public static func hash(of name: String) -> String? {
        let hex = name.hasPrefix(scheme) ? String(name.dropFirst(scheme.count)) : name
        let ok = hex.utf8.count == 64 && hex.utf8.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) }
        return ok ? hex : nil
    }

    /// This blob's hex SHA-256, or nil when `blob` is not a blob name.
    public var hash: String? { Self.hash(of: blob) }
}

/// A blob a task's result names (`output_blob`): its name and size, nothing else (results and journal events are
/// copied on every dispatch, so this stays two words).
public struct StoredBlob: Codable, Sendable, Equatable, Hashable {
    public var blob: String
    public var size: Int
    public init(blob: String, size: Int) {
        self.blob = blob
        self.size = size
    }
    /// This blob's hex SHA-256, or nil when `blob` is not a blob name.
    public var hash: String? { BlobRef.hash(of: blob) }
}

/// `blob_has`: which of `blobs` honeycombd holds (the request lists names; the reply lists the ones held), so that a
/// client uploads each input once.
public struct BlobHas: Codable, Sendable, Equatable {
    public var blobs: [String]
    public init(blobs: [String]) { self.blobs = blobs }
    /// The most names one request may ask about.
    public static let maxNames = 1024
}

/// Blobs move over the bus in parts like modules (`ModuleTransfer`): raw bytes in the payload, never JSON-escaped;
/// each `blob_add` part carries the blob's hash, the part's offset and the whole size in NATS headers, in order from
/// offset 0; `blob_get` replies carry the whole size, and the reader asks again from where the part ended.
public enum BlobTransfer {
    public static let hashHeader = "Hive-Blob"
    public static let offsetHeader = "Hive-Blob-Offset"
    public static let sizeHeader = "Hive-Blob-Size"
    /// Inputs and outputs up to this many bytes (and valid UTF-8) travel inline in the goal or result; larger ones,
    /// and binary ones, as blobs.
    public static let inlineThreshold = 16 * 1024

    /// The one rule for what travels inline (task inputs, prompts, outputs): `bytes` as text when they are at most
    /// `inlineThreshold` bytes of valid UTF-8; nil when they travel as a blob.
    public static func inlineText(_ bytes: [UInt8]) -> String? {
        bytes.count <= inlineThreshold ? String(validating: bytes, as: UTF8.self) : nil
    }

    /// The part size for a connection whose server accepts `maxPayload`-byte messages (as modules').
    public static func partSize(maxPayload: Int) -> Int { ModuleTransfer.partSize(maxPayload: maxPayload) }
}

/// The one `blob_add` client: `hive` (task inputs) and drones (outputs) both upload through it.
public enum BlobUpload {
    /// Sends `bytes` as a blob in parts of at most `partSize` bytes, in order from offset 0, each with its headers
    /// (`BlobTransfer`); `request` sends one part (payload, headers) and returns honeycombd's reply. Returns the
    /// stored blob. honeycombd answers a part of a blob it already holds with the stored blob at once, and the
    /// upload stops there. Throws honeycombd's refusal (`APIError`) as it is.
    public static func send(_ bytes: [UInt8], partSize: Int,
                            request: ([UInt8], [(String, String)]) async throws -> [UInt8]) async throws -> BlobRef {
        let name = BlobRef.name(hash: SHA256.hex(bytes))
        let step = Swift.max(partSize, 1)
        var offset = 0
        while true {
            let end = offset + Swift.min(bytes.count - offset, step)
            let reply = try await request(Array(bytes[offset..<end]), [(BlobTransfer.hashHeader, name),
                                                                        (BlobTransfer.offsetHeader, String(offset)),
                                                                        (BlobTransfer.sizeHeader, String(bytes.count))])
            if let e = try? JSONDecoder().decode(APIError.self, from: Data(reply)) { throw e }
            let ref: BlobRef
            do { ref = try JSONDecoder().decode(BlobRef.self, from: Data(reply)) } catch {
                throw APIError("honeycombd's reply to blob_add is not a blob reference: \(String(decoding: reply.prefix(200), as: UTF8.self))")
            }
            guard let received = ref.received else { return ref }
            guard received == end, end < bytes.count else {
                throw APIError("blob_add: honeycombd holds \(received) bytes of \(name) after \(end) were sent")
            }
            offset = end
        }
    }
}
