import HiveCore
import HiveSystem
import Llama
import Synchronization

/// Runs `model` tasks (a prompt for a language model) on a GGUF model loaded once at drone start. Other
/// backends serve the same kind (an external API on a core drone), so goals do not name the engine.
///
/// One `LlamaSession` (llama.cpp context) per concurrently running task, created on first need and reused:
/// the weights are shared, contexts are not, so slots never wait on each other's decode. Generation runs on an
/// OS thread (it is seconds of CPU work) and stops between tokens when the task is cancelled.
public final class LlamaBackend: Backend, @unchecked Sendable {
    public let model: LlamaModel
    private let contextLength: Int
    private let threads: Int32
    private let idle = Mutex<[LlamaSession]>([])
    /// `chat`: prompts go through the model's chat template; `completion`: they are continued as given.
    public let promptFormat: PromptFormat

    /// `promptFormat` nil (`--prompt-format auto`): chat when the model has a chat template, else completion.
    public init(model: LlamaModel, contextLength: Int, threads: Int32, promptFormat: PromptFormat? = nil) {
        self.model = model
        self.contextLength = contextLength
        self.threads = threads
        self.promptFormat = promptFormat ?? (model.hasChatTemplate ? .chat : .completion)
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
        do {
            if let schema = input.jsonSchema {
                params.grammar = try JSONGrammar.fromSchema(schema)
            } else if input.json == true {
                params.grammar = JSONGrammar.anyObject
            }
        } catch {
            return .failure(error.description)
        }
        let text: String
        do {
            if input.chat ?? true, promptFormat == .chat {
                var messages: [(role: String, content: String)] = []
                if let system = input.system { messages.append(("system", system)) }
                messages.append(("user", prompt))
                text = try model.chatPrompt(messages)
            } else {
                text = (input.system.map { $0 + "\n" } ?? "") + prompt
            }
        } catch {
            return .failure(error.description)
        }
        let session: LlamaSession
        if let s = idle.withLock({ $0.popLast() }) {
            session = s
        } else {
            do { session = try LlamaSession(model: model, contextLength: contextLength, threads: threads) } catch {
                return .failure(error.description)
            }
        }
        defer { idle.withLock { $0.append(session) } }
        let cancelled = CancelFlag()
        let sampling = params
        let result: Result<Generation, LlamaError> = await withTaskCancellationHandler {
            await withCheckedContinuation { (c: CheckedContinuation<Result<Generation, LlamaError>, Never>) in
                OSThread(name: "llama") {
                    c.resume(returning: Result { () throws(LlamaError) -> Generation in
                        try session.generate(prompt: text, params: sampling) { cancelled.isSet }
                    })
                }.detach()
            }
        } onCancel: {
            cancelled.set()
        }
        switch result {
        case .success(let g):
            let usage = Usage(model: model.descriptor.name, promptTokens: g.promptTokens, generatedTokens: g.generatedTokens,
                              promptMillis: g.promptMillis, generationMillis: g.generationMillis)
            if g.stopReason == "cancelled" { return BackendOutcome(succeeded: false, error: "cancelled", usage: usage) }
            return BackendOutcome(succeeded: true, output: g.text, usage: usage)
        case .failure(let e):
            return .failure(e.description)
        }
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

/// Set once from any thread, read between tokens.
final class CancelFlag: Sendable {
    private let flag = Atomic<Bool>(false)
    func set() { flag.store(true, ordering: .relaxed) }
    var isSet: Bool { flag.load(ordering: .relaxed) }
}
