import ExternalTools
import Foundation
import HiveCore
@testable import Llama
import Testing

/// A tiny random-weight GGUF, generated once per test run by Tests/models/make_test_model.py (PyPI gguf). When that
/// fails (a Python package missing, say), every test that needs it fails with the reason, and the others run.
enum TestModel {
    static let generated: Result<(path: String, model: LlamaModel), any Error> = Result {
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("hive-tiny-\(getpid()).gguf").path
        try TestModels.generate(at: out)
        return (out, try LlamaModel(path: out))
    }

    static var path: String { get throws { try generated.get().path } }
    static var model: LlamaModel { get throws { try generated.get().model } }
}

@Suite(.serialized) struct LlamaTests {
    @Test func loadsAndDescribesTheModel() throws {
        let d = try TestModel.model.descriptor
        #expect(d.architecture == "llama")
        #expect(d.name == "hive-test-tiny")
        #expect(d.contextLength == 512)
        #expect(d.parameters > 100_000)
        #expect(d.sha256.count == 64)
        #expect(d.sha256 == (try SHA256.hexDigest(ofFile: TestModel.path)))
    }

    @Test func greedyAndSeededGenerationAreDeterministic() async throws {
        let s = try LlamaEngine(model: TestModel.model, contextLength: 256, threads: 1)
        var greedy = SamplingParams()
        greedy.temperature = 0
        greedy.maxTokens = 24
        let a = try await s.generate(prompt: "the hive", params: greedy)
        let b = try await s.generate(prompt: "the hive", params: greedy)
        #expect(a.text == b.text && a.generatedTokens == b.generatedTokens)
        var seeded = SamplingParams()
        seeded.seed = 42
        seeded.maxTokens = 24
        let c = try await s.generate(prompt: "the hive", params: seeded)
        let d = try await s.generate(prompt: "the hive", params: seeded)
        #expect(c.text == d.text)
    }

    @Test func tokenAccountingAndMaxTokens() async throws {
        let s = try LlamaEngine(model: TestModel.model, contextLength: 256, threads: 1)
        var p = SamplingParams()
        p.maxTokens = 10
        let g = try await s.generate(prompt: "drone task goal", params: p)
        #expect(g.promptTokens == (try TestModel.model.tokenize("drone task goal")).count)
        #expect(g.generatedTokens <= 10)
        #expect(g.stopReason == "length" || g.stopReason == "eos")
        if g.stopReason == "length" { #expect(g.generatedTokens == 10) }
        #expect(g.promptMillis >= 0 && g.generationMillis >= 0)
    }

    @Test func stopStringsEndTheText() async throws {
        let s = try LlamaEngine(model: TestModel.model, contextLength: 256, threads: 1)
        var p = SamplingParams()
        p.temperature = 0
        p.maxTokens = 40
        let full = try await s.generate(prompt: "fork join", params: p).text
        let chars = Array(full)
        try #require(chars.count >= 8, "the model produced too little text to cut: \(full)")
        let stop = String(chars[4..<6])
        p.stop = [stop]
        let cut = try await s.generate(prompt: "fork join", params: p)
        #expect(cut.stopReason == "stop")
        #expect(!cut.text.contains(stop))
        #expect(full.hasPrefix(cut.text))
    }

    @Test func promptsLongerThanTheContextAreRefused() async throws {
        let s = try LlamaEngine(model: TestModel.model, contextLength: 32, threads: 1)
        let long = String(repeating: "hive drone ", count: 40)
        do {
            _ = try await s.generate(prompt: long, params: SamplingParams())
            Issue.record("a prompt longer than the context was accepted")
        } catch {
            guard case .promptTooLong(let tokens, let context) = error else { Issue.record("\(error)"); return }
            #expect(tokens > 32 && context == 32)
        }
    }

    @Test func badFilesAreClearErrors() throws {
        #expect(throws: LlamaError.fileNotFound("/nonexistent/m.gguf")) { _ = try LlamaModel(path: "/nonexistent/m.gguf") }
        let dir = FileManager.default.temporaryDirectory
        let text = dir.appendingPathComponent("not-a-model-\(getpid()).gguf").path
        try Data("this is not a model".utf8).write(to: URL(fileURLWithPath: text))
        #expect(throws: LlamaError.notGGUF(text)) { _ = try LlamaModel(path: text) }
        let truncated = dir.appendingPathComponent("truncated-\(getpid()).gguf").path
        let bytes = try Data(contentsOf: URL(fileURLWithPath: TestModel.path))
        try bytes.prefix(bytes.count / 3).write(to: URL(fileURLWithPath: truncated))
        do {
            _ = try LlamaModel(path: truncated)
            Issue.record("a truncated model loaded")
        } catch {
            guard case .loadFailed(let p, let reason) = error else { Issue.record("\(error)"); return }
            #expect(p == truncated && !reason.isEmpty)
        }
    }

    @Test func chatTemplateIsApplied() throws {
        let prompt = try TestModel.model.chatPrompt([("system", "be brief"), ("user", "hello")])
        #expect(prompt.contains("<|im_start|>system\nbe brief<|im_end|>"))
        #expect(prompt.hasSuffix("<|im_start|>assistant\n"))
    }

    @Test func partialUTF8AtTheEndIsHeldBack() {
        let e = Array("é".utf8)  // 2 bytes
        #expect(GeneratedText.completeUTF8(Array("ab".utf8) + [e[0]]) == "ab")
        #expect(GeneratedText.completeUTF8(Array("ab".utf8) + e) == "abé")
        let emoji = Array("🐝".utf8)
        #expect(GeneratedText.completeUTF8(Array(emoji.prefix(3))) == "")
        #expect(GeneratedText.completeUTF8(emoji) == "🐝")
    }
}

@Suite(.serialized) struct JSONGrammarTests {
    static let schema = #"""
    {"type": "object", "properties": {
        "ok": {"type": "boolean"},
        "count": {"type": "integer"},
        "color": {"enum": ["red", "green", "blue"]},
        "tags": {"type": "array", "items": {"type": "string", "maxLength": 4}, "minItems": 1, "maxItems": 2},
        "note": {"type": ["null", "boolean"]}
    }, "required": ["ok"]}
    """#

    /// Generates an answer to "answer in json" under `schema`'s grammar with `seed` (and `temperature`, if given)
    /// and parses it: it must end with EOS (the grammar completes the document, then allows only EOS) and hold every
    /// key of the schema. Returns the object, its text and the tokens generated.
    static func answer(_ engine: LlamaEngine, seed: UInt32, temperature: Float? = nil) async throws
        -> (object: [String: Any], text: String, generated: Int) {
        var p = SamplingParams()
        p.seed = seed
        if let temperature { p.temperature = temperature }
        p.maxTokens = 200
        p.grammar = try JSONGrammar.fromSchema(schema)
        let g = try await engine.generate(prompt: "answer in json", params: p)
        #expect(g.stopReason == "eos", "the grammar completes the document, then only EOS is allowed: \(g.text)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(g.text.utf8)) as? [String: Any], "\(g.text)")
        #expect(Set(object.keys) == ["ok", "count", "color", "tags", "note"])
        return (object, g.text, g.generatedTokens)
    }

    @Test func schemaConstrainedOutputParsesAndHasTheTypes() async throws {
        let s = try LlamaEngine(model: TestModel.model, contextLength: 512, threads: 1)
        for seed in [1, 2, 3] as [UInt32] {
            let (object, text, _) = try await Self.answer(s, seed: seed)
            #expect(object["ok"] is Bool)
            #expect(object["count"] is Int)
            #expect(["red", "green", "blue"].contains(object["color"] as? String ?? ""))
            let tags = try #require(object["tags"] as? [String])
            #expect((1...2).contains(tags.count) && tags.allSatisfy { $0.count <= 4 }, "\(tags.map { Array($0.unicodeScalars.map(\.value)) }) \(Array(text.utf8))")
        }
    }

    @Test func theArchitectsPlanSchemaYieldsADecompositionWithSubtasks() async throws {
        let s = try LlamaEngine(model: TestModel.model, contextLength: 2048, threads: 1)
        for seed in [1, 2, 3] as [UInt32] {
            var p = SamplingParams()
            p.seed = seed
            p.maxTokens = 1024  // the architect's default: enough for the schema's longest plan
            p.grammar = try JSONGrammar.fromSchema(Decomposition.schema(maxSubtasks: 3))
            let g = try await s.generate(prompt: "plan it", params: p)
            #expect(g.stopReason == "eos", "\(g.text)")
            let d = try JSONDecoder().decode(Decomposition.self, from: Data(g.text.utf8))
            #expect((1...3).contains(d.subtasks.count), "\(g.text)")
            #expect(d.subtasks.allSatisfy { (1...5).contains($0.candidates) })
        }
    }

    @Test func anyObjectGrammarStartsAnObject() async throws {
        let s = try LlamaEngine(model: TestModel.model, contextLength: 256, threads: 1)
        var p = SamplingParams()
        p.maxTokens = 6
        p.grammar = JSONGrammar.anyObject
        #expect(try await s.generate(prompt: "x", params: p).text.hasPrefix("{"))
    }

    @Test func aGrammarThatDoesNotCompileFailsOnlyItsRequest() async throws {
        let s = try LlamaEngine(model: TestModel.model, contextLength: 256, threads: 1)
        var bad = SamplingParams()
        bad.grammar = "root ::= ( \"unclosed\""
        do {
            _ = try await s.generate(prompt: "x", params: bad)
            Issue.record("a broken grammar was accepted")
        } catch {
            guard case .grammarFailed(let why) = error else { Issue.record("\(error)"); return }
            #expect(!why.isEmpty)
        }
        var p = SamplingParams()
        p.maxTokens = 4
        p.ignoreEndOfGeneration = true
        #expect(try await s.generate(prompt: "x", params: p).generatedTokens == 4, "the engine still serves")
    }

    @Test func unsupportedSchemasAreRefusedWithTheKeyword() {
        #expect(throws: LlamaError.invalidSchema("the schema is not valid JSON")) { try JSONGrammar.fromSchema("{nope") }
        #expect(throws: LlamaError.invalidSchema("root uses 'oneOf', which this grammar converter does not support")) {
            try JSONGrammar.fromSchema(#"{"oneOf": []}"#)
        }
        #expect(throws: LlamaError.invalidSchema("root.x has unknown type 'date'")) {
            try JSONGrammar.fromSchema(#"{"type": "object", "properties": {"x": {"type": "date"}}}"#)
        }
    }

    /// The grammar takes every keyword honeycombd's answer check (`JSONSchemaCheck`) knows: lengths shape the
    /// strings, ranges are left to the check.
    @Test func theCheckedSubsetConverts() throws {
        let g = try JSONGrammar.fromSchema(#"{"type": "object", "properties": {"s": {"type": "string", "minLength": 2, "maxLength": 5}, "t": {"type": "string", "minLength": 1}, "n": {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1}}}"#)
        #expect(g.contains("char{2,5}") && g.contains("char{1,}"))
    }

    /// llama.cpp expands `{m,n}` into n rules: a bound past `maxEncodedLength` (a minimum as much as a maximum, as a
    /// tool's schema may set) is left to the check instead of becoming thousands of rules.
    @Test func largeRepetitionBoundsAreLeftToTheCheck() throws {
        let g = try JSONGrammar.fromSchema(#"{"type": "object", "properties": {"a": {"type": "string", "minLength": 100000}, "b": {"type": "string", "maxLength": 100000}, "c": {"type": "array", "items": {"type": "integer"}, "minItems": 100000}, "d": {"type": "array", "items": {"type": "integer"}, "maxItems": 100000}}}"#)
        #expect(!g.contains("100000") && !g.contains("99999"))
    }
}

/// The agent-turn grammar on a random-weight model: whatever it samples is a call of one of the listed tools with
/// arguments of that tool's shape, or an answer; the last turn's grammar (no tools) allows the answer only.
@Suite(.serialized) struct AgentTurnGrammarTests {
    static let tools: [(name: String, schema: String)] = [
        ("exec.date", #"{"type":"object","properties":{"args":{"type":"array","items":{"type":"string","maxLength":8},"maxItems":2}},"required":["args"]}"#),
        ("time.now", #"{"type":"object","properties":{"zone":{"enum":["UTC","CET"]}}}"#),
        ("odd.tool", #"{"type":"object","oneOf":[{"type":"object"}]}"#),  // unsupported keyword: any object
    ]

    @Test func everySampledTurnIsACallOfAListedToolOrAnAnswer() async throws {
        let engine = try LlamaEngine(model: TestModel.model, contextLength: 1024, threads: 1)
        var seenKinds = Set<String>()
        for seed in 1...12 as ClosedRange<UInt32> {
            var p = SamplingParams()
            p.seed = seed
            p.temperature = 1
            p.maxTokens = 300
            p.grammar = JSONGrammar.agentTurn(tools: Self.tools)
            let g = try await engine.generate(prompt: "call a tool", params: p)
            guard g.stopReason == "eos" else { continue }  // a long answer string may be cut; what came is still in the language
            let o = try #require(try JSONSerialization.jsonObject(with: Data(g.text.utf8)) as? [String: Any], "\(g.text)")
            if let answer = o["answer"] {
                #expect(answer is String && o.count == 1, "\(o)")
                seenKinds.insert("answer")
                continue
            }
            let tool = try #require(o["tool"] as? String, "\(o)")
            #expect(Self.tools.map(\.name).contains(tool), "\(tool)")
            let args = try #require(o["arguments"] as? [String: Any], "\(o)")
            seenKinds.insert(tool)
            if tool == "exec.date" {
                let list = try #require(args["args"] as? [String], "\(args)")
                #expect(list.count <= 2 && list.allSatisfy { $0.count <= 8 })
            }
            if tool == "time.now" { #expect(["UTC", "CET"].contains(args["zone"] as? String ?? ""), "\(args)") }
        }
        #expect(seenKinds.count >= 2, "random weights reach more than one branch: \(seenKinds)")
    }

    @Test func theLastTurnMayOnlyAnswer() async throws {
        let engine = try LlamaEngine(model: TestModel.model, contextLength: 512, threads: 1)
        var p = SamplingParams()
        p.seed = 3
        p.maxTokens = 200
        p.grammar = JSONGrammar.agentTurn(tools: [])
        let g = try await engine.generate(prompt: "answer", params: p)
        #expect(g.text.hasPrefix(#"{"#) && g.text.contains(#""answer""#) && !g.text.contains(#""tool""#), "\(g.text)")
    }
}
