import CLlama
import Foundation
import HiveCore
@testable import Llama
import Testing

/// Sampling under a grammar checks the drawn token first and applies the grammar to the vocabulary only when it
/// rejects it (`TokenSampler`): the output stays in the grammar's language, greedy output is what grammar-first
/// gives, and `EngineStats` counts which path each token took.
@Suite(.serialized) struct GrammarSamplingTests {
    static let schema = JSONGrammarTests.schema

    @Test func schemaOutputStillParsesWhenTheDrawnTokenIsCheckedFirst() async throws {
        let engine = try LlamaEngine(model: TestModel.model, contextLength: 512, threads: 1)
        var generated = 0
        for seed in [7, 8, 9, 10] as [UInt32] {
            generated += try await JSONGrammarTests.answer(engine, seed: seed, temperature: 1.0).generated
        }
        let stats = engine.stats
        // Every sampled token counted, the end-of-generation token each run ended with included.
        #expect(stats.grammarTokens == generated + 4)
        #expect(stats.grammarTokensChecked <= stats.grammarTokens)
        #expect(stats.grammarTokensChecked < stats.grammarTokens, "random weights rarely draw valid JSON: some were redrawn")
    }

    @Test func greedyUnderAGrammarIsWhatGrammarFirstGives() async throws {
        let engine = try LlamaEngine(model: TestModel.model, contextLength: 512, threads: 1)
        for prompt in ["answer in json", "the hive", "{"] {
            var p = SamplingParams()
            p.temperature = 0
            p.maxTokens = 200
            p.grammar = try JSONGrammar.fromSchema(Self.schema)
            var exact = p
            exact.grammarFirst = true
            let before = engine.stats
            let slow = try await engine.generate(prompt: prompt, params: exact)
            let middle = engine.stats
            let fast = try await engine.generate(prompt: prompt, params: p)
            #expect(fast.text == slow.text && fast.stopReason == slow.stopReason, "\(prompt)")
            #expect(middle.grammarTokensChecked == before.grammarTokensChecked, "grammar-first never takes the shortcut")
            #expect(engine.stats.grammarTokens - middle.grammarTokens == middle.grammarTokens - before.grammarTokens)
        }
    }

    /// One token at a time on fixed logits: a grammar that allows the argmax keeps it after one check; one that
    /// rejects it gets, from the whole vocabulary, the token grammar-first picks.
    @Test func aDrawTheGrammarAllowsIsKeptAndARejectedOneIsRedrawnUnderTheGrammar() throws {
        try TestContext.with { c in
            let (model, ctx) = (c.model, c.pointer)
            func printable(_ t: Int32) -> String? {
                let bytes = model.piece(t)
                guard !bytes.isEmpty, bytes.allSatisfy({ (0x21...0x7E).contains($0) && $0 != 0x22 && $0 != 0x5C }) else { return nil }
                return String(decoding: bytes, as: UTF8.self)
            }
            // A prompt whose greedy next token is plain ASCII (random weights: not every prompt's is).
            var best: [llama_token_data] = []
            for prompt in ["the hive and the drone", "the hive", "fork join", "drone task goal", "x", "a b c", "json", "1 2 3"] {
                try c.decode(prompt)
                TokenSampler.largest(64, of: llama_get_logits_ith(ctx, -1)!, count: model.vocabularySize, into: &best)
                if printable(best[0].id) != nil { break }
            }
            let top = try #require(printable(best[0].id), "no prompt's greedy token is plain ASCII")
            var p = SamplingParams()
            p.temperature = 0
            p.grammar = "root ::= \"\(top)\""
            let allowing = try TokenSampler(p, vocab: model.vocab)
            let kept = allowing.sample(ctx, index: -1, vocabularySize: model.vocabularySize)
            #expect(kept.token == best[0].id && kept.grammar == .checked)

            // A grammar of another top token's text that the argmax's text does not begin.
            let other = try #require(best.dropFirst().first { t in printable(t.id).map { !$0.hasPrefix(top) } ?? false })
            p.grammar = "root ::= \"\(printable(other.id)!)\""
            let rejecting = try TokenSampler(p, vocab: model.vocab)
            var exact = p
            exact.grammarFirst = true
            let reference = try TokenSampler(exact, vocab: model.vocab)
            let redrawn = rejecting.sample(ctx, index: -1, vocabularySize: model.vocabularySize)
            let expected = reference.sample(ctx, index: -1, vocabularySize: model.vocabularySize)
            #expect(redrawn.grammar == .applied && expected.grammar == .applied)
            #expect(redrawn.token == expected.token && redrawn.token != best[0].id)

            // Sampled, not greedy: whatever is drawn is allowed (the grammar would abort on accepting anything else).
            var sampled = p
            sampled.temperature = 1.5
            sampled.topK = 0
            let draws = try TokenSampler(sampled, vocab: model.vocab).sample(ctx, index: -1, vocabularySize: model.vocabularySize)
            #expect(printable(other.id)!.hasPrefix(printable(draws.token) ?? "\u{0}"), "a token the grammar allows")
        }
    }

    @Test func theUTF8GuardRefusesMalformedBytesAcrossTokens() {
        var g = UTF8Guard()
        #expect(g.advance(over: Array("héllo 🐝".utf8)) && g.isComplete)
        #expect(g.advance(over: [0xF0, 0x9F]) && !g.isComplete, "half a bee: a token may end mid-character")
        #expect(!g.allows([0x41]), "…and the next must continue it")
        #expect(g.advance(over: [0x90, 0x9D]) && g.isComplete)
        for bad: [UInt8] in [[0xC0, 0x80], [0xE0, 0x80, 0x80], [0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80], [0xF8], [0x80], [0xE9, 0x41]] {
            #expect(!UTF8Guard().allows(bad), "\(bad)")
        }
        var before = g
        #expect(!before.advance(over: [0x41, 0xFF]) && before == g, "a refused token leaves the state as it was")
    }
}
