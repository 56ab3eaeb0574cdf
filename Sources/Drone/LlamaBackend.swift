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

    public init(model: LlamaModel, contextLength: Int, threads: Int32) {
        self.model = model
        self.contextLength = contextLength
        self.threads = threads
    }

    public var kind: String { "model" }
    public var capabilities: [String] {
        let d = model.descriptor
        return ["engine:llama.cpp", "model:\(d.name)"] + (d.sha256.isEmpty ? [] : ["model-sha256:\(d.sha256)"])
    }
    public var models: [ModelDescriptor] { [model.descriptor] }

    public func run(_ task: Assignment) async -> BackendOutcome {
        let input = task.input ?? TaskInput()
        guard let prompt = input.prompt ?? input.text else { return .failure("model task without a prompt (input.prompt)") }
        var params = SamplingParams()
        if let t = input.temperature { params.temperature = Float(t) }
        if let k = input.topK { params.topK = Int32(k) }
        if let p = input.topP { params.topP = Float(p) }
        if let s = input.seed { params.seed = UInt32(truncatingIfNeeded: s) }
        if let m = input.maxTokens { params.maxTokens = max(1, m) }
        if let stop = input.stop { params.stop = stop }
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
            if input.chat ?? true, model.hasChatTemplate {
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

/// Set once from any thread, read between tokens.
final class CancelFlag: Sendable {
    private let flag = Atomic<Bool>(false)
    func set() { flag.store(true, ordering: .relaxed) }
    var isSet: Bool { flag.load(ordering: .relaxed) }
}
