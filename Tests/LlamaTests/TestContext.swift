import CLlama
@testable import Llama
import Testing

/// A bare llama.cpp context on the test model (one thread), for tests that drive the C API directly (samplers on
/// fixed logits) rather than through `LlamaEngine`.
struct TestContext {
    let model: LlamaModel
    let pointer: OpaquePointer

    /// Runs `body` with a fresh context of `size` tokens, freed when it returns.
    static func with<T>(size: UInt32 = 64, _ body: (TestContext) throws -> T) throws -> T {
        let model = try TestModel.model
        var cp = llama_context_default_params()
        cp.n_ctx = size
        cp.n_threads = 1
        cp.n_threads_batch = 1
        let ctx = try #require(llama_init_from_model(model.model, cp), "llama.cpp made no context on the test model")
        defer { llama_free(ctx) }
        return try body(TestContext(model: model, pointer: ctx))
    }

    /// Forgets what was decoded and decodes `prompt`: its last token's logits are then at index -1.
    func decode(_ prompt: String) throws {
        llama_memory_clear(llama_get_memory(pointer), true)
        var tokens = try model.tokenize(prompt)
        let rc = tokens.withUnsafeMutableBufferPointer { llama_decode(pointer, llama_batch_get_one($0.baseAddress, Int32($0.count))) }
        try #require(rc == 0, "llama_decode returned \(rc) for '\(prompt)'")
    }
}
