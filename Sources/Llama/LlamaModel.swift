#if canImport(Glibc)
import Glibc
#endif
import CLlama
import HiveCore
import Synchronization

/// A GGUF model loaded once and shared by every context of the drone (the weights are never copied).
///
/// `@unchecked Sendable`: llama.cpp's model is immutable after load and safe to use from several contexts at once;
/// a context is owned by one thread (see `LlamaEngine`).
public final class LlamaModel: @unchecked Sendable {
    let model: OpaquePointer
    let vocab: OpaquePointer
    private let describe: Mutex<ModelDescriptor>
    public let path: String

    /// What the drone reports; `sha256` is empty until `computeHash()` has run.
    public var descriptor: ModelDescriptor { describe.withLock { $0 } }

    /// Loads `path` after checking it is a GGUF file. `gpuLayers` is passed through (0 on CPU-only builds).
    /// `hashFile: false` leaves the descriptor's SHA-256 for later (`computeHash()`): it reads the whole file,
    /// about a second per 100 MB, which a drone should not wait for before joining.
    public init(path: String, gpuLayers: Int32 = 0, hashFile: Bool = true) throws(LlamaError) {
        LlamaRuntime.initialize()
        guard let f = fopen(path, "rb") else { throw .fileNotFound(path) }
        var magic = [UInt8](repeating: 0, count: 4)
        let n = fread(&magic, 1, 4, f)
        fclose(f)
        guard n == 4, magic == Array("GGUF".utf8) else { throw .notGGUF(path) }
        var params = llama_model_default_params()
        params.n_gpu_layers = gpuLayers
        LlamaRuntime.clearErrors()
        guard let m = llama_model_load_from_file(path, params) else {
            throw .loadFailed(path, reason: LlamaRuntime.lastError() ?? "unknown error (is the file complete?)")
        }
        model = m
        vocab = llama_model_get_vocab(m)
        self.path = path
        var desc = [CChar](repeating: 0, count: 256)
        llama_model_desc(m, &desc, desc.count)
        let arch = LlamaModel.meta(m, "general.architecture") ?? "unknown"
        let name = LlamaModel.meta(m, "general.name") ?? String(path.split(separator: "/").last ?? "")
        describe = Mutex(ModelDescriptor(
            name: name, architecture: arch, parameters: llama_model_n_params(m), sizeBytes: llama_model_size(m),
            description: LlamaModel.string(fromNulTerminated: desc), contextLength: Int(llama_model_n_ctx_train(m)),
            sha256: hashFile ? ((try? SHA256.hexDigest(ofFile: path)) ?? "") : ""))
    }

    /// Hashes the file into the descriptor (blocking; call from a background thread).
    public func computeHash() {
        let hash = (try? SHA256.hexDigest(ofFile: path)) ?? ""
        describe.withLock { $0.sha256 = hash }
    }

    deinit { llama_model_free(model) }

    static func meta(_ m: OpaquePointer, _ key: String) -> String? {
        var buf = [CChar](repeating: 0, count: 512)
        guard llama_model_meta_val_str(m, key, &buf, buf.count) >= 0 else { return nil }
        return string(fromNulTerminated: buf)
    }

    /// A C buffer filled up to its first NUL, as a String (invalid UTF-8 is repaired, not trapped on).
    static func string(fromNulTerminated buf: [CChar]) -> String {
        let bytes = buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Tokens for `text` (with BOS when the model wants it).
    public func tokenize(_ text: String, addSpecial: Bool = true) throws(LlamaError) -> [Int32] {
        let bytes = Array(text.utf8)
        guard bytes.count < Int(Int32.max) else { throw .promptTooLong(tokens: bytes.count, context: Int(Int32.max)) }
        // One pass where the first guess holds them all (a token nearly always stands for a byte or more, plus BOS
        // and EOS; the guess capped at 16 MiB of tokens), two only when it does not: asking for the size first tokenized
        // every prompt twice.
        var tokens = [Int32](repeating: 0, count: min(bytes.count + 2, 1 << 22))
        var got = llama_tokenize(vocab, text, Int32(bytes.count), &tokens, Int32(clamping: tokens.count), addSpecial, true)
        if got < 0 {
            guard got != Int32.min else { throw .tokenizeFailed }
            tokens = [Int32](repeating: 0, count: Int(0 &- got))
            got = llama_tokenize(vocab, text, Int32(bytes.count), &tokens, Int32(clamping: tokens.count), addSpecial, true)
        }
        guard got >= 0 else { throw .tokenizeFailed }
        tokens.removeLast(tokens.count - Int(got))
        return tokens
    }

    /// The bytes a token stands for (may be part of a UTF-8 character).
    func piece(_ token: Int32) -> [UInt8] {
        var buf = [CChar](repeating: 0, count: 64)
        var n = llama_token_to_piece(vocab, token, &buf, Int32(buf.count), 0, false)
        if n < 0 {
            buf = [CChar](repeating: 0, count: Int(0 &- n))
            n = llama_token_to_piece(vocab, token, &buf, Int32(buf.count), 0, false)
        }
        return buf.prefix(Int(max(0, n))).map { UInt8(bitPattern: $0) }
    }

    func isEndOfGeneration(_ token: Int32) -> Bool { llama_vocab_is_eog(vocab, token) }

    /// Tokens in the vocabulary (the most `top_k` can mean).
    public var vocabularySize: Int { Int(llama_vocab_n_tokens(vocab)) }

    /// True when the GGUF carries a chat template.
    public var hasChatTemplate: Bool { llama_model_chat_template(model, nil) != nil }

    /// The model's chat template applied to `messages` (role, content), ready for generation.
    public func chatPrompt(_ messages: [(role: String, content: String)]) throws(LlamaError) -> String {
        guard let tmpl = llama_model_chat_template(model, nil) else { throw .templateFailed("the model has no chat template") }
        let roles = messages.map { strdup($0.role)! }
        let contents = messages.map { strdup($0.content)! }
        defer { for p in roles + contents { free(p) } }
        var chat = (0..<messages.count).map { llama_chat_message(role: roles[$0], content: contents[$0]) }
        var buf = [CChar](repeating: 0, count: 4096)
        var n = llama_chat_apply_template(tmpl, &chat, chat.count, true, &buf, Int32(buf.count))
        if n > buf.count {
            buf = [CChar](repeating: 0, count: Int(n) + 1)
            n = llama_chat_apply_template(tmpl, &chat, chat.count, true, &buf, Int32(buf.count))
        }
        guard n >= 0 else { throw .templateFailed("llama.cpp does not recognise the model's template") }
        return String(decoding: buf.prefix(Int(n)).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

/// Process-wide llama.cpp setup and the last errors it logged (its log callback cannot capture context).
enum LlamaRuntime {
    private static let state = Mutex<(initialized: Bool, errors: [String])>((false, []))

    static func initialize() {
        let first = state.withLock { s -> Bool in
            defer { s.initialized = true }
            return !s.initialized
        }
        guard first else { return }
        llama_backend_init()
        llama_log_set({ level, text, _ in
            guard let text, level == GGML_LOG_LEVEL_ERROR || level == GGML_LOG_LEVEL_WARN else { return }
            let line = String(cString: text).trimmingCharacters()
            if line.isEmpty { return }
            LlamaRuntime.record(line)
        }, nil)
    }

    static func record(_ line: String) {
        state.withLock { s in
            s.errors.append(line)
            if s.errors.count > 8 { s.errors.removeFirst() }
        }
    }

    static func clearErrors() { state.withLock { $0.errors = [] } }

    static func lastError() -> String? { state.withLock { $0.errors.last } }
}

extension String {
    func trimmingCharacters() -> String {
        String(drop(while: { $0 == " " || $0 == "\n" }).reversed().drop(while: { $0 == " " || $0 == "\n" }).reversed())
    }
}
