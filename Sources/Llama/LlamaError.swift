/// Why a model could not be loaded or run; each message says what to check.
public enum LlamaError: Error, Equatable, Sendable, CustomStringConvertible {
    case fileNotFound(String)
    case notGGUF(String)
    case loadFailed(String, reason: String)
    case contextFailed(String)
    case promptTooLong(tokens: Int, context: Int)
    case tokenizeFailed
    case decodeFailed(Int32)
    case templateFailed(String)
    case invalidSchema(String)
    case grammarFailed(String)
    case emptyPrompt
    case engineStopped

    public var description: String {
        switch self {
        case .fileNotFound(let p): return "model file \(p) does not exist"
        case .notGGUF(let p): return "\(p) is not a GGUF model (it does not start with the GGUF magic)"
        case .loadFailed(let p, let r): return "llama.cpp could not load \(p): \(r)"
        case .contextFailed(let r): return "cannot create a llama.cpp context: \(r)"
        case .promptTooLong(let t, let c): return "the prompt is \(t) tokens; a sequence's context holds \(c) (raise --ctx or shorten it)"
        case .tokenizeFailed: return "the prompt could not be tokenized"
        case .decodeFailed(let code): return "llama_decode failed (\(code))"
        case .templateFailed(let why): return "cannot apply the chat template: \(why)"
        case .invalidSchema(let why): return "unusable JSON schema: \(why)"
        case .grammarFailed(let why): return "llama.cpp rejected the output grammar: \(why)"
        case .emptyPrompt: return "the prompt has no tokens (the model adds no BOS, so an empty prompt leaves nothing to continue)"
        case .engineStopped: return "the model engine has stopped (the drone is shutting down)"
        }
    }
}
