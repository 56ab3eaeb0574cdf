#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Llama

/// `drone bench --model M.gguf [--prompt-tokens N] [--gen-tokens N] [--threads N] [--ctx N] [--runs N]`:
/// what the drone's llama path achieves on this machine, as JSON (Tests/bench/llama_bench.py compares it with
/// llama.cpp through llama-cpp-python in the same run).
func runModelBenchmark(_ args: [String]) -> Never {
    var path: String?
    var promptTokens = 256, genTokens = 128, runs = 3, ctx = 1024
    var threads = Int32(ProcessInfo.processInfo.activeProcessorCount)
    var i = 0
    while i + 1 < args.count {
        let v = args[i + 1]
        switch args[i] {
        case "--model": path = v
        case "--prompt-tokens": promptTokens = Int(v) ?? promptTokens
        case "--gen-tokens": genTokens = Int(v) ?? genTokens
        case "--threads": threads = Int32(v) ?? threads
        case "--ctx": ctx = Int(v) ?? ctx
        case "--runs": runs = Int(v) ?? runs
        default: break
        }
        i += 2
    }
    guard let path else {
        FileHandle.standardError.write(Data("drone bench needs --model PATH\n".utf8))
        exit(64)
    }
    func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) * 1000 + Double(ts.tv_nsec) / 1e6
    }
    do {
        let t0 = now()
        let model = try LlamaModel(path: path, hashFile: false)
        let session = try LlamaSession(model: model, contextLength: ctx, threads: threads)
        let loadMillis = now() - t0
        // A prompt of exactly `promptTokens` tokens (BOS included): words from the model's own vocabulary.
        var words: [String] = []
        while try model.tokenize(words.joined(separator: " ")).count < promptTokens { words.append("hive") }
        while try model.tokenize(words.joined(separator: " ")).count > promptTokens { words.removeLast() }
        let prompt = words.joined(separator: " ")
        var p = SamplingParams()
        p.temperature = 0
        p.maxTokens = genTokens
        p.ignoreEndOfGeneration = true
        var pp: [Double] = [], tg: [Double] = []
        var n = 0
        // As llama-bench measures them: prompt processing on `promptTokens`, generation from an empty context
        // (BOS only), so each generated token attends over the same cache length in both tools.
        var promptOnly = p
        promptOnly.maxTokens = 0
        // One uncounted warm-up, as llama-bench does (the first pass pages the mmapped weights in).
        _ = try session.generate(prompt: prompt, params: promptOnly)
        _ = try session.generate(prompt: "", params: p)
        for _ in 0..<runs {
            let g = try session.generate(prompt: prompt, params: promptOnly)
            pp.append(g.promptTokensPerSecond)
            n = g.promptTokens
            tg.append(try session.generate(prompt: "", params: p).generationTokensPerSecond)
        }
        print("{\"load_ms\":\(loadMillis),\"prompt_tokens\":\(n),\"pp_tps\":\(pp),\"tg_tps\":\(tg)}")
        exit(0)
    } catch {
        FileHandle.standardError.write(Data("drone bench: \(error)\n".utf8))
        exit(1)
    }
}
