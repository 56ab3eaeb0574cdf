@testable import Drone
import ExternalTools
import Foundation
import HiveCore
import HiveSystem
import Synchronization
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

    /// Tokenizing a long prompt is synchronous and takes seconds; on Swift's cooperative pool (as many threads as
    /// cores) `width` such tasks held every thread, and another task's result, a reply, anything async on the drone
    /// waited for them. They run on `ThreadPool.blocking` now: once `width` of them have begun, a short model task
    /// runs start to end and its result is in before any of the long ones is (with tokenizing on the pool it came
    /// seconds after the first, measured).
    @Test func aShortTaskFinishesWhileEveryPoolThreadsWorthOfLongPromptsIsTokenizing() async throws {
        let backend = try LlamaBackend(model: Self.model, contextLength: 64, threads: 1, sequences: 2)
        let width = ProcessInfo.processInfo.activeProcessorCount
        let huge = String(repeating: "hive drone task goal fork join ", count: Self.hugePromptRepeats)
        let started = StartCount()
        let longOnes = (0..<width).map { i in
            Task.detached { () -> (BackendOutcome, UInt64) in
                started.count.withLock { $0 += 1 }
                let o = await backend.run(Self.task(10 + i, prompt: huge))
                return (o, Monotonic.now())
            }
        }
        // Wait (with a deadline) until every long one has begun: from there to the end of its tokenizing nothing
        // in it waits, so a thread that ran it synchronously would be held for those seconds.
        let deadline = Monotonic.after(Monotonic.now(), nanos: Monotonic.nanos(millis: 30_000))
        while started.count.withLock({ $0 }) < width {
            try #require(Monotonic.now() < deadline, "the long tasks never started")
            try await Task.sleep(for: .milliseconds(2))
        }
        let short = await backend.run(Self.task(1, prompt: "the hive"))
        let shortDone = Monotonic.now()
        #expect(short.succeeded, "\(short.error ?? "")")
        var firstLongDone = UInt64.max
        for t in longOnes {
            let (o, done) = await t.value
            #expect(o.error?.contains("a sequence's context holds 64") == true, "\(o.error ?? "")")
            firstLongDone = min(firstLongDone, done)
        }
        #expect(shortDone < firstLongDone, "the short task finished \(Double(shortDone &- firstLongDone) / 1e6) ms after the first long one")
    }

    /// Repeats of a 31-byte phrase in the long prompt: ~6 MiB, seconds of tokenizing on the test model
    /// (4.5 s in a debug build on two busy cores).
    static let hugePromptRepeats = 200_000
}

/// How many of a test's tasks have begun (shared by tasks; a `Mutex` alone cannot be captured).
final class StartCount: Sendable {
    let count = Mutex(0)
}
