import Drone
import Foundation
import HiveCore
import Llama

/// `drone bench --model M.gguf --json-schema SCHEMA [--prompt TEXT] [--temperature T] [--gen-tokens N]
/// [--threads N] [--runs N]`: generation speed under a JSON Schema's grammar against free text, as JSON.
///
/// Three ways, alternating within each run on one engine: `free` (no grammar, `--gen-tokens` tokens),
/// `grammar_first` (the grammar applied to the whole vocabulary every token: what every grammar call cost before
/// `TokenSampler` checked the drawn token first) and `checked` (the default path). Each reports generated
/// tokens/s per run; `checked` also the share of tokens the grammar allowed as drawn (`EngineStats`).
struct GrammarBench {
    let model: LlamaModel
    let schema: String
    let prompt: String
    let temperature: Float
    let genTokens: Int

    func run(runs: Int, ctx: Int, threads: Int32) async throws -> String {
        let engine = try LlamaEngine(model: model, contextLength: ctx, threads: threads)
        let grammar = try JSONGrammar.fromSchema(schema)
        func params(_ way: String, seed: Int) -> SamplingParams {
            var p = SamplingParams()
            p.temperature = temperature
            p.seed = UInt32(seed)
            p.maxTokens = genTokens
            switch way {
            case "free": p.ignoreEndOfGeneration = true
            default:
                p.grammar = grammar
                p.grammarFirst = way == "grammar_first"
            }
            return p
        }
        let ways = ["free", "grammar_first", "checked"]
        _ = try await engine.generate(prompt: prompt, params: params("free", seed: 0))  // warm-up: pages the weights in
        var tps: [String: [Double]] = [:], tokens: [String: [Int]] = [:]
        var checkedShare: [Double] = []
        var sample = ""
        for r in 0..<runs {
            for way in ways {
                let before = engine.stats
                let g = try await engine.generate(prompt: prompt, params: params(way, seed: r + 1))
                tps[way, default: []].append(g.generationTokensPerSecond)
                tokens[way, default: []].append(g.generatedTokens)
                if way == "checked" {
                    let after = engine.stats
                    let n = after.grammarTokens - before.grammarTokens
                    checkedShare.append(n > 0 ? Double(after.grammarTokensChecked - before.grammarTokensChecked) / Double(n) : 0)
                    if r == 0 { sample = g.text }
                }
            }
        }
        let sampleJSON = String(data: try JSONSerialization.data(withJSONObject: sample, options: [.fragmentsAllowed]), encoding: .utf8) ?? "\"\""
        return "{" + ways.map { "\"\($0)_tps\":\(tps[$0] ?? []),\"\($0)_tokens\":\(tokens[$0] ?? [])" }.joined(separator: ",")
            + ",\"checked_share\":\(checkedShare),\"temperature\":\(temperature),\"sample\":\(sampleJSON)}"
    }

    /// A prompt a base model continues with a JSON object (the grammar's keys come in sorted order).
    static let defaultPrompt = """
        Facts about cities, one JSON object per line, keys in alphabetical order.
        {"capital": true, "country": "France", "landmarks": ["Eiffel Tower", "Louvre"], "name": "Paris", "population": 2148000}
        {"capital": false, "country": "Italy", "landmarks": ["Duomo"], "name": "Milan", "population": 1352000}

        """
    static let defaultSchema = """
        {"type": "object", "properties": {"capital": {"type": "boolean"}, "country": {"type": "string", "maxLength": 40},
         "landmarks": {"type": "array", "items": {"type": "string", "maxLength": 40}, "maxItems": 3},
         "name": {"type": "string", "maxLength": 40}, "population": {"type": "integer"}}}
        """
}
