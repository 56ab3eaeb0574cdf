import Foundation
import HiveCore
import HiveLog
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
    /// Source names in the order given (tools are listed in it).
    private let order: [String]
    private let lock = PosixLock()
    /// The definitions each source offers now (what the hello advertises): listed at start, replaced when a source
    /// says its tools changed (`watch`). Each task asks its sources again (they answer from their caches) for its pins.
    private var listed: [String: [ToolDefinition]] = [:]
    /// The transcript's bytes at most (the drone's `--max-output-bytes`, at least `minimumOutputBytes`): past it the
    /// transcript keeps every call but shortens their results and arguments (the model saw them whole, up to 8 KiB).
    public let outputCap: Int
    public static let minimumOutputBytes = 16 * 1024
    /// Tools one drone offers from all its sources: each may take two of the hello's capabilities (`tool:` and
    /// `effect:tool:`), which must leave room for the rest.
    public static let maxTools = DroneHello.maxCapabilities / 4

    /// Over `sources` whose tools were listed already (`tools`; a tool whose name does not start with its
    /// source's `server.` is dropped).
    public init(model: any AgentModel, sources: [any ToolSource], tools: [ToolDefinition], outputCap: Int = 1 << 20) {
        var bySource: [String: any ToolSource] = [:]
        var order: [String] = []
        for s in sources where bySource[s.server] == nil {
            bySource[s.server] = s
            order.append(s.server)
        }
        self.outputCap = max(Self.minimumOutputBytes, outputCap)
        self.model = model
        self.sources = bySource
        self.order = order
        for server in order { listed[server] = Self.offered(tools, by: server) }
    }

    /// Lists every source's tools (a source that fails to list is an error: the drone should not start half-armed).
    public static func start(model: any AgentModel, sources: [any ToolSource], outputCap: Int = 1 << 20) async throws -> AgentBackend {
        var tools: [ToolDefinition] = []
        for s in sources { tools += try await s.listTools() }
        return AgentBackend(model: model, sources: sources, tools: tools, outputCap: outputCap)
    }

    /// The tools of `tools` that `server` may offer: valid names under its prefix.
    private static func offered(_ tools: [ToolDefinition], by server: String) -> [ToolDefinition] {
        tools.filter { ToolAdvert.isValidName($0.name) && $0.name.hasPrefix(server + ".") }
    }

    /// Every tool offered now, sources in order.
    public var tools: [ToolDefinition] { lock.withLock { order.flatMap { listed[$0] ?? [] } } }

    /// Follows each source's changes: its new definitions replace its old ones (unless the drone would then offer
    /// more than `maxTools`: the old ones stay, with a warning), and `changed` is called so the drone announces
    /// them (honeycombd pins new goals to the new definitions; goals pinned to the old ones are refused their calls).
    public func watch(_ changed: @escaping @Sendable () -> Void) async {
        for server in order {
            guard let source = sources[server] else { continue }
            // A server may change its tools at every listing: one line a second per server, with the count left out.
            let lines = LogThrottle(intervalMillis: 1_000)
            await source.onToolsChanged { [weak self] tools in
                guard let self else { return }
                let fresh = Self.offered(tools, by: server)
                let taken: Bool = self.lock.withLock {
                    let others = self.listed.filter { $0.key != server }.values.reduce(0) { $0 + $1.count }
                    guard others + fresh.count <= Self.maxTools else { return false }
                    self.listed[server] = fresh
                    return true
                }
                let log = Log("drone")
                let suppressed = lines.admit(now: Monotonic.now())
                guard taken else {
                    if let suppressed {
                        log.warn("tools_change_refused", ["server": server, "tools": fresh.count,
                                                          "reason": "the drone would offer more than \(Self.maxTools) tools",
                                                          "effect": "the old definitions stay advertised; calls are checked against the server's current ones",
                                                          "suppressed": suppressed])
                    }
                    return
                }
                if let suppressed {
                    log.info("tools_changed", ["server": server, "tools": fresh.map(\.name).joined(separator: ","), "effect": "announcing again",
                                               "suppressed": suppressed])
                }
                changed()
            }
        }
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
        let shown = agent.tools.compactMap { current[$0].map(agent.showing) }  // bound arguments left out

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

        // Steps spent: a turn that answers or cannot be read spends one, a turn with calls one per call made. The
        // last step is kept for the answer (that turn is shown no tools).
        var spent = 0
        var turn = 0
        while spent < agent.steps {
            turn += 1
            if Task.isCancelled { return outcome(answer: nil, error: "cancelled") }
            let left = wallMillis - elapsed()
            if left <= 0 {
                return outcome(answer: nil, error: "no answer within \(wallMillis) ms (agent.max_wall_ms) after \(steps.count) tool calls")
            }
            let last = spent == agent.steps - 1
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
                                       isError: true, millis: 0, atMillis: elapsed(), turn: turn))
                spent += 1
            case .calls(let asked):
                // In order, as the model listed them; those past the steps left are answered, not made.
                let calls = asked.prefix(AgentDecision.maxCallsPerTurn)
                let room = last ? 0 : agent.steps - 1 - spent
                for (i, c) in calls.enumerated() {
                    if Task.isCancelled { return outcome(answer: nil, error: "cancelled") }
                    if i >= room {
                        let why = last ? "no tool calls are left (agent.max_steps \(agent.steps)); answer now"
                            : "not made: the calls before it used the tool calls left (agent.max_steps \(agent.steps))"
                        steps.append(AgentStep(tool: c.tool, arguments: c.arguments, result: why, isError: true, millis: 0,
                                               atMillis: elapsed(), turn: turn))
                    } else if let problem = c.problem {
                        steps.append(AgentStep(tool: c.tool, arguments: c.arguments, result: problem, isError: true, millis: 0,
                                               atMillis: elapsed(), turn: turn))
                    } else {
                        var step = await call(c.tool, c.arguments, agent: agent, allowed: allowed, shown: current,
                                              taskMillis: task.timeoutMillis, wallLeft: wallMillis - elapsed(), at: elapsed())
                        step.turn = turn
                        steps.append(step)
                    }
                }
                spent += max(1, min(calls.count, room))
            }
        }
        return outcome(answer: nil, error: "no answer after \(agent.steps) steps (agent.max_steps): \(turn) turns, \(steps.count) tool calls")
    }

    /// One call, or the error result that replaces it. The definition is the source's as of now (its listing is
    /// cached until the server says it changed): a tool whose definition no longer matches the goal's pin, or,
    /// unpinned, the one this task's model was shown (`shown`), is refused.
    func call(_ tool: String, _ arguments: JSONValue, agent: AgentSpec, allowed: Set<String>, shown: [String: ToolDefinition],
              taskMillis: Int, wallLeft: Int, at: Int) async -> AgentStep {
        func refused(_ why: String) -> AgentStep { AgentStep(tool: tool, arguments: arguments, result: why, isError: true, millis: 0, atMillis: at) }
        guard allowed.contains(tool) else {
            return refused("tool \(tool) is not allowed for this task (agent.tools: \(agent.tools.joined(separator: ", ")))")
        }
        guard let wasShown = shown[tool], let server = tool.split(separator: ".", maxSplits: 1).first,
              let source = sources[String(server)],
              let definition = (try? await source.listTools())?.first(where: { $0.name == tool }) else {
            return refused("this drone does not offer tool \(tool) now")
        }
        let pin = agent.boundPin(tool, definitionPin: definition.pin)
        if let pinned = agent.pins?[tool], pinned != pin {
            return refused("tool \(tool) changed since the goal was submitted (pinned \(pinned.prefix(19))…, now \(pin.prefix(19))…); the call was refused")
        }
        if wasShown.pin != definition.pin {
            return refused("tool \(tool) changed since this task began (shown \(wasShown.pin.prefix(19))…, now \(definition.pin.prefix(19))…); the call was refused")
        }
        if let why = JSONSchemaCheck.problem(in: AgentInstructions.json(arguments), schema: agent.showing(definition).inputSchema) {
            return refused("the arguments do not match \(tool)'s schema: \(why)")
        }
        // The goal's bound arguments go first (exec) or over the model's (named); the whole must fit the tool.
        let bound = agent.boundArguments(tool, arguments)
        if bound != arguments, let why = JSONSchemaCheck.problem(in: AgentInstructions.json(bound), schema: definition.inputSchema) {
            return refused("the goal's bound arguments and these do not match \(tool)'s schema: \(why)")
        }
        let timeout = max(1, min(agent.callMillis(taskMillis: taskMillis), wallLeft))
        let started = Monotonic.now()
        var result: ToolCallResult
        do {
            result = try await Deadline.run(millis: timeout + 1_000) {
                try await source.call(String(tool.dropFirst(server.count + 1)), arguments: bound, timeoutMillis: timeout)
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
