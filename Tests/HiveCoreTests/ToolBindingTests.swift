import FoundationEssentials
import HiveCore
import Testing

/// `agent.bind`, arguments the goal fixes: validation at submission naming the field and the limit, what the
/// model is shown, the arguments a call gets, the pin covering the binding, the approval's text, and the journal
/// (a new optional field: old records decode, new ones round-trip through the hand-written JSON).
@Suite struct ToolBindingTests {
    static let pin = "sha256:" + String(repeating: "a", count: 64)
    static let tryPatch: JSONValue = .array([.string("/srv/repo"), .string("python3 -m unittest -q")])
    static let execSchema: JSONValue = .object([
        "type": .string("object"),
        "properties": .object(["args": .object(["type": .string("array"), "items": .object(["type": .string("string")]),
                                                "maxItems": .number(16)])]),
        "required": .array([.string("args")]), "additionalProperties": .bool(false),
    ])
    static let gitSchema: JSONValue = .object([
        "type": .string("object"),
        "properties": .object(["repo_path": .object(["type": .string("string")]), "revision": .object(["type": .string("string")])]),
        "required": .array([.string("repo_path"), .string("revision")]),
    ])

    func agentTask(_ tools: [String], bind: [String: JSONValue]) -> TaskSpec {
        TaskSpec(kind: "agent", input: TaskInput(prompt: "Fix it.", maxTokens: 64, agent: AgentSpec(tools: tools, bind: bind)))
    }

    func refusal(_ t: TaskSpec) -> String? {
        do {
            _ = try ControlState().submit(GoalSpec(root: t), now: 0)
            return nil
        } catch {
            return error.description
        }
    }

    @Test func bindingsAreValidatedAtSubmissionNamingTheFieldAndLimit() {
        let tools = ["git.git_show", "exec.try-patch"]
        #expect(refusal(agentTask(tools, bind: ["exec.try-patch": Self.tryPatch, "git.git_show": .object(["repo_path": .string("/srv/repo")])])) == nil)
        #expect(refusal(agentTask(tools, bind: ["exec.rm": .array([.string("-rf")])]))?
            .contains("root.input.agent.bind.exec.rm: exec.rm is not in agent.tools") == true)
        #expect(refusal(agentTask(tools, bind: ["exec.try-patch": .object(["args": .array([])])]))?
            .contains("agent.bind.exec.try-patch must be an array of strings") == true)
        #expect(refusal(agentTask(tools, bind: ["exec.try-patch": .array([.number(1)])]))?
            .contains("agent.bind.exec.try-patch must be an array of strings") == true)
        #expect(refusal(agentTask(tools, bind: ["exec.try-patch": .array((0...16).map { .string("\($0)") })]))?
            .contains("has 17 arguments; an exec tool call takes at most 16") == true)
        #expect(refusal(agentTask(tools, bind: ["git.git_show": .array([.string("/srv/repo")])]))?
            .contains("agent.bind.git.git_show must be an object") == true)
        let fields = Dictionary(uniqueKeysWithValues: (0...32).map { ("k\($0)", JSONValue.bool(true)) })
        #expect(refusal(agentTask(tools, bind: ["git.git_show": .object(fields)]))?.contains("has 33 named arguments; the limit is 32") == true)
        let big = String(repeating: "x", count: AgentSpec.bindBytesLimit)
        #expect(refusal(agentTask(tools, bind: ["exec.try-patch": .array([.string(big)])]))?
            .contains("agent.bind is \(big.utf8.count + 23) bytes of JSON; the limit is 16384") == true)
    }

    @Test func aPlanStepsBindingIsValidatedToo() {
        var step = StepSpec(id: "s", prompt: "p")
        step.agent = AgentSpec(tools: ["exec.try-patch"], bind: ["exec.cat": .array([])])
        let why = PlanValidator.problem(in: PlanSpec(goal: "g", steps: [step]))
        #expect(why?.contains("exec.cat is not in agent.tools") == true, "\(why ?? "nil")")
    }

    @Test func theModelIsShownWhatIsLeft() {
        let spec = AgentSpec(tools: ["exec.try-patch", "git.git_show", "exec.date"],
                             bind: ["exec.try-patch": Self.tryPatch, "git.git_show": .object(["repo_path": .string("/srv/repo")])])
        let exec = spec.showing(ToolDefinition(name: "exec.try-patch", description: "Runs it.", inputSchema: Self.execSchema, sideEffecting: true))
        guard case .object(let s) = exec.inputSchema, case .object(let p) = s["properties"] ?? .null, case .object(let args) = p["args"] ?? .null else {
            Issue.record("schema \(exec.inputSchema)"); return
        }
        #expect(args["maxItems"] == .number(14))
        #expect(exec.description.contains(#"fixes its first 2 arguments (["/srv/repo","python3 -m unittest -q"])"#))
        let git = spec.showing(ToolDefinition(name: "git.git_show", description: "Shows.", inputSchema: Self.gitSchema, sideEffecting: false))
        #expect(git.inputSchema == .object(["type": .string("object"), "properties": .object(["revision": .object(["type": .string("string")])]),
                                            "required": .array([.string("revision")])]))
        let date = ToolDefinition(name: "exec.date", description: "d", inputSchema: Self.execSchema, sideEffecting: false)
        #expect(spec.showing(date) == date, "an unbound tool is shown as it is")
    }

    @Test func boundArgumentsComeFirstOrWin() {
        let spec = AgentSpec(tools: ["exec.try-patch", "git.git_show"],
                             bind: ["exec.try-patch": Self.tryPatch, "git.git_show": .object(["repo_path": .string("/srv/repo")])])
        let model: JSONValue = .object(["args": .array([.string("/etc"), .string("sh -c evil")])])
        #expect(spec.boundArguments("exec.try-patch", model)
                == .object(["args": .array(["/srv/repo", "python3 -m unittest -q", "/etc", "sh -c evil"].map(JSONValue.string))]))
        #expect(spec.boundArguments("exec.try-patch", .object([:])) == .object(["args": Self.tryPatch]), "no args: the bound ones")
        let many: JSONValue = .object(["args": .array((0..<20).map { .string("\($0)") })])
        guard case .object(let clamped) = spec.boundArguments("exec.try-patch", many), case .array(let all) = clamped["args"] ?? .null else {
            Issue.record("no args"); return
        }
        #expect(all.count == AgentSpec.execArgsLimit && all.first == .string("/srv/repo"), "clamped, bound ones kept")
        #expect(spec.boundArguments("git.git_show", .object(["repo_path": .string("/"), "revision": .string("HEAD")]))
                == .object(["repo_path": .string("/srv/repo"), "revision": .string("HEAD")]))
        #expect(spec.boundArguments("exec.date", model) == model)
    }

    @Test func thePinCoversTheBinding() {
        let bound = AgentSpec(tools: ["exec.try-patch"], bind: ["exec.try-patch": Self.tryPatch])
        let other = AgentSpec(tools: ["exec.try-patch"], bind: ["exec.try-patch": .array([.string("/srv/repo"), .string("sh")])])
        #expect(AgentSpec(tools: ["exec.try-patch"]).boundPin("exec.try-patch", definitionPin: Self.pin) == Self.pin)
        let p = bound.boundPin("exec.try-patch", definitionPin: Self.pin)
        #expect(p != Self.pin && p.hasPrefix("sha256:") && p.utf8.count <= SpecLimits.pinBytes)
        #expect(other.boundPin("exec.try-patch", definitionPin: Self.pin) != p)
    }

    @Test func submissionPinsBoundToolsWithTheirBindingAndTheApprovalShowsIt() throws {
        let h = Harness()
        let hello = DroneHello(drone: "d1", name: "worker", tier: .worker, slots: 2,
                               capabilities: ["backend:agent", "tool:exec.try-patch", "effect:tool:exec.try-patch", "tool:git.git_show"],
                               host: nil, version: "t",
                               tools: [ToolAdvert(name: "exec.try-patch", pin: Self.pin, sideEffecting: true),
                                       ToolAdvert(name: "git.git_show", pin: Self.pin, sideEffecting: false)])
        let (reply, fx) = h.state.hello(hello, now: h.now)
        h.effects.append(fx)
        #expect(reply.accepted)
        let task = agentTask(["git.git_show", "exec.try-patch"],
                             bind: ["exec.try-patch": Self.tryPatch, "git.git_show": .object(["repo_path": .string("/srv/repo")])])
        let g = try h.submit(task)
        #expect(h.schedule().isEmpty, "it waits for approval")
        let t = try #require(h.state.tasks["\(g).0"])
        #expect(t.input?.agent?.pins?["exec.try-patch"] == task.input?.agent?.boundPin("exec.try-patch", definitionPin: Self.pin))
        #expect(t.input?.agent?.pins?["exec.try-patch"] != Self.pin)
        #expect(t.state == .awaitingApproval)
        #expect(t.approvalRequest?.runs == #"agent [git.git_show {"repo_path":"/srv/repo",…}, exec.try-patch ["/srv/repo","python3 -m unittest -q",…]]: Fix it."#)
        #expect(try h.replayMatches())
    }

    @Test func theJournalKeepsTheBindingAndOldRecordsDecode() throws {
        let old = #"{"tools":["exec.date"],"max_steps":3,"pins":{"exec.date":"sha256:aa"}}"#
        let decoded = try JSONDecoder().decode(AgentSpec.self, from: Data(old.utf8))
        #expect(decoded.bind == nil && decoded.tools == ["exec.date"] && decoded.maxSteps == 3)
        let agent = AgentSpec(tools: ["exec.try-patch", "git.git_show"],
                              bind: ["exec.try-patch": Self.tryPatch, "git.git_show": .object(["repo_path": .string("/srv/\"q\"")])])
        let a = Assignment(task: "g1.0", goal: "g1", attempt: 1, token: "t", kind: "agent",
                           input: TaskInput(prompt: "Fix it.", agent: agent), index: 0, timeoutMillis: 1000)
        let fast = try JSONDecoder().decode(Assignment.self, from: Data(a.fastJSON))
        #expect(fast == a, "the hand-written JSON carries the binding")
        let coded = try JSONDecoder().decode(Assignment.self, from: JSONEncoder().encode(a))
        #expect(coded == a)
    }
}
