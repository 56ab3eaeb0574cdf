@testable import Drone
import ExternalTools
import Foundation
import HiveCore
import Llama
import Testing

/// The drone's model backend on one batched engine: concurrent tasks get what each gets alone, and bad input
/// (a prompt longer than a task's context, a schema the converter refuses) fails that task with the reason while
/// the others finish.
@Suite(.serialized) struct LlamaBackendTests {
    /// A tiny random-weight GGUF from Tests/models/make_test_model.py (PyPI gguf + numpy), made once per run.
    /// A failure to make it (a Python package missing, say) fails each test that needs it, with the reason.
    static let loaded: Result<LlamaModel, any Error> = Result {
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("hive-drone-tiny-\(getpid()).gguf").path
        try TestModels.generate(at: out)
        return try LlamaModel(path: out, hashFile: false)
    }
    static var model: LlamaModel { get throws { try loaded.get() } }

    static func task(_ i: Int, prompt: String, schema: String? = nil) -> Assignment {
        var input = TaskInput()
        input.prompt = prompt
        input.chat = false
        input.temperature = 0
        input.maxTokens = 16
        input.jsonSchema = schema
        return Assignment(task: "g1.\(i)", goal: "g1", attempt: 1, token: "t", kind: "model", input: input, index: i,
                          timeoutMillis: 60_000)
    }

    @Test func concurrentTasksMatchSequentialOnesAndBadOnesFailAlone() async throws {
        let backend = try LlamaBackend(model: Self.model, contextLength: 64, threads: 1, sequences: 4)
        let prompts = ["the hive", "fork join", "drone task goal"]
        var sequential: [String] = []
        for (i, p) in prompts.enumerated() { sequential.append(await backend.run(Self.task(i, prompt: p)).output ?? "?") }
        let long = String(repeating: "hive drone ", count: 40)
        let tasks = prompts.enumerated().map { Self.task($0.offset, prompt: $0.element) }
            + [Self.task(3, prompt: long), Self.task(4, prompt: "x", schema: #"{"type": "date"}"#)]
        let outcomes = await withTaskGroup(of: (Int, BackendOutcome).self) { group in
            for t in tasks { group.addTask { (t.index, await backend.run(t)) } }
            var out = [BackendOutcome?](repeating: nil, count: tasks.count)
            for await (i, o) in group { out[i] = o }
            return out.map { $0! }
        }
        #expect(outcomes[0..<3].map { $0.output ?? "?" } == sequential)
        #expect(outcomes[0..<3].allSatisfy { $0.succeeded && $0.usage?.promptTokens ?? 0 > 0 })
        let tooLong = outcomes[3]
        #expect(!tooLong.succeeded)
        #expect(tooLong.error?.contains("a sequence's context holds 64") == true, "\(tooLong.error ?? "")")
        #expect(outcomes[4].error?.contains("unknown type 'date'") == true, "\(outcomes[4].error ?? "")")
        #expect(backend.engine.stats.sequencesHoldingCache == 0)
    }
}
