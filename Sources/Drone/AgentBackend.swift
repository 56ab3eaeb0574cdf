import Foundation
import HiveCore
import HiveSystem

/// Runs `agent` tasks: a bounded loop on this drone's model (`AgentModel`) over the tools of its sources (exec
/// commands, MCP servers): model turn → a tool call or the answer → the call's result → the next turn.
///
/// Policy is the task's, checked here again whatever honeycombd decided: the model is shown only the tools in
/// `agent.tools` this drone offers; a call to any other, a call whose arguments break the tool's schema, and a
/// call to a tool whose definition no longer matches the goal's pin are error results the model sees, never
/// calls. Bounds: `agent.max_steps` turns (the last may only answer), `max_tokens` per turn, the reservation
/// (`AgentSpec.worstCaseTokens`, stopped before a turn that could pass it), `max_wall_ms`, `call_timeout_ms` and
/// cancellation. The output is the transcript (`AgentTranscript`), also when the loop ends without an answer.
public final class AgentBackend: Backend, @unchecked Sendable {
    let model: any AgentModel
    let sources: [String: any ToolSource]
    /// The definitions listed at start (what the hello advertises); each task lists them again for its pins.
    public let tools: [ToolDefinition]
    /// The transcript's bytes at most (the drone's `--max-output-bytes`, at least `minimumOutputBytes`): past it the
    /// transcript keeps every call but shortens their results and arguments (the model saw them whole, up to 8 KiB).
    public let outputCap: Int
    public static let minimumOutputBytes = 16 * 1024

    /// Over `sources` whose tools were listed already (`tools`; a tool whose name does not start with its
    /// source's `server.` is dropped).
    public init(model: any AgentModel, sources: [any ToolSource], tools: [ToolDefinition], outputCap: Int = 1 << 20) {
        var bySource: [String: any ToolSource] = [:]
        for s in sources where bySource[s.server] == nil { bySource[s.server] = s }
        self.outputCap = max(Self.minimumOutputBytes, outputCap)
        self.model = model
        self.sources = bySource
        self.tools = tools.filter { t in
            ToolAdvert.isValidName(t.name) && bySource.keys.contains { t.name.hasPrefix($0 + ".") }
        }
    }

    /// Lists every source's tools (a source that fails to list is an error: the drone should not start half-armed).
    public static func start(model: any AgentModel, sources: [any ToolSource], outputCap: Int = 1 << 20) async throws -> AgentBackend {
        var tools: [ToolDefinition] = []
        for s in sources { tools += try await s.listTools() }
        return AgentBackend(model: model, sources: sources, tools: tools, outputCap: outputCap)
    }

    public var kind: String { "agent" }
    public var capabilities: [String] {
        tools.map { ToolAdvert.capability($0.name) } + tools.filter(\.sideEffecting).map { ToolAdvert.effectCapability($0.name) }
    }

    public func run(_ task: Assignment) async -> BackendOutcome {
        let input = task.input ?? TaskInput()
        if let why = AgentSpec.problem(kind: "agent", input: input) { return .failure(why, permanent: true) }
        guard let agent = input.agent, let prompt = input.prompt else { return .failure("agent task without input.agent", permanent: true) }
        let began = Monotonic.now()
        let wallMillis = agent.wallMillis(taskMillis: task.timeoutMillis)
        let reservation = AgentSpec.worstCaseTokens(input)
        let turnTokens = min(max(1, input.maxTokens ?? AgentSpec.defaultTurnTokens), TaskSpec.maxTokensLimit)
        let allowed = Set(agent.tools)

        // The current definitions of the allowed tools; a source that cannot list them now offers none of them.
        var current: [String: ToolDefinition] = [:]
        for server in Set(agent.tools.compactMap { $0.split(separator: ".", maxSplits: 1).first.map(String.init) }).sorted() {
            guard let source = sources[server], let listed = try? await source.listTools() else { continue }
            for d in listed where allowed.contains(d.name) { current[d.name] = d }
        }
        let shown = agent.tools.compactMap { current[$0] }

        var steps: [AgentStep] = []
        var used = (prompt: 0, generated: 0, promptMillis: 0.0, generationMillis: 0.0)
        var usageModel = model.name
        func elapsed() -> Int { Int(Monotonic.elapsed(from: began, to: Monotonic.now()) / 1_000_000) }
        func outcome(answer: String?, error: String?) -> BackendOutcome {
            let text = Self.encode(AgentTranscript(answer: answer, steps: steps), cap: outputCap)
            var o = BackendOutcome(succeeded: error == nil, output: text, error: error)
            o.usage = Usage(model: usageModel, promptTokens: used.prompt, generatedTokens: used.generated,
                            promptMillis: used.promptMillis, generationMillis: used.generationMillis)
            return o
        }

        for turn in 1...agent.steps {
            if Task.isCancelled { return outcome(answer: nil, error: "cancelled") }
            let left = wallMillis - elapsed()
            if left <= 0 {
                return outcome(answer: nil, error: "no answer within \(wallMillis) ms (agent.max_wall_ms) after \(steps.count) tool calls")
            }
            let last = turn == agent.steps
            let conversation = AgentConversation(system: input.system, prompt: prompt, steps: steps, tools: last ? [] : shown,
                                                 maxTokens: turnTokens, input: input)
            let worst = conversation.bytes + 64 + turnTokens
            if used.prompt.saturatingAdding(used.generated).saturatingAdding(worst) > reservation {
                return outcome(answer: nil, error: "turn \(turn) could pass the agent's token reservation of \(reservation) "
                               + "(agent.max_steps × per-turn worst case); \(steps.count) tool calls made, no answer")
            }
            let decided: AgentTurn
            do {
                decided = try await Deadline.run(millis: left) { try await self.model.turn(conversation) }
            } catch is DeadlineError {
                if Task.isCancelled { return outcome(answer: nil, error: "cancelled") }
                return outcome(answer: nil, error: "no answer within \(wallMillis) ms (agent.max_wall_ms) after \(steps.count) tool calls")
            } catch {
                if Task.isCancelled || error is CancellationError { return outcome(answer: nil, error: "cancelled") }
                return outcome(answer: nil, error: "model turn \(turn) failed: \(error)")
            }
            if let u = decided.usage {
                usageModel = u.model
                used.prompt = used.prompt.saturatingAdding(min(max(0, u.promptTokens), 1 << 40))
                used.generated = used.generated.saturatingAdding(min(max(0, u.generatedTokens), 1 << 40))
                used.promptMillis += u.promptMillis.isFinite ? max(0, u.promptMillis) : 0
                used.generationMillis += u.generationMillis.isFinite ? max(0, u.generationMillis) : 0
            }
            if Task.isCancelled { return outcome(answer: nil, error: "cancelled") }
            switch decided.decision {
            case .answer(let a):
                return outcome(answer: a, error: nil)
            case .unreadable(let why):
                steps.append(AgentStep(tool: "", arguments: .null, result: "\(why); reply with {\"tool\": …, \"arguments\": {…}} or {\"answer\": …}",
                                       isError: true, millis: 0, atMillis: elapsed()))
            case .call(let tool, let arguments):
                if last {
                    steps.append(AgentStep(tool: tool, arguments: arguments, result: "no tool calls are left (agent.max_steps \(agent.steps)); answer now",
                                           isError: true, millis: 0, atMillis: elapsed()))
                    break
                }
                steps.append(await call(tool, arguments, agent: agent, allowed: allowed, current: current, taskMillis: task.timeoutMillis,
                                        wallLeft: wallMillis - elapsed(), at: elapsed()))
            }
        }
        return outcome(answer: nil, error: "no answer after \(agent.steps) turns (agent.max_steps)")
    }

    /// One call, or the error result that replaces it.
    func call(_ tool: String, _ arguments: JSONValue, agent: AgentSpec, allowed: Set<String>, current: [String: ToolDefinition],
              taskMillis: Int, wallLeft: Int, at: Int) async -> AgentStep {
        func refused(_ why: String) -> AgentStep { AgentStep(tool: tool, arguments: arguments, result: why, isError: true, millis: 0, atMillis: at) }
        guard allowed.contains(tool) else {
            return refused("tool \(tool) is not allowed for this task (agent.tools: \(agent.tools.joined(separator: ", ")))")
        }
        guard let definition = current[tool], let server = tool.split(separator: ".", maxSplits: 1).first,
              let source = sources[String(server)] else {
            return refused("this drone does not offer tool \(tool) now")
        }
        if let pinned = agent.pins?[tool], pinned != definition.pin {
            return refused("tool \(tool) changed since the goal was submitted (pinned \(pinned.prefix(19))…, now \(definition.pin.prefix(19))…); the call was refused")
        }
        if let why = JSONSchemaCheck.problem(in: AgentInstructions.json(arguments), schema: definition.inputSchema) {
            return refused("the arguments do not match \(tool)'s schema: \(why)")
        }
        let timeout = max(1, min(agent.callMillis(taskMillis: taskMillis), wallLeft))
        let started = Monotonic.now()
        var result: ToolCallResult
        do {
            result = try await Deadline.run(millis: timeout + 1_000) {
                try await source.call(String(tool.dropFirst(server.count + 1)), arguments: arguments, timeoutMillis: timeout)
            }
        } catch is DeadlineError {
            result = ToolCallResult(text: "the call took longer than \(timeout) ms (agent.call_timeout_ms)", isError: true)
        } catch {
            result = ToolCallResult(text: "the call failed: \(error)", isError: true)
        }
        let ms = Int(Monotonic.elapsed(from: started, to: Monotonic.now()) / 1_000_000)
        return AgentStep(tool: tool, arguments: arguments, result: Self.cut(result.text), isError: result.isError, millis: ms, atMillis: at)
    }

    /// The transcript's JSON within `cap` bytes: whole when it fits, else with each call's result and arguments
    /// shortened (halving until it fits; every call stays, with its tool, error flag and times).
    static func encode(_ t: AgentTranscript, cap: Int) -> String {
        let encoder = CanonicalJSON.encoder()
        func text(_ t: AgentTranscript) -> String { (try? encoder.encode(t)).map { String(decoding: $0, as: UTF8.self) } ?? "{}" }
        var out = text(t)
        var share = cap / max(1, 2 * t.steps.count)
        while out.utf8.count > cap && share >= 16 {
            var small = t
            small.answer = t.answer.map { cut($0, limit: cap / 2, note: "in the transcript") }
            for i in small.steps.indices {
                small.steps[i].result = cut(t.steps[i].result, limit: share, note: "in the transcript")
                let args = t.steps[i].arguments.compactJSON
                if args.utf8.count > share { small.steps[i].arguments = .string("[arguments of \(args.utf8.count) bytes cut from the transcript]") }
            }
            out = text(small)
            share /= 2
        }
        return out.utf8.count > cap ? text(AgentTranscript(answer: t.answer.map { cut($0, limit: cap / 2, note: "in the transcript") }, steps: [])) : out
    }

    /// A result as the model gets it: at most `AgentSpec.resultBytes`, on a character boundary, saying it was cut.
    static func cut(_ text: String, limit: Int = AgentSpec.resultBytes, note: String = "") -> String {
        guard text.utf8.count > limit else { return text }
        var end = text.utf8.index(text.utf8.startIndex, offsetBy: limit)
        while end > text.startIndex && end.samePosition(in: text.unicodeScalars) == nil { end = text.utf8.index(before: end) }
        return String(text[..<end]) + "\n[cut\(note.isEmpty ? "" : " " + note): the result was \(text.utf8.count) bytes; the first \(limit) are shown]"
    }
}

/// A run that passed its deadline.
struct DeadlineError: Error, CustomStringConvertible {
    var description: String { "deadline passed" }
}

/// Runs an operation with a time limit: past it the operation is cancelled and `DeadlineError` thrown.
enum Deadline {
    static func run<T: Sendable>(millis: Int, _ operation: @escaping @Sendable () async throws -> T) async throws -> T {
        try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask { try await operation() }
            group.addTask {
                try? await Task.sleep(for: .milliseconds(max(1, millis)))
                return nil
            }
            defer { group.cancelAll() }
            while let next = try await group.next() {
                if let value = next { return value }
                throw DeadlineError()
            }
            throw DeadlineError()
        }
    }
}
