#if canImport(Glibc)
import Glibc
#endif
import Foundation
import HiveCommandLine
import HiveCore
import HiveTLS
import NATSClient
import NATSWire

/// The shared `--honeycomb`/`--tls-*`/`--json` handling and the request/reply helpers behind every control command.
struct ControlCLI {
    var urls = ProcessInfo.processInfo.environment["HIVE_URL"] ?? "nats://127.0.0.1:4222"
    /// The bus's CA and this client's certificate (`--tls-ca`, `--tls-cert`, `--tls-key`; else `$HIVE_TLS_CA`…).
    var tls = TLSFiles(certificate: environment("HIVE_TLS_CERT"), key: environment("HIVE_TLS_KEY"), ca: environment("HIVE_TLS_CA"))
    var json = false
    /// How long a wait for a goal may go on with honeycombd silent (no answer to any request), in seconds
    /// (`--answer-timeout`; long enough to ride out a restart).
    var patience = 60.0
    /// How long a wait for a goal (`--wait`, `watch`) may take in all, in seconds; nil: until the goal ends.
    var waitTimeout: Double?
    var rest: [String] = []

    /// The shared options (`sharedOptions`) from a parsed command line; `rest` is its positional arguments.
    init(_ p: ParsedArguments) {
        if let v = p.string("--honeycomb") { urls = v }
        if let v = p.string("--tls-ca") { tls.ca = v }
        if let v = p.string("--tls-cert") { tls.certificate = v }
        if let v = p.string("--tls-key") { tls.key = v }
        json = p.flag("--json")
        waitTimeout = p.seconds("--wait-timeout")
        patience = p.seconds("--answer-timeout") ?? patience
        rest = p.positionals
    }

    func connect(reconnect: Bool = false) async -> NATSClient {
        do {
            var o = try NATSClientOptions(urls: urls)
            if !tls.isEmpty {
                if let why = tls.clientProblem { fail(why) }
                o.tls = tls
            }
            o.name = "hive"
            o.allowReconnect = reconnect
            o.maxReconnectAttempts = -1
            return try await NATSClient.connect(o)
        } catch {
            fail(ErrorSentence.of(error, urls: urls), code: 69)
        }
    }

    /// Sends `body` to `subject`, decodes `T` or the API's error.
    /// `orNoResponders`: a bus where no honeycombd answers is thrown as no answer (a wait that rides out an
    /// active/standby failover) instead of ending the command.
    func call<T: Decodable>(_ nc: NATSClient, _ subject: String, _ body: some Encodable, as: T.Type,
                            timeout: Double = 10, orNoResponders: Bool = false) async throws -> T {
        try await callPage(nc, subject, body, as: T.self, timeout: timeout, orNoResponders: orNoResponders).value
    }

    /// `call`, and the cursor of the next page when the reply is one page of a list (`Paging`).
    func callPage<T: Decodable>(_ nc: NATSClient, _ subject: String, _ body: some Encodable, as: T.Type,
                                timeout: Double = 10, orNoResponders: Bool = false) async throws -> (value: T, next: String?) {
        let reply: NATSMessage
        do {
            reply = try await nc.request(subject, Array(JSONEncoder().encode(body)), timeout: timeout)
        } catch NATSClientError.noResponders {
            if orNoResponders { throw RequestError.noAnswer(subject: subject, seconds: timeout, urls: urls) }
            fail("no honeycombd answers on \(urls): the bus is up but honeycombd is not running on it", code: 69)
        } catch NATSClientError.timeout {
            throw RequestError.noAnswer(subject: subject, seconds: timeout, urls: urls)
        } catch NATSClientError.maxPayloadExceeded(let size, let max) {
            throw RequestError.tooLarge(subject: subject, bytes: size, max: max)
        } catch let e as NATSClientError {
            throw RequestError.bus(ErrorSentence.bus(e, urls: urls))
        }
        if let e = try? JSONDecoder().decode(APIError.self, from: Data(reply.payload)) { throw e }
        do {
            return (try JSONDecoder().decode(T.self, from: Data(reply.payload)), reply.headers?[Paging.cursorHeader])
        } catch {
            throw RequestError.unreadable(subject: subject, reason: ErrorSentence.of(error, reading: "honeycombd's reply to \(subject.split(separator: ".").last ?? "")"))
        }
    }

    /// Every page of a list: `body(cursor)` asks for the page at a cursor (nil: the first).
    func collect<T: Decodable>(_ nc: NATSClient, _ subject: String, as: T.Type, timeout: Double = 10,
                               _ body: (String?) -> any Encodable) async throws -> [T] {
        var all: [T] = [], cursor: String? = nil
        repeat {
            let (page, next) = try await callPage(nc, subject, body(cursor), as: [T].self, timeout: timeout)
            if next != nil && (next == cursor || page.isEmpty) { throw RequestError.stuckPaging(subject: subject) }
            all += page
            cursor = next
        } while cursor != nil
        return all
    }

    /// A goal's whole result: the first page, then the rest of its tasks page by page.
    func result(_ nc: NATSClient, _ goal: GoalID, timeout: Double = 10) async throws -> GoalResult {
        var (result, cursor) = try await callPage(nc, APISubject.result, GoalRef(goal: goal), as: GoalResult.self, timeout: timeout)
        while let c = cursor {
            let (page, next) = try await callPage(nc, APISubject.result, GoalRef(goal: goal, cursor: c), as: GoalResult.self, timeout: timeout)
            if next == c || page.tasks.isEmpty { throw RequestError.stuckPaging(subject: APISubject.result) }
            result.tasks += page.tasks
            cursor = next
        }
        return result
    }

    func printJSON(_ value: some Encodable) {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .prettyPrinted]
        print(String(decoding: (try? e.encode(value)) ?? Data(), as: UTF8.self))
    }
}

struct Empty: Codable {}

/// Why a request to honeycombd got no usable answer, in words that say what to check.
enum RequestError: Error, CustomStringConvertible {
    case noAnswer(subject: String, seconds: Double, urls: String)
    /// `reason` is the whole sentence (`ErrorSentence`), naming the verb.
    case unreadable(subject: String, reason: String)
    /// The bus failed the request (connection lost, refused), in words.
    case bus(String)
    /// The request would not fit one bus message: nothing was sent.
    case tooLarge(subject: String, bytes: Int, max: Int)
    case stuckPaging(subject: String)
    /// honeycombd answered nothing for this long while a goal was being waited for.
    case silent(seconds: Double, urls: String)
    /// The wait's own deadline (`--wait-timeout`) passed with the goal still running.
    case waitTimedOut(goal: GoalID, seconds: Double)

    var description: String {
        switch self {
        case .noAnswer(let s, let t, let u):
            return "honeycombd did not answer \(s) within \(formatSeconds(t)) s (is it running and reachable at \(u)?)"
        case .unreadable(_, let r): return r
        case .bus(let text): return text
        case .tooLarge(let s, let n, let m):
            return "the \(s.split(separator: ".").last ?? "") request is \(n) bytes, over the bus's max_payload of \(m) bytes (honeycombd --max-payload BYTES, at most 64 MiB); nothing was sent"
        case .stuckPaging(let s): return "\(s) answered the same page twice; giving up"
        case .silent(let t, let u): return "honeycombd has not answered for \(formatSeconds(t)) s at \(u) (--answer-timeout); giving up the wait"
        case .waitTimedOut(let g, let t): return "goal \(g) is still running after \(formatSeconds(t)) s (--wait-timeout); see hive watch \(g)"
        }
    }
}

private func formatSeconds(_ s: Double) -> String { s == s.rounded() && s < 1e9 ? String(Int(s)) : String(s) }

/// `hive submit "GOAL TEXT"` (the architect plans it), `hive submit PLAN.json|-` or `--plan FILE`,
/// `hive submit --prompt TEXT`, or `hive submit --exec CMD [ARGS…] --count N`; each with `[--wait] [--json]`.
func submitCommand(_ p: ParsedArguments) async {
    let cli = ControlCLI(p)
    var spec: GoalSpec?
    let count = p.int("--count") ?? 1
    let tier = p.tier("--tier")
    let wait = p.flag("--wait")
    let timeoutMillis = p.int("--timeout-ms")
    let maxAttempts = p.int("--max-attempts")
    let priority = p.int("--priority") ?? 0
    let deadlineMillis = p.int("--deadline-ms")
    let name = p.string("--name")
    let exec = p.rest("--exec")
    var prompt = p.string("--prompt")
    // A prompt from a file (or - for stdin): up to 16 KiB inline, larger uploaded as a blob once connected.
    var promptBlob: Data?
    if let path = p.string("--prompt-file") {
        if prompt != nil { p.refuse("give --prompt TEXT or --prompt-file FILE, not both") }
        let data = path == "-" ? FileHandle.standardInput.readDataToEndOfFile() : readFileOrExit(path, what: "prompt file")
        switch PromptFile(data) {
        case .inline(let text): prompt = text
        case .blob(let data): promptBlob = data
        case .notText:
            fail("prompt file \(path == "-" ? "(stdin)" : path) is not UTF-8 text: a prompt must be text "
                 + "(binary input is --input's, for --exec and --wasm tasks)", code: 65)
        }
    }
    let hasPrompt = prompt != nil || promptBlob != nil
    if p.has("--agent") && !hasPrompt { p.refuse("--agent needs --prompt or --prompt-file: the request the agent works on") }
    var model = TaskInput()
    model.system = p.string("--system")
    model.maxTokens = p.int("--max-tokens")
    model.temperature = p.orExit { try $0.number("--temperature") }
    model.seed = p.int("--seed")
    if p.has("--stop") { model.stop = p.strings("--stop") }
    if p.flag("--json-output") { model.json = true }
    if let path = p.string("--json-schema") {
        let d = readFileOrExit(path, what: "schema file")
        model.jsonSchema = String(decoding: d, as: UTF8.self)
    }
    let wasm = p.string("--wasm")
    var wasmInput = TaskInput()
    // Read as bytes: small UTF-8 text goes inline, anything larger or binary is uploaded as a blob once connected.
    var inputBlob: Data?
    var inlineStdin: String?
    if let path = p.string("--input") {
        guard wasm != nil || !exec.isEmpty else { p.refuse("--input is the stdin of --wasm or --exec tasks") }
        switch TaskStdin(readFileOrExit(path, what: "input file")) {
        case .inline(let text): inlineStdin = text
        case .blob(let data): inputBlob = data
        }
    }
    wasmInput.stdin = inlineStdin
    wasmInput.fuel = p.int("--fuel")
    wasmInput.memoryMiB = p.int("--memory")
    if p.flag("--scratch") { wasmInput.scratch = true }
    var architect = ArchitectSpec()
    var explore = StepSpec(id: "")
    var integrate = StepSpec(id: "")
    explore.n = p.int("--n")
    explore.join = p.join("--join")
    explore.critics = p.int("--critics")
    explore.criticTier = p.tier("--critic-tier")
    architect.tier = p.tier("--architect-tier")
    integrate.tier = p.tier("--integrate-tier")
    let maxCoreCalls = p.int("--max-core-calls")
    let budgetTokens = p.int("--budget-tokens")
    var planPath = p.string("--plan")
    var goalText: String?
    if let a = cli.rest.first {
        if planPath != nil { p.refuse("submit takes one plan file or one goal text (quote the goal), not --plan and '\(a)'") }
        // A plan file (or - for stdin) when one exists at that path; otherwise the goal, in words, for the architect.
        if a == "-" || FileManager.default.fileExists(atPath: a) {
            planPath = a
        } else if SubmitCommand.looksLikePath(a) {
            fail("no such plan file: \(a); to submit words, quote them and don't end in .json", code: 66)
        } else {
            goalText = a
        }
    }
    if let wasm {
        guard count >= 1 else { p.refuse("--count must be at least 1") }
        wasmInput.module = wasm.lowercased()
        let task = TaskSpec(kind: "wasm", tier: tier, input: wasmInput, maxAttempts: maxAttempts, timeoutMillis: timeoutMillis)
        spec = GoalSpec(name: name ?? "wasm \(wasm.prefix(12))", priority: priority,
                        budget: Budget(maxTasks: count + 1, deadlineMillis: deadlineMillis),
                        root: count == 1 ? task : .fork(Array(repeating: task, count: count)))
    } else if hasPrompt {
        model.prompt = prompt
        var kind = "model"
        if let tools = p.string("--agent") {
            // An agent: the same prompt and sampling, and the tools it may call (honeycombd checks the names).
            kind = "agent"
            model.agent = AgentSpec(tools: tools.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty },
                                    maxSteps: p.int("--max-steps"), bind: bindings(p.strings("--bind"), p))
        } else if let option = ["--max-steps", "--bind"].first(where: p.has) {
            p.refuse("\(option) is for agents: give --agent TOOLS too")
        }
        let task = TaskSpec(kind: kind, tier: tier, input: model, maxAttempts: maxAttempts, timeoutMillis: timeoutMillis)
        spec = GoalSpec(name: name ?? (kind == "agent" ? "agent" : "prompt"), priority: priority,
                        budget: Budget(maxTasks: 1, deadlineMillis: deadlineMillis), root: task)
    } else if !exec.isEmpty {
        guard count >= 1 else { p.refuse("--count must be at least 1") }
        let command = resolveCommand(exec[0])
        let task = TaskSpec(kind: "exec", tier: tier, input: TaskInput(command: command, args: Array(exec.dropFirst()), stdin: inlineStdin),
                            maxAttempts: maxAttempts, timeoutMillis: timeoutMillis)
        spec = GoalSpec(name: name ?? "exec \(exec.joined(separator: " "))", priority: priority,
                        budget: Budget(maxTasks: count + 1, deadlineMillis: deadlineMillis),
                        root: .fork(Array(repeating: task, count: count)))
    } else if let goalText {
        // The architect writes the plan: subtasks explored by cheap drones (judged or voted), then one integration.
        explore.tier = tier ?? explore.tier
        explore.maxTokens = model.maxTokens
        integrate.maxTokens = model.maxTokens
        if explore.n == nil { explore.n = 3 }
        if explore.join == nil { explore.join = .best }
        architect.step = explore
        architect.integrate = integrate
        spec = GoalSpec(name: name ?? String(goalText.prefix(60)), priority: priority,
                        budget: Budget(deadlineMillis: deadlineMillis, maxTokens: budgetTokens, maxCoreCalls: maxCoreCalls),
                        plan: PlanSpec(goal: goalText, architect: architect))
    } else if let planPath {
        let data: Data
        if planPath == "-" {
            data = FileHandle.standardInput.readDataToEndOfFile()
        } else {
            data = readFileOrExit(planPath, what: "plan file")
        }
        do { spec = try JSONDecoder().decode(GoalSpec.self, from: data) } catch {
            fail(ErrorSentence.of(error, reading: "plan file \(planPath)") + " (see Docs/PLANS.md and Docs/plan.schema.json)", code: 65)
        }
    } else {
        p.refuse("submit needs a goal in words (\"…\"), a plan file (or - for stdin), --prompt TEXT, --prompt-file FILE, --wasm HASH or --exec CMD [ARGS…]")
    }
    let nc = await cli.connect(reconnect: wait)
    defer { nc.close() }
    if let inputBlob {
        do { spec!.root = withStdinBlob(spec!.root, try await uploadBlob(inputBlob, cli: cli, nc: nc)) } catch let e as APIError {
            fail("input refused: \(e.error)", code: 65)
        } catch {
            fail("cannot upload the input: \(ErrorSentence.of(error, urls: cli.urls))", code: 69)
        }
    }
    if let promptBlob {
        do {
            let ref = try await uploadBlob(promptBlob, cli: cli, nc: nc)
            spec!.root.input?.promptBlob = ref.blob
            spec!.root.input?.size = ref.size
        } catch let e as APIError {
            fail("prompt refused: \(e.error)", code: 65)
        } catch {
            fail("cannot upload the prompt: \(ErrorSentence.of(error, urls: cli.urls))", code: 69)
        }
    }
    let ref: GoalRef
    do { ref = try await cli.call(nc, APISubject.submit, spec!, as: GoalRef.self) } catch RequestError.tooLarge(let s, let n, let m) {
        // Prompts and schemas travel inside the goal's JSON (--input and --prompt-file files of any size go as blobs).
        fail("goal refused: \(RequestError.tooLarge(subject: s, bytes: n, max: m)); a prompt or schema travels inside the goal's JSON", code: 65)
    } catch let e as RequestError {
        // No answer is not a refusal: the goal may have been accepted before the reply was lost.
        fail("\(e); the goal may have been accepted: check hive goals before submitting it again", code: 69)
    } catch {
        fail("goal refused: \(ErrorSentence.of(error, urls: cli.urls))", code: 65)
    }
    // On stderr, so that stdout stays the goal id (or the result) for scripts.
    if let warning = ref.warning, !cli.json { printError("warning: goal \(ref.goal) accepted, but \(warning)") }
    guard wait else {
        if cli.json { cli.printJSON(ref) } else { print(ref.goal) }
        return
    }
    // The id at once, and what the wait is (on stderr: stdout stays the result).
    WaitInterrupt.install(goal: ref.goal)
    printError("goal \(ref.goal) submitted; waiting for it to end (Ctrl-C stops waiting; the goal goes on: hive watch \(ref.goal), hive cancel \(ref.goal))")
    let result = await waitForGoal(ref.goal, cli: cli, nc: nc, told: Set((ref.unrunnable ?? []).map(\.reason)))
    report(result, cli: cli)
    exit(result.goal.state == .succeeded ? 0 : 1)
}

/// `--bind TOOL=JSON` values as `agent.bind` (nil when none); honeycombd checks the tools and shapes.
func bindings(_ values: [String], _ p: ParsedArguments) -> [String: JSONValue]? {
    guard !values.isEmpty else { return nil }
    var out: [String: JSONValue] = [:]
    for v in values {
        guard let eq = v.firstIndex(of: "="), eq != v.startIndex else { p.refuse("--bind \(v.prefix(64)): give TOOL=JSON, e.g. exec.try-patch='[\"/srv/repo\", \"make test\"]'") }
        let tool = String(v[..<eq])
        guard let value = try? JSONDecoder().decode(JSONValue.self, from: Data(v[v.index(after: eq)...].utf8)) else {
            p.refuse("--bind \(tool): the value is not JSON (an array of strings for exec tools, an object of named arguments for others)")
        }
        if out.updateValue(value, forKey: tool) != nil { p.refuse("--bind \(tool) is given twice") }
    }
    return out
}

/// Resolves a bare command name through PATH (drones allow-list absolute paths).
func resolveCommand(_ c: String) -> String {
    if c.hasPrefix("/") { return c }
    for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":") {
        let p = "\(dir)/\(c)"
        if FileManager.default.isExecutableFile(atPath: p) { return p }
    }
    return c
}

/// Waits for a goal to end and returns its result (`GoalWait`); `told`: waiting reasons already said.
func waitForGoal(_ goal: GoalID, cli: ControlCLI, nc: NATSClient, told: Set<String> = []) async -> GoalResult {
    await GoalWait(goal: goal, cli: cli, nc: nc).result(told: told)
}

func report(_ r: GoalResult, cli: ControlCLI) {
    if cli.json {
        cli.printJSON(r)
        return
    }
    // The answer first, then how it was decided, then what it cost; the tasks and their failed attempts last.
    print(goalLine(r.goal))
    if let answer = r.answer, r.tasks.count > 1 || r.steps != nil { print("  answer: \(answer)") }
    for v in r.goal.votes ?? [] { print("  \(v)") }
    if let reason = r.goal.reason { print("  reason: \(reason)") }
    if let max = r.goal.budget?.maxTokens {
        print("  tokens: \(r.goal.tokensSpent ?? 0) spent, \(r.goal.tokensReserved ?? 0) reserved of budget \(max)")
    }
    if let max = r.goal.budget?.maxCoreCalls { print("  core-tier calls: \(r.goal.coreCalls ?? 0) of budget \(max)") }
    if let caps = r.goal.budget?.maxTokensByTier {
        let spent = r.goal.tierTokens ?? [:]
        print("  tokens by tier: " + caps.sorted { $0.key < $1.key }.map { "\($0.key) \(spent[$0.key] ?? 0) of \($0.value)" }.joined(separator: ", "))
    }
    if let cost = r.goal.costSpent, cost > 0 || r.goal.budget?.maxCost != nil {
        print(String(format: "  cost: %.6g spent", cost) + (r.goal.budget?.maxCost.map { String(format: " of budget %.6g", $0) } ?? ""))
    }
    if let l = r.ledger, r.tasks.count > 1 {
        let tiers = l.byTier.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value.calls)" }.joined(separator: ", ")
        print(String(format: "  ledger: %d calls (%@), %d+%d tokens, core share %.0f%%, %.1fx parallel over %lld ms",
                     l.total.calls, tiers, l.total.promptTokens, l.total.generatedTokens, l.coreShare * 100,
                     l.parallelSpeedup, l.wallMillis))
        if l.candidatesProposed > 0 || l.retries > 0 || l.reforks > 0 {
            print("  candidates: \(l.candidatesProposed) proposed, \(l.candidatesAccepted) accepted; \(l.retries) retries, \(l.reforks) re-forks")
        }
    }
    if let tools = r.ledger?.byTool {
        print("  tools: " + tools.sorted { $0.key < $1.key }.map { name, l in
            "\(name) \(l.calls) call\(l.calls == 1 ? "" : "s")" + (l.errors > 0 ? " (\(l.errors) errors)" : "") + " \(l.millis) ms"
        }.joined(separator: ", "))
    }
    if let steps = r.steps {
        for s in steps { reportStep(s) }
    } else if r.tasks.count == 1, let t = r.tasks.first, t.kind == "agent", let transcript = AgentTranscript.parse(t.output) {
        reportAgent(transcript, task: t)
    } else if r.tasks.count == 1, let t = r.tasks.first, let u = t.usage {
        // One model call: the text itself, then what it cost.
        if let text = t.output { print(text) }
        if let e = t.error { print("  error: \(e)") }
        print(String(format: "  [%@: %d prompt tokens at %.0f tok/s, %d generated at %.0f tok/s, on %@]", u.model,
                     u.promptTokens, u.promptTokensPerSecond, u.generatedTokens, u.generationTokensPerSecond, t.drone ?? "-"))
    } else {
        for t in r.tasks {
            var out = (t.output ?? "").split(separator: "\n", omittingEmptySubsequences: false).first.map(String.init) ?? ""
            if let b = t.outputBlob { out = "output \(b.size) bytes \(b.blob) (hive result --output-dir DIR writes it)" }
            let code = (t.exitCode.map { " exit \($0)" } ?? "") + (t.fuel.map { " fuel \($0)" } ?? "")
            print("  \(t.task) [\(t.index)] \(t.state.rawValue)\(code) on \(t.drone ?? "-")  \(out)\(t.reason.map { "  (\($0))" } ?? "")")
        }
    }
    reportFailedAttempts(r.tasks)
}

/// An agent's transcript: each call (arguments, the result's first line, its time), then the answer or the error.
func reportAgent(_ transcript: AgentTranscript, task t: TaskView) {
    for (i, s) in transcript.steps.enumerated() {
        let first = s.result.split(separator: "\n", omittingEmptySubsequences: false).first.map(String.init) ?? ""
        let args = s.arguments.compactJSON
        print("  \(i + 1). \(s.tool.isEmpty ? "(unreadable turn)" : s.tool) \(args) → \(s.isError ? "error: " : "")\(first.prefix(160)) (\(s.millis) ms)")
    }
    if let answer = transcript.answer { print(answer) }
    if let e = t.error { print("  error: \(e)") }
    if let u = t.usage {
        print("  [\(u.model): \(u.promptTokens) prompt tokens, \(u.generatedTokens) generated, \(transcript.steps.count) tool calls, on \(t.drone ?? "-")]")
    }
}

/// `goal g1 succeeded: 5 tasks (4 succeeded, 1 dead)`: work tasks, the number `hive goals` shows too (fork, plan
/// and step nodes do no work and are not counted).
func goalLine(_ g: GoalSummary) -> String {
    let counts = g.counts.sorted { $0.key < $1.key }.map { "\($0.value) \($0.key)" }.joined(separator: ", ")
    let n = g.workTaskCount
    return "goal \(g.goal) \(g.state.rawValue): \(n) task\(n == 1 ? "" : "s")\(counts.isEmpty ? "" : " (\(counts))")"
}

/// Every task that was retried or died, with each failed attempt's drone and reason (the latest
/// `AttemptNote.keptPerTask` per task).
func reportFailedAttempts(_ tasks: [TaskView]) {
    let retried = tasks.filter { !($0.failedAttempts ?? []).isEmpty }
    guard !retried.isEmpty else { return }
    print("  failed attempts:")
    for t in retried {
        let notes = t.failedAttempts ?? []
        print("    \(t.task) \(t.state.rawValue) after \(t.attempts) attempt\(t.attempts == 1 ? "" : "s")\(notes.first!.attempt > 1 ? " (earliest not kept)" : ""):")
        for n in notes { print("      \(n)") }
    }
}

/// One plan step: outcome, then each candidate's provenance (author, check, judges and scores, accepted or why not).
func reportStep(_ s: StepView) {
    let rounds = s.rounds > 1 ? ", \(s.rounds) rounds" : ""
    print("  step \(s.id) (\(s.role.rawValue), \(s.join)\(rounds)) \(s.state.rawValue): \(firstLine(s.output ?? s.reason ?? ""))")
    for c in s.candidates {
        var line = "    \(c.accepted ? "*" : " ") \(c.task) r\(c.round + 1) \(c.state.rawValue) by \(c.drone ?? "-")"
        if let t = c.tier { line += " (\(t.rawValue))" }
        if let v = c.verified { line += v ? " check ok" : " check failed" }
        if let score = c.score { line += String(format: " score %.1f", score) }
        if !c.judges.isEmpty {
            line += " judged by " + c.judges.map { j in "\(j.drone ?? "-")=\(j.score.map { String(format: "%g", $0) } ?? "?")" }.joined(separator: ",")
        }
        if let why = c.rejection { line += "  (\(firstLine(why)))" }
        line += "  \(firstLine(c.output ?? ""))"
        print(line)
    }
    if let i = s.integrator { print("      integrated by \(s.integratorDrone ?? "-") (\(i))") }
    for f in s.feedback { print("      feedback: \(firstLine(f))") }
}

private func firstLine(_ text: String) -> String {
    let line = text.split(separator: "\n", omittingEmptySubsequences: true).first.map(String.init) ?? ""
    return line.count > 100 ? String(line.prefix(100)) + "…" : line
}

func goalsCommand(_ p: ParsedArguments) async {
    let cli = ControlCLI(p)
    let nc = await cli.connect()
    defer { nc.close() }
    do {
        let goals = try await cli.collect(nc, APISubject.goals, as: GoalSummary.self) { PageRequest(cursor: $0) }
        if cli.json { return cli.printJSON(goals) }
        // TASKS: work tasks, as hive result counts them (fork, plan and step nodes excluded).
        print("GOAL      STATE       TASKS  NAME")
        for g in goals {
            print("\(g.goal.padding(9)) \(g.state.rawValue.padding(11)) \(String(g.workTaskCount).padding(6)) \(g.name ?? "")")
        }
    } catch {
        fail(ErrorSentence.of(error, urls: cli.urls), code: 1)
    }
}

func goalCommand(_ p: ParsedArguments, subject: String, verb: String) async {
    let cli = ControlCLI(p)
    guard let goal = cli.rest.first else { fail("\(verb) needs a GOAL id (see hive goals)") }
    let nc = await cli.connect()
    defer { nc.close() }
    do {
        switch verb {
        case "tasks":
            let tasks = try await cli.collect(nc, subject, as: TaskView.self) { GoalRef(goal: goal, cursor: $0) }
            if cli.json { return cli.printJSON(tasks) }
            print("TASK        STATE      ATTEMPTS  DRONE                 KIND")
            for t in tasks {
                let indent = String(repeating: "  ", count: max(0, t.depth - 1))
                print("\((indent + t.task).padding(11)) \(t.state.rawValue.padding(10)) \(String(t.attempts).padding(9)) \((t.drone ?? "-").padding(21)) \(t.kind)")
                if t.state == .awaitingApproval, let a = t.approval { print("\(indent)  \(approvalLine(a))") }
                for n in t.failedAttempts ?? [] { print("\(indent)  \(n)") }
            }
        case "result":
            let r = try await cli.result(nc, goal)
            report(r, cli: cli)
            if let dir = p.string("--output-dir") {
                let max = p.int("--max-blob-bytes", in: 1...Int(Int32.max)) ?? ResultCommand.defaultMaxBlobBytes
                await writeOutputBlobs(r, to: dir, maxBytes: max, nc: nc)
            }
        case "trace":
            let trace = try await cli.call(nc, subject, GoalRef(goal: goal), as: TraceView.self)
            if cli.json { return cli.printJSON(trace) }
            printTrace(trace)
        default:
            let g = try await cli.call(nc, subject, GoalRef(goal: goal), as: GoalSummary.self)
            if cli.json { return cli.printJSON(g) }
            print(goalLine(g))
            if let answer = g.answer { print("  answer: \(answer)") }
            for v in g.votes ?? [] { print("  \(v)") }
            if let reason = g.reason { print("  reason: \(reason)") }
            for w in g.waiting ?? [] { print("  waiting: \(w)") }
        }
    } catch {
        fail(ErrorSentence.of(error, urls: cli.urls), code: 1)
    }
}

/// `hive trace GOAL`: the span tree, each span's start (from the goal's) and duration, with a bar on one
/// timeline so parallel work shows side by side.
func printTrace(_ t: TraceView) {
    guard let root = t.spans.first(where: { $0.kind == .goal }) else { return print("no spans") }
    // Span times come from drones too: every difference saturates and every bar is clamped, whatever they say.
    func minus(_ a: Int64, _ b: Int64) -> Int64 {
        let (d, overflow) = a.subtractingReportingOverflow(b)
        return overflow ? (a < b ? .min : .max) : d
    }
    func cells(_ x: Double) -> Int { x.isFinite ? Int(min(32, max(0, x))) : 0 }
    let origin = root.startUnixNano
    let end = t.spans.compactMap(\.endUnixNano).max() ?? origin
    let total = max(1, minus(end, origin))
    func ms(_ ns: Int64) -> String { String(format: "%.1f", Double(ns) / 1e6) }
    print("trace \(t.traceID) · goal \(t.goal) · \(ms(total)) ms")
    print("   START ms      DUR ms  " + "TIMELINE".padding(32) + "  SPAN")
    var children: [String: [SpanView]] = [:]
    for s in t.spans where s.spanID != root.spanID { children[s.parentSpanID ?? "", default: []].append(s) }
    func show(_ s: SpanView, depth: Int) {
        let start = minus(s.startUnixNano, origin)
        let duration = minus(s.endUnixNano ?? end, s.startUnixNano)
        let from = cells(Double(max(0, start)) / Double(total) * 32), width = max(1, cells(Double(duration) / Double(total) * 32))
        let bar = String(repeating: " ", count: min(31, from)) + String(repeating: s.error ? "x" : "=", count: min(32 - min(31, from), width))
        var label = s.name
        if s.kind == .attempt, let o = s.attributes["hive.outcome"] { label += " \(o)" }
        if s.endUnixNano == nil { label += " (open)" }
        print("\(ms(start).leftPadded(9)) \(ms(duration).leftPadded(11))  \(bar.padding(32))  \(String(repeating: "  ", count: depth))\(label)")
        for c in (children[s.spanID] ?? []).sorted(by: { ($0.startUnixNano, $0.name) < ($1.startUnixNano, $1.name) }) { show(c, depth: depth + 1) }
    }
    show(root, depth: 0)
}

func dronesCommand(_ p: ParsedArguments) async {
    let cli = ControlCLI(p)
    let nc = await cli.connect()
    defer { nc.close() }
    do {
        let drones = try await cli.collect(nc, APISubject.drones, as: DroneView.self) { PageRequest(cursor: $0) }
        if cli.json { return cli.printJSON(drones) }
        for tier in Tier.allCases.reversed() {
            let these = drones.filter { $0.tier == tier }
            guard !these.isEmpty else { continue }
            print("\(tier.rawValue) (\(these.count))")
            for d in these {
                print("  \(d.name.padding(16)) \(d.state.rawValue.padding(9)) slots \(d.running)/\(d.slots)  done \(d.completed)  failed \(d.failed)  seen \(d.lastSeenMillisAgo) ms ago  \(d.drone)")
            }
        }
        if drones.isEmpty { print("no drones have joined") }
    } catch {
        fail(ErrorSentence.of(error, urls: cli.urls), code: 1)
    }
}

/// `hive watch GOAL`: the task tree, redrawn in place on a terminal, one line per change when piped, one JSON
/// object per change (a `TaskView`) with `--json`.
func watchCommand(_ p: ParsedArguments) async {
    let cli = ControlCLI(p)
    guard let goal = cli.rest.first else { fail("watch needs a GOAL id") }
    let nc = await cli.connect(reconnect: true)
    defer { nc.close() }
    let tty = isatty(1) != 0 && !cli.json
    var last: [TaskID: TaskState] = [:]
    var lastWaiting: [TaskID: String] = [:]
    var lastFrame: [String] = []
    let lineEncoder = JSONEncoder()
    lineEncoder.outputFormatting = .sortedKeys
    let start = ContinuousClock.now
    var lastAnswer = ContinuousClock.now
    while true {
        let g: GoalSummary, tasks: [TaskView]
        do {
            g = try await cli.call(nc, APISubject.goal, GoalRef(goal: goal), as: GoalSummary.self, timeout: 5)
            tasks = try await cli.collect(nc, APISubject.tasks, as: TaskView.self, timeout: 5) { GoalRef(goal: goal, cursor: $0) }
            lastAnswer = .now
        } catch let e as APIError {
            fail(e.error, code: 1)
        } catch {
            // honeycombd restarting or slow: retry, within the deadlines.
            if ContinuousClock.now - lastAnswer > .seconds(cli.patience) {
                fail("\(RequestError.silent(seconds: cli.patience, urls: cli.urls)) (last: \(ErrorSentence.of(error, urls: cli.urls)))", code: 69)
            }
            if let limit = cli.waitTimeout, ContinuousClock.now - start > .seconds(limit) {
                fail("\(RequestError.waitTimedOut(goal: goal, seconds: limit))", code: 75)
            }
            try? await Task.sleep(for: .milliseconds(500))
            continue
        }
        if tty {
            // The frame is drawn only when it differs from the one on screen (no redraws of nothing).
            var frame = ["goal \(g.goal) \(g.state.rawValue)  \(g.counts.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: "  "))"]
            for t in tasks.prefix(60) {
                frame.append("\(String(repeating: "  ", count: t.depth - 1))\(t.task) \(t.state.rawValue) \(t.drone ?? "")")
                if t.state == .awaitingApproval, let a = t.approval { frame.append("\(String(repeating: "  ", count: t.depth))\(approvalLine(a))") }
                // Under the task when it cannot run as things stand (a wait for a free slot is the hive working).
                if let why = t.waiting, why != TaskBlocker.busy.description { frame.append("\(String(repeating: "  ", count: t.depth))waiting: \(why)") }
                if t.state == .pending, let n = t.failedAttempts?.last { frame.append("\(String(repeating: "  ", count: t.depth))retried after \(n)") }
            }
            if tasks.count > 60 { frame.append("… \(tasks.count - 60) more") }
            if frame != lastFrame {
                print("\u{1B}[H\u{1B}[2J" + frame.joined(separator: "\n"))
                lastFrame = frame
            }
        } else {
            for t in tasks where last[t.task] != t.state || lastWaiting[t.task] != t.waiting {
                if cli.json {
                    print(String(decoding: (try? lineEncoder.encode(t)) ?? Data(), as: UTF8.self))
                } else {
                    let waits = t.state == .awaitingApproval ? t.approval.map { "  " + approvalLine($0) } ?? ""
                        : t.waiting.map { "  waiting: \($0)" } ?? ""
                    // Back to pending after an attempt failed: why.
                    let retried = t.state == .pending ? t.failedAttempts?.last.map { "  retried after \($0)" } ?? "" : ""
                    print("\(t.task) \(t.state.rawValue)\(t.drone.map { " on \($0)" } ?? "")\(waits)\(retried)")
                }
            }
        }
        // Each change when it happens, into a pipe too (stdout is block-buffered there).
        fflush(nil)
        last = Dictionary(uniqueKeysWithValues: tasks.map { ($0.task, $0.state) })
        lastWaiting = Dictionary(uniqueKeysWithValues: tasks.compactMap { t in t.waiting.map { (t.task, $0) } })
        if g.state.isFinal {
            if cli.json {
                print(String(decoding: (try? lineEncoder.encode(g)) ?? Data(), as: UTF8.self))
            } else {
                print("goal \(g.goal) \(g.state.rawValue)\(g.reason.map { ": \($0)" } ?? "")")
            }
            exit(g.state == .succeeded ? 0 : 1)
        }
        if let limit = cli.waitTimeout, ContinuousClock.now - start > .seconds(limit) {
            fail("\(RequestError.waitTimedOut(goal: goal, seconds: limit))", code: 75)
        }
        try? await Task.sleep(for: .milliseconds(tty ? 500 : 250))
    }
}

/// `hive status`: honeycombd's status over the bus.
func statusCommand(_ p: ParsedArguments) async {
    let cli = ControlCLI(p)
    let nc = await cli.connect()
    defer { nc.close() }
    do {
        let s = try await cli.call(nc, APISubject.status, Empty(), as: StatusReply.self, timeout: 3)
        if cli.json { return cli.printJSON(s) }
        print("honeycombd \(s.version)")
        print("  broker:      \(s.broker)")
        print("  bus server:  \(s.busServer)")
        print("  started at:  \(s.startedAt)")
        print("  uptime:      \(Int(s.uptimeSeconds)) s")
    } catch let e as RequestError {
        fail("\(e)", code: 69)
    } catch {
        fail(ErrorSentence.of(error, reading: "honeycombd's reply to status", urls: cli.urls), code: 1)
    }
}


/// `hive module add FILE.wasm`: validates and stores a WebAssembly module in honeycombd; prints its SHA-256, the
/// name tasks use for it (`hive submit --wasm HASH`).
/// `hive module add FILE.wasm | ls | rm HASH`: the WebAssembly modules honeycombd stores.
func moduleCommand(_ p: ParsedArguments) async {
    let cli = ControlCLI(p)
    switch p.path.last {
    case "add": await moduleAdd(cli, path: cli.rest[0])
    case "rm": await moduleRemove(cli, hash: cli.rest[0].lowercased())
    default: await moduleList(cli)
    }
}

func moduleList(_ cli: ControlCLI) async {
    let nc = await cli.connect()
    defer { nc.close() }
    do {
        let list = try await cli.call(nc, APISubject.modules, Empty(), as: ModuleList.self)
        if cli.json { return cli.printJSON(list) }
        for m in list.modules { print("\(m.module)  \(m.size) bytes") }
        print("\(list.modules.count) of \(list.maxCount) modules, \(list.totalBytes) of \(list.maxBytes) bytes")
    } catch {
        fail(ErrorSentence.of(error, urls: cli.urls), code: 1)
    }
}

func moduleRemove(_ cli: ControlCLI, hash: String) async {
    let nc = await cli.connect()
    defer { nc.close() }
    do {
        let ref = try await cli.call(nc, APISubject.moduleRemove, ModuleRef(module: hash), as: ModuleRef.self)
        if cli.json { cli.printJSON(ref) } else { print("removed \(ref.module) (\(ref.size ?? 0) bytes)") }
    } catch {
        fail(ErrorSentence.of(error, urls: cli.urls), code: 1)
    }
}

func moduleAdd(_ cli: ControlCLI, path: String) async {
    let data = readFileOrExit(path, what: "module")
    let nc = await cli.connect()
    defer { nc.close() }
    do {
        let bytes = Array(data)
        let part = ModuleTransfer.partSize(maxPayload: nc.maxPayload)
        var offset = 0
        var ref: ModuleRef
        repeat {
            // One message when it fits; otherwise parts in order, each answered with the progress.
            let whole = offset == 0 && bytes.count <= part
            let end = Swift.min(bytes.count, offset + part)
            let headers: NATSHeaders? = whole ? nil : [ModuleTransfer.hashHeader: SHA256.hex(bytes),
                                                        ModuleTransfer.offsetHeader: String(offset),
                                                        ModuleTransfer.sizeHeader: String(bytes.count)]
            let reply = try await nc.request(APISubject.moduleAdd, Array(bytes[offset..<end]), headers: headers, timeout: 30)
            if let e = try? JSONDecoder().decode(APIError.self, from: Data(reply.payload)) { fail("\(path): \(e.error)", code: 65) }
            do { ref = try JSONDecoder().decode(ModuleRef.self, from: Data(reply.payload)) } catch {
                fail(ErrorSentence.of(error, reading: "honeycombd's reply to module_add"), code: 1)
            }
            offset = end
        } while ref.received != nil
        if cli.json { cli.printJSON(ref) } else { print(ref.module) }
    } catch {
        fail("cannot add \(path): \(ErrorSentence.of(error, urls: cli.urls))", code: 69)
    }
}

/// One line on stderr (`hive: …`), for what a user should see while stdout stays the command's output.
func printError(_ message: String) {
    var text = "hive: \(message)\n"
    text.withUTF8 { _ = write(2, $0.baseAddress, $0.count) }
}

/// An environment variable's value; empty counts as unset.
func environment(_ name: String) -> String? { ProcessInfo.processInfo.environment[name].flatMap { $0.isEmpty ? nil : $0 } }

/// A file's bytes, or the process ends with a sentence saying why it could not be read (exit 66, EX_NOINPUT).
func readFileOrExit(_ path: String, what: String) -> Data {
    do { return try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
        fail(ErrorSentence.of(error, reading: "\(what) \(path)"), code: 66)
    }
}
