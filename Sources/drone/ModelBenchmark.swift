#if canImport(Glibc)
import Glibc
#endif
import Drone
import Foundation
import HiveCommandLine
import HiveCore
import HiveSystem
import Llama

/// `drone bench --model M.gguf [--prompt-tokens N] [--gen-tokens N] [--threads N] [--ctx N] [--runs N]
/// [--parallel N [--shared-prompt]]` (or `--json-schema SCHEMA|default`: `GrammarBench`): what the drone's llama
/// path achieves on this machine, as JSON
/// (Tests/bench/llama_bench.py compares it with llama.cpp's own llama-bench and llama-batched-bench in one run).
///
/// Without `--parallel`: one sequence, measured as llama-bench measures (prompt processing; generation from an
/// empty context). With `--parallel N`: N concurrent tasks through `LlamaBackend.run` (the path a drone's slots
/// take), distinct prompts of the same length; with `--shared-prompt`, N sampled candidates of one prompt, timed
/// against one greedy call of it.
func runModelBenchmark(_ parsed: ParsedArguments) -> Never {
    func number(_ option: String, _ range: ClosedRange<Int>) -> Int? {
        do { return try parsed.integer(option, in: range) } catch { droneProgram.fail(error, in: parsed) }
    }
    guard let path = parsed.string("--model") else { droneProgram.fail(.invalid("drone bench needs --model PATH.gguf"), in: parsed) }
    let promptTokens = number("--prompt-tokens", 8...(1 << 20)) ?? 256
    let genTokens = number("--gen-tokens", 1...(1 << 20)) ?? 128
    let runs = number("--runs", 1...1000) ?? 3
    let ctx = number("--ctx", 16...(1 << 22)) ?? 1024
    let parallel = number("--parallel", 1...4096) ?? 0
    let sharedPrompt = parsed.flag("--shared-prompt")
    if sharedPrompt && parallel == 0 { droneProgram.fail(.invalid("--shared-prompt needs --parallel N"), in: parsed) }
    let threads = number("--threads", 1...1024).map { Int32($0) } ?? Int32(ProcessInfo.processInfo.activeProcessorCount)
    let schema = parsed.string("--json-schema").map { $0 == "default" ? GrammarBench.defaultSchema : $0 }
    let benchPrompt = parsed.string("--prompt")
    let temperature: Float
    do { temperature = Float(try parsed.number("--temperature", in: 0...100) ?? 0.8) } catch { droneProgram.fail(error, in: parsed) }
    let ctxArg = parallel > 0 ? max(ctx, promptTokens + genTokens + 1) : ctx
    let (promptTokensArg, genTokensArg, runsArg, parallelArg, shared, threadsArg) =
        (promptTokens, genTokens, runs, parallel, sharedPrompt, threads)
    let (schemaArg, benchPromptArg, temperatureArg) = (schema, benchPrompt, temperature)
    let result = blocking { () async throws -> String in
        let (promptTokens, genTokens, runs, parallel, ctx, threads) =
            (promptTokensArg, genTokensArg, runsArg, parallelArg, ctxArg, threadsArg)
        let t0 = Monotonic.millis()
        let model = try LlamaModel(path: path, hashFile: false)
        if let schema = schemaArg {
            return try await GrammarBench(model: model, schema: schema, prompt: benchPromptArg ?? GrammarBench.defaultPrompt,
                                          temperature: temperatureArg, genTokens: genTokens).run(runs: runs, ctx: ctx, threads: threads)
        }
        let bench = ModelBench(model: model, promptTokens: promptTokens, genTokens: genTokens)
        if parallel > 0 {
            return try await bench.parallel(parallel, shared: shared, runs: runs, ctx: ctx, threads: threads)
        }
        let engine = try LlamaEngine(model: model, contextLength: ctx, threads: threads)
        return try await bench.single(engine, runs: runs, loadMillis: Monotonic.millis() - t0)
    }
    switch result {
    case .success(let json):
        print(json)
        exit(0)
    case .failure(let error):
        FileHandle.standardError.write(Data("drone bench: \(error)\n".utf8))
        exit(1)
    }
}

private struct ModelBench {
    let model: LlamaModel
    let promptTokens: Int
    let genTokens: Int

    /// A prompt of exactly `promptTokens` tokens (BOS included): `lead` then words from the model's own vocabulary.
    /// Different leads make prompts that share nothing but BOS.
    func prompt(lead: String) throws -> String {
        func count(_ words: [String]) throws -> Int { try model.tokenize(words.joined(separator: " ")).count }
        var words = lead.isEmpty ? [] : [lead]
        while try count(words) < promptTokens - 8 { words.append("hive") }
        // The last few one word at a time, from fillers that may tokenize to one token or more.
        while try count(words) < promptTokens {
            var added = false
            for filler in ["hive", "a", "x", "1", "the"] where try count(words + [filler]) <= promptTokens {
                words.append(filler)
                added = true
                break
            }
            if !added { throw BenchError.failed("cannot make a prompt of exactly \(promptTokens) tokens") }
        }
        return words.joined(separator: " ")
    }

    func single(_ engine: LlamaEngine, runs: Int, loadMillis: Double) async throws -> String {
        let prompt = try prompt(lead: "")
        var p = SamplingParams()
        p.temperature = 0
        p.maxTokens = genTokens
        p.ignoreEndOfGeneration = true
        // As llama-bench measures them: prompt processing on `promptTokens`, generation from an empty context
        // (BOS only), so each generated token attends over the same cache length in both tools.
        var promptOnly = p
        promptOnly.maxTokens = 0
        let bos = try model.tokenize("")
        // One uncounted warm-up, as llama-bench does (the first pass pages the mmapped weights in).
        _ = try await engine.generate(prompt: prompt, params: promptOnly)
        _ = try await engine.generate(tokens: bos, params: p)
        var pp: [Double] = [], tg: [Double] = []
        var n = 0
        for _ in 0..<runs {
            let g = try await engine.generate(prompt: prompt, params: promptOnly)
            pp.append(g.promptTokensPerSecond)
            n = g.promptTokens
            tg.append(try await engine.generate(tokens: bos, params: p).generationTokensPerSecond)
        }
        return "{\"load_ms\":\(loadMillis),\"prompt_tokens\":\(n),\"pp_tps\":\(pp),\"tg_tps\":\(tg)}"
    }

    /// N tasks at once through the backend. Per run: wall time; aggregate generation tokens/s over the engine's
    /// steps that decoded a token for each of the N sequences and nothing else (llama-batched-bench's S_TG), and
    /// over all steps without prompt tokens; all tokens over the wall time (its S); prompt tokens llama.cpp
    /// evaluated. With `shared`, one greedy call of the prompt is timed too.
    func parallel(_ n: Int, shared: Bool, runs: Int, ctx: Int, threads: Int32) async throws -> String {
        let backend = try LlamaBackend(model: model, contextLength: ctx, threads: threads, sequences: n,
                                       ignoreEndOfGeneration: true)
        let prompts = try (0..<n).map { try prompt(lead: shared ? "" : "\($0 + 1)") }
        func assignment(_ i: Int, greedy: Bool, tokens: Int? = nil) -> Assignment {
            var input = TaskInput()
            input.prompt = prompts[i]
            input.chat = false
            input.maxTokens = tokens ?? genTokens
            input.temperature = greedy ? 0 : 0.8
            input.seed = i + 1
            return Assignment(task: "bench.\(i)", goal: "bench", attempt: 1, token: "", kind: "model", input: input,
                              index: i, timeoutMillis: 0)
        }
        func round(tokens: Int) async throws -> (wall: Double, stats: EngineStats, before: EngineStats) {
            let before = backend.engine.stats
            let t0 = Monotonic.millis()
            let outcomes = await withTaskGroup(of: BackendOutcome.self) { group in
                for i in 0..<n { group.addTask { await backend.run(assignment(i, greedy: !shared, tokens: tokens)) } }
                var all: [BackendOutcome] = []
                for await o in group { all.append(o) }
                return all
            }
            let wall = Monotonic.millis() - t0
            if let bad = outcomes.first(where: { !$0.succeeded }) { throw BenchError.failed(bad.error ?? "?") }
            guard outcomes.allSatisfy({ $0.usage?.generatedTokens == tokens }) else {
                throw BenchError.failed("a task generated fewer than \(tokens) tokens")
            }
            return (wall, backend.engine.stats, before)
        }
        _ = try await round(tokens: 8)  // warm-up, uncounted: pages the weights in, as llama.cpp's tools do
        var wall: [Double] = [], tg: [Double] = [], tgAll: [Double] = [], total: [Double] = [], evaluated: [Int] = []
        var single: [Double] = [], decodeShare: [Double] = []
        for _ in 0..<runs {
            let r = try await round(tokens: genTokens)
            wall.append(r.wall)
            // Steps with all n sequences generating (llama-batched-bench's generation phase), and all steps
            // without prompt tokens (tails where early starters have finished included).
            let full = r.stats.generationStepsBySize[n] ?? StepTotals(), fullBefore = r.before.generationStepsBySize[n] ?? StepTotals()
            let fullMillis = full.millis - fullBefore.millis
            tg.append(fullMillis > 0 ? Double((full.steps - fullBefore.steps) * n) / fullMillis * 1000 : 0)
            decodeShare.append(fullMillis > 0 ? (full.decodeMillis - fullBefore.decodeMillis) / fullMillis : 0)
            let steps = r.stats.generationStepMillis - r.before.generationStepMillis
            tgAll.append(steps > 0 ? Double(r.stats.generationStepTokens - r.before.generationStepTokens) / steps * 1000 : 0)
            total.append(Double(n * (promptTokens + genTokens)) / r.wall * 1000)
            evaluated.append(r.stats.promptTokensEvaluated - r.before.promptTokensEvaluated)
            if shared {
                let t0 = Monotonic.millis()
                let o = await backend.run(assignment(0, greedy: true))
                guard o.succeeded else { throw BenchError.failed(o.error ?? "?") }
                single.append(Monotonic.millis() - t0)
            }
        }
        return "{\"parallel\":\(n),\"shared_prompt\":\(shared),\"prompt_tokens\":\(promptTokens),\"gen_tokens\":\(genTokens),"
            + "\"wall_ms\":\(wall),\"tg_tps\":\(tg),\"tg_all_tps\":\(tgAll),\"total_tps\":\(total),\"prompt_evaluated\":\(evaluated),\"decode_share\":\(decodeShare),"
            + "\"single_wall_ms\":\(single)}"
    }
}

private enum BenchError: Error, CustomStringConvertible {
    case failed(String)
    var description: String {
        switch self {
        case .failed(let why): return "a benchmark task failed: \(why)"
        }
    }
}

/// Runs async work to completion from synchronous code (the benchmark runs before the drone's main loop exists).
private func blocking<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) -> Result<T, any Error> {
    let done = DispatchSemaphore(value: 0)
    let box = ResultBox<T>()
    Task {
        do { box.value = .success(try await body()) } catch { box.value = .failure(error) }
        done.signal()
    }
    done.wait()
    return box.value!
}

private final class ResultBox<T>: @unchecked Sendable {
    var value: Result<T, any Error>?  // written before the semaphore is signalled, read after it is awaited
}
