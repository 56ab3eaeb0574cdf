import HiveCore
import HiveSystem
import Llama
import Synchronization

/// Runs `model` tasks (a prompt for a language model) on a GGUF model loaded once at drone start. Other
/// backends serve the same kind (an external API on a core drone), so goals do not name the engine.
///
/// Every task goes through one `LlamaEngine` (one llama.cpp context with a sequence per slot, continuous
/// batching on its own OS thread): concurrent tasks share each decode step instead of contending for the CPU
/// with a context each, and candidates of one prompt share its evaluation. Cancelling the task ends its
/// sequence at the next step.
public final class LlamaBackend: Backend, @unchecked Sendable {
    public let model: LlamaModel
    public let engine: LlamaEngine
    private let contextLength: Int
    private let ignoreEndOfGeneration: Bool
    /// `chat`: prompts go through the model's chat template; `completion`: they are continued as given.
    public let promptFormat: PromptFormat

    /// `sequences`: tasks decoded together (the drone's slots); `contextLength`: tokens per task.
    /// `promptFormat` nil (`--prompt-format auto`): chat when the model has a chat template, else completion.
    /// `ignoreEndOfGeneration` is for benchmarks only (fixed-length generations).
    public init(model: LlamaModel, contextLength: Int, threads: Int32, sequences: Int,
                promptFormat: PromptFormat? = nil, ignoreEndOfGeneration: Bool = false) throws(LlamaError) {
        self.model = model
        self.engine = try LlamaEngine(model: model, sequences: sequences, contextLength: contextLength, threads: threads)
        self.contextLength = engine.contextLength
        self.promptFormat = promptFormat ?? (model.hasChatTemplate ? .chat : .completion)
        self.ignoreEndOfGeneration = ignoreEndOfGeneration
    }

    public var kind: String { "model" }
    public var capabilities: [String] {
        let d = model.descriptor
        return ["engine:llama.cpp", "model:\(d.name)"] + (d.sha256.isEmpty ? [] : ["model-sha256:\(d.sha256)"])
    }
    public var models: [ModelDescriptor] {
        var d = model.descriptor
        d.chatTemplate = model.hasChatTemplate
        d.promptFormat = promptFormat
        return [d]
    }

    public func run(_ task: Assignment) async -> BackendOutcome {
        let input = task.input ?? TaskInput()
        guard let prompt = input.prompt ?? input.text else { return .failure("model task without a prompt (input.prompt)") }
        var params: SamplingParams
        switch Self.sampling(input, vocabularySize: model.vocabularySize, contextLength: contextLength) {
        case .success(let p): params = p
        case .failure(let e): return .failure(e.description, permanent: true)
        }
        params.ignoreEndOfGeneration = ignoreEndOfGeneration
        // The schema's grammar and the chat template are synchronous work that grows with the task's input: off
        // the cooperative pool, like the engine's tokenizing (`ThreadPool.blocking`).
        let (model, promptFormat) = (self.model, self.promptFormat)
        let text: String
        do {
            (params.grammar, text) = try await ThreadPool.blocking.value { () throws(LlamaError) -> (String?, String) in
                let grammar = try input.jsonSchema.map(JSONGrammar.fromSchema) ?? (input.json == true ? JSONGrammar.anyObject : nil)
                guard input.chat ?? true, promptFormat == .chat else {
                    return (grammar, (input.system.map { $0 + "\n" } ?? "") + prompt)
                }
                var messages: [(role: String, content: String)] = []
                if let system = input.system { messages.append(("system", system)) }
                messages.append(("user", prompt))
                return (grammar, try model.chatPrompt(messages))
            }
        } catch {
            return .failure(error.description)
        }
        let g: Generation
        do {
            g = try await engine.generate(prompt: text, params: params)
        } catch {
            return .failure(error.description)
        }
        let usage = Usage(model: model.descriptor.name, promptTokens: g.promptTokens, generatedTokens: g.generatedTokens,
                          promptMillis: g.promptMillis, generationMillis: g.generationMillis)
        if g.stopReason == "cancelled" { return BackendOutcome(succeeded: false, error: "cancelled", usage: usage) }
        return BackendOutcome(succeeded: true, output: g.text, usage: usage)
    }
}

extension LlamaBackend {
    /// A task's sampling numbers, made safe for llama.cpp: they come from a submitter (through honeycombd) and no
    /// value may trap or reach the sampler as NaN. Non-finite floats are refused (naming the field); finite ones and
    /// integers are clamped to what means something: temperature ≥ 0 (0 is greedy), top_p in 0…1, top_k in
    /// 0…vocabulary (0: off), max_tokens in 1…context, the seed's low 32 bits.
    public static func sampling(_ input: TaskInput, vocabularySize: Int, contextLength: Int) -> Result<SamplingParams, SamplingError> {
        var params = SamplingParams()
        if let t = input.temperature {
            guard t.isFinite else { return .failure(.notFinite(field: "temperature", value: t)) }
            params.temperature = Float(min(max(0, t), 1_000))
        }
        if let p = input.topP {
            guard p.isFinite else { return .failure(.notFinite(field: "top_p", value: p)) }
            params.topP = Float(min(max(0, p), 1))
        }
        if let k = input.topK { params.topK = Int32(clamping: min(max(0, k), max(0, vocabularySize))) }
        if let s = input.seed { params.seed = UInt32(truncatingIfNeeded: s) }
        if let m = input.maxTokens { params.maxTokens = min(max(1, m), max(1, contextLength)) }
        if let stop = input.stop { params.stop = stop }
        return .success(params)
    }
}

/// Why a model task's sampling settings were refused.
public enum SamplingError: Error, Equatable, CustomStringConvertible {
    case notFinite(field: String, value: Double)

    public var description: String {
        switch self {
        case .notFinite(let f, let v): return "\(f) must be a finite number, not \(v)"
        }
    }
}
