import CLlama
import Foundation
@testable import Llama
import Synchronization
import Testing

/// Continuous batching in one context (`LlamaEngine`): outputs are those of each request alone, requests join
/// and leave between steps, cancellation frees a sequence at once, and identical prompts are evaluated once.
/// Requests that must share steps are lined up with `hold(untilQueued:)`, never with sleeps. One compute thread:
/// the tiny model gains nothing from two, and two spin-wait on each other on a loaded machine.
@Suite(.serialized) struct BatchingTests {
    static let prompts = ["the hive", "drone task goal", "fork join of it", "and to in is on"]

    static func greedy(_ tokens: Int) -> SamplingParams {
        var p = SamplingParams()
        p.temperature = 0
        p.maxTokens = tokens
        p.ignoreEndOfGeneration = true  // fixed lengths: the step counts below are exact
        return p
    }

    static func seeded(_ seed: UInt32, _ tokens: Int) -> SamplingParams {
        var p = greedy(tokens)
        p.temperature = 0.8
        p.seed = seed
        return p
    }

    /// Each request on its own, one after another, in a single-sequence engine.
    static func alone(_ requests: [(String, SamplingParams)]) async throws -> [Generation] {
        let engine = try LlamaEngine(model: TestModel.model, contextLength: 128, threads: 1)
        var out: [Generation] = []
        for (prompt, params) in requests { out.append(try await engine.generate(prompt: prompt, params: params)) }
        return out
    }

    /// All requests at once: queued in order (so the i-th gets sequence id i), taken by the engine in one step.
    static func together(_ engine: LlamaEngine, _ requests: [(String, SamplingParams)]) async throws -> [Generation] {
        engine.hold(untilQueued: requests.count)
        let tokens = try requests.map { try TestModel.model.tokenize($0.0) }
        return try await withThrowingTaskGroup(of: (Int, Generation).self) { group in
            for (i, r) in requests.enumerated() {
                await withCheckedContinuation { (queued: CheckedContinuation<Void, Never>) in
                    group.addTask {
                        (i, try await engine.generate(tokens: tokens[i], params: r.1, onToken: nil, onQueued: { queued.resume() }))
                    }
                }
            }
            var out = [Generation?](repeating: nil, count: requests.count)
            for try await (i, g) in group { out[i] = g }
            return out.map { $0! }
        }
    }

    @Test func concurrentGreedyGenerationsMatchEachAloneAndShareEveryStep() async throws {
        let requests = Self.prompts.map { ($0, Self.greedy(32)) }
        let expected = try await Self.alone(requests)
        let engine = try LlamaEngine(model: TestModel.model, sequences: 4, contextLength: 128, threads: 1)
        let got = try await Self.together(engine, requests)
        #expect(got.map(\.text) == expected.map(\.text))
        #expect(got.allSatisfy { $0.generatedTokens == 32 && $0.stopReason == "length" })
        let stats = engine.stats
        // One step for the four prompts, then one per token for all four (the 32nd is sampled, never decoded).
        #expect(stats.decodeCalls == 32)
        #expect(stats.mostSequencesInOneDecode == 4)
        #expect(stats.generationSteps == 31 && stats.generationStepTokens == 31 * 4, "\(stats)")
        #expect(stats.running == 0 && stats.sequencesHoldingCache == 0)
    }

    @Test func identicalSeededRequestsInOneBatchAgreeAndMatchAlone() async throws {
        let requests = [("the hive", Self.seeded(7, 24)), ("the hive", Self.seeded(7, 24)), ("fork join", Self.seeded(9, 24))]
        let expected = try await Self.alone(requests)
        let engine = try LlamaEngine(model: TestModel.model, sequences: 3, contextLength: 128, threads: 1)
        let got = try await Self.together(engine, requests)
        #expect(got[0].text == got[1].text)
        #expect(got.map(\.text) == expected.map(\.text))
    }

    @Test func aSequenceJoiningMidFlightChangesNeitherOutput() async throws {
        let expected = try await Self.alone([("the hive", Self.greedy(40)), ("drone task goal", Self.greedy(20))])
        let engine = try LlamaEngine(model: TestModel.model, sequences: 2, contextLength: 128, threads: 1)
        let late = TaskBox()
        let first = try await engine.generate(prompt: "the hive", params: Self.greedy(40)) { n in
            guard n == 8 else { return }
            engine.hold(untilQueued: 1)  // the next step waits for it: it joins after exactly 8 tokens
            late.set(Task { try await engine.generate(prompt: "drone task goal", params: Self.greedy(20)) })
        }
        let second = try await late.value()
        #expect(first.text == expected[0].text && first.generatedTokens == 40)
        #expect(second.text == expected[1].text && second.generatedTokens == 20)
        let stats = engine.stats
        #expect(stats.decodeCalls == 40, "the late prompt and its tokens rode along in the first sequence's steps")
        #expect(stats.mostSequencesInOneDecode == 2)
        #expect(stats.sequencesHoldingCache == 0)
    }

    @Test func cancellingOneSequenceFreesItAtOnceAndTheOthersFinish() async throws {
        let expected = try await Self.alone([(Self.prompts[0], Self.greedy(48)), (Self.prompts[2], Self.greedy(48))])
        let engine = try LlamaEngine(model: TestModel.model, sequences: 3, contextLength: 128, threads: 1)
        engine.hold(untilQueued: 3)
        let victim = TaskBox()
        let seen = Mutex<EngineStats?>(nil)
        let a = Task {
            try await engine.generate(prompt: Self.prompts[0], params: Self.greedy(48)) { n in
                // Two steps after the cancel: the stats published at the end of the step that removed it.
                if n == 6 { seen.withLock { $0 = engine.stats } }
            }
        }
        let b = Task {
            try await engine.generate(prompt: Self.prompts[1], params: Self.greedy(48)) { n in
                if n == 4 { victim.cancel() }
            }
        }
        victim.set(b)  // before the third request exists, so before the engine can start
        let c = Task { try await engine.generate(prompt: Self.prompts[2], params: Self.greedy(48)) }
        let cancelled = try await b.value
        #expect(cancelled.stopReason == "cancelled")
        #expect(cancelled.generatedTokens == 4, "the cancel is seen at the start of the next step")
        let (ga, gc) = (try await a.value, try await c.value)
        #expect(ga.text == expected[0].text && ga.generatedTokens == 48)
        #expect(gc.text == expected[1].text && gc.generatedTokens == 48)
        let during = try #require(seen.withLock { $0 })
        #expect(during.running == 2 && during.sequencesHoldingCache == 2, "\(during)")
        #expect(engine.stats.sequencesHoldingCache == 0)
    }

    @Test func aSequenceMovedIntoAFreedIDKeepsItsCache() async throws {
        // Ids 0, 1, 2; the first ends after 6 tokens and the third moves from id 2 into id 0 (a cache copy), then
        // generates 34 more tokens from the moved cache: its text shows whether the copy was whole.
        let requests = [(Self.prompts[0], Self.greedy(6)), (Self.prompts[1], Self.greedy(40)), (Self.prompts[2], Self.greedy(40))]
        let expected = try await Self.alone(requests)
        let engine = try LlamaEngine(model: TestModel.model, sequences: 3, contextLength: 128, threads: 1)
        let got = try await Self.together(engine, requests)
        #expect(got.map(\.text) == expected.map(\.text))
        let stats = engine.stats
        #expect(stats.cacheCopies == 1, "one move, no prefix copies")
        #expect(stats.decodeCalls == 40)
        #expect(stats.sequencesHoldingCache == 0)
    }

    @Test func aRequestCancelledWhileWaitingForASequenceNeverStarts() async throws {
        let engine = try LlamaEngine(model: TestModel.model, sequences: 1, contextLength: 128, threads: 1)
        let queued = TaskBox()
        let first = try await engine.generate(prompt: "the hive", params: Self.greedy(20)) { n in
            if n == 3 {
                engine.hold(untilQueued: 1)
                queued.set(Task { try await engine.generate(prompt: "fork join", params: Self.greedy(20)) })
            }
            if n == 5 { queued.cancel() }
        }
        let second = try await queued.value()
        #expect(first.generatedTokens == 20)
        #expect(second.stopReason == "cancelled" && second.generatedTokens == 0)
        #expect(engine.stats.promptTokensEvaluated == (try TestModel.model.tokenize("the hive")).count)
    }

    @Test func aPromptTooLongFailsOnlyItsOwnRequest() async throws {
        let engine = try LlamaEngine(model: TestModel.model, sequences: 2, contextLength: 48, threads: 1)
        async let ok = engine.generate(prompt: "the hive", params: Self.greedy(16))
        let long = String(repeating: "hive drone ", count: 40)
        do {
            _ = try await engine.generate(prompt: long, params: Self.greedy(16))
            Issue.record("a prompt longer than a sequence's context was accepted")
        } catch {
            guard case .promptTooLong(let tokens, let context) = error else { Issue.record("\(error)"); return }
            #expect(tokens > 48 && context == 48)
            #expect(error.description.contains("\(tokens) tokens") && error.description.contains("holds 48"))
        }
        #expect(try await ok.generatedTokens == 16)
    }

    @Test func candidatesOfOnePromptEvaluateItOnce() async throws {
        let prompt = "the hive and the drone fork join the task goal"
        let n = try TestModel.model.tokenize(prompt).count
        let requests = [(prompt, Self.greedy(24))] + (1...3).map { (prompt, Self.seeded(UInt32($0), 24)) }
        let expected = try await Self.alone(requests)
        let engine = try LlamaEngine(model: TestModel.model, sequences: 4, contextLength: 128, threads: 1)
        let got = try await Self.together(engine, requests)
        #expect(got.map(\.text) == expected.map(\.text), "shared-prefix candidates equal unshared ones")
        let stats = engine.stats
        #expect(stats.promptTokensEvaluated == n, "one evaluation of the prompt")
        #expect(stats.promptTokensReused == 3 * n)
        #expect(got.map(\.reusedPromptTokens).sorted() == [0, n, n, n])
        #expect(stats.decodeCalls == 24, "one prompt step, then 23 steps of four tokens")
        #expect(stats.sequencesHoldingCache == 0)
    }

    @Test func aLatePromptEqualToARunningOnesCopiesItsCache() async throws {
        let prompt = "drone task goal of the hive"
        let n = try TestModel.model.tokenize(prompt).count
        let expected = try await Self.alone([(prompt, Self.greedy(30)), (prompt, Self.greedy(10))])
        let engine = try LlamaEngine(model: TestModel.model, sequences: 2, contextLength: 128, threads: 1)
        let late = TaskBox()
        let first = try await engine.generate(prompt: prompt, params: Self.greedy(30)) { k in
            guard k == 5 else { return }
            engine.hold(untilQueued: 1)
            late.set(Task { try await engine.generate(prompt: prompt, params: Self.greedy(10)) })
        }
        let second = try await late.value()
        #expect(first.text == expected[0].text && second.text == expected[1].text)
        #expect(second.reusedPromptTokens == n - 1, "all but the last token, whose logits it needs")
        #expect(engine.stats.promptTokensEvaluated == n + 1)
    }

    @Test func prefixSharingPicksWhatToCopy() {
        let p: [Int32] = [1] + (100..<140).map { Int32($0) }  // 41 tokens
        func take(_ have: Int, _ cached: [Int32], _ prompt: [Int32]? = nil, output: Int? = nil) -> PrefixSharing.Take {
            PrefixSharing.take(prompt: p, have: have, donorCached: cached, donorPrompt: prompt ?? cached, donorOutput: output)
        }
        #expect(take(0, p, output: 40) == .whole)
        #expect(take(0, p + [7], p, output: 41) == .prefix(upTo: 40), "a running sequence with this prompt: all but the last token")
        #expect(take(0, Array(p[..<35]) + [7]) == .prefix(upTo: 35))
        #expect(take(4, Array(p[..<35]) + [7]) == .nothing, "31 more tokens are not worth a copy")
        #expect(take(0, [1, 5, 6]) == .nothing, "only BOS in common")
        #expect(take(0, Array(p[..<35]), p) == .nothing, "the donor is still evaluating more of it: copy once, later")
        #expect(PrefixSharing.take(prompt: [1, 5], have: 0, donorCached: [1, 5, 9], donorPrompt: [1, 5], donorOutput: 2)
                == .prefix(upTo: 1), "a short prompt another sequence holds whole")
        #expect(PrefixSharing.shouldWait(prompt: p, have: 0, earlierPrompt: p))
        #expect(!PrefixSharing.shouldWait(prompt: p, have: 41, earlierPrompt: p))
        #expect(PrefixSharing.shouldWait(prompt: p, have: 0, earlierPrompt: Array(p[..<38]) + [3]))
        #expect(!PrefixSharing.shouldWait(prompt: p, have: 0, earlierPrompt: [1, 2, 3]), "different prompts never wait")
    }
}

/// A task started inside an engine callback, and a way to cancel it from another callback.
final class TaskBox: Sendable {
    private let task = Mutex<Task<Generation, any Error>?>(nil)
    func set(_ t: Task<Generation, any Error>) { task.withLock { $0 = t } }
    func cancel() { task.withLock { $0?.cancel() } }
    func value() async throws -> Generation {
        let t = try #require(task.withLock { $0 })
        return try await t.value
    }
}

/// The sampled path's shortcut: the chain run on the top-k logits picks what it picks on the whole vocabulary.
@Suite struct TokenSamplerTests {
    @Test func largestKeepsTheKBestInOrderWithTiesByToken() {
        var values: [Float] = (0..<300).map { Float(($0 * 7919) % 101) }  // many ties
        values[17] = .infinity
        var out: [llama_token_data] = []
        TokenSampler.largest(12, of: values, count: values.count, into: &out)
        let expected = values.enumerated().sorted { $0.element != $1.element ? $0.element > $1.element : $0.offset < $1.offset }
            .prefix(12).map { Int32($0.offset) }
        #expect(out.map(\.id) == expected)
        #expect(TokenSampler.argmax(values, count: values.count) == 17)
    }

    @Test func prefilteredChainsSampleWhatTheFullChainSamples() throws {
        try TestContext.with { c in
            let (model, ctx) = (c.model, c.pointer)
            try c.decode("the hive and the drone")
            for (seed, k, temperature) in [(1, 40, 0.8), (2, 5, 1.5), (3, 200, 0.3)] as [(UInt32, Int32, Float)] {
                var p = SamplingParams()
                p.seed = seed
                p.topK = k
                p.temperature = temperature
                let fast = try TokenSampler(p, vocab: model.vocab)
                let full = try TokenSampler(p, vocab: model.vocab, prefilter: false)
                // The same logits sampled repeatedly: both chains' random streams advance in step.
                let a = (0..<50).map { _ in fast.sample(ctx, index: -1, vocabularySize: model.vocabularySize).token }
                let b = (0..<50).map { _ in full.sample(ctx, index: -1, vocabularySize: model.vocabularySize).token }
                #expect(a == b, "seed \(seed), top-k \(k)")
                #expect(Set(a).count > 1, "the draw varies")
            }
        }
    }
}
