import Drone
import Foundation
import HiveCore
import Testing

/// Arguments the goal binds (`agent.bind`) on a drone, over real exec tools (`/bin/echo`) with a scripted model
/// double: the model is shown only what is left, and whatever it passes comes after the bound arguments.
@Suite struct AgentBindTests {
    static let commands = ["/bin/echo"]

    func backend(_ model: ScriptedAgentModel) async throws -> AgentBackend {
        let exec = ExecBackend(allowed: Self.commands)
        return try await AgentBackend.start(model: model, sources: [ExecToolSource(backend: exec, allowed: Self.commands, sideEffects: [])])
    }

    func task(bind: [String: JSONValue], pins: [String: String]? = nil) -> Assignment {
        Assignment(task: "g1.0", goal: "g1", attempt: 1, token: "t", kind: "agent",
                   input: TaskInput(prompt: "Try your patch.", maxTokens: 32,
                                    agent: AgentSpec(tools: ["exec.echo"], pins: pins, bind: bind)),
                   index: 0, timeoutMillis: 20_000)
    }

    static let bound: [String: JSONValue] = ["exec.echo": .array([.string("/srv/bound-repo"), .string("bound test")])]

    @Test func aModelPassingAnotherRepositoryGetsItsArgumentsAfterTheBoundOnes() async throws {
        let model = ScriptedAgentModel([ScriptedAgentModel.call("exec.echo", ["/etc", "rm -rf /", "PATCH"]), { c in .answer(c.steps[0].result) }])
        let o = try await backend(model).run(task(bind: Self.bound))
        #expect(o.succeeded, "\(o.error ?? "")")
        let t = try #require(AgentTranscript.parse(o.output))
        #expect(!t.steps[0].isError)
        #expect(t.steps[0].result == "/srv/bound-repo bound test /etc rm -rf / PATCH\n", "the bound arguments come first, whatever the model says")
        // The transcript keeps what the model chose; the bound part is the goal's (in its spec).
        #expect(t.steps[0].arguments == .object(["args": .array(["/etc", "rm -rf /", "PATCH"].map(JSONValue.string))]))
    }

    @Test func theModelIsShownOnlyTheArgumentsLeft() async throws {
        let model = ScriptedAgentModel([{ _ in .answer("") }])
        _ = try await backend(model).run(task(bind: Self.bound))
        let shown = try #require(model.seen.first?.tools.first)
        guard case .object(let schema) = shown.inputSchema, case .object(let props) = schema["properties"] ?? .null,
              case .object(let args) = props["args"] ?? .null else { Issue.record("no args in \(shown.inputSchema)"); return }
        #expect(args["maxItems"] == .number(14), "16 arguments at most, 2 bound")
        #expect(shown.description.contains("fixes its first 2 arguments"))
    }

    @Test func moreArgumentsThanAreLeftAreFedBackNotRun() async throws {
        let fourteen = (1...15).map { "a\($0)" }
        let model = ScriptedAgentModel([ScriptedAgentModel.call("exec.echo", fourteen), { _ in .answer("fewer") }])
        let o = try await backend(model).run(task(bind: Self.bound))
        let t = try #require(AgentTranscript.parse(o.output))
        #expect(t.steps[0].isError && t.steps[0].result.contains("do not match exec.echo's schema"), "\(t.steps[0].result)")
    }

    @Test func thePinCoversTheBinding() async throws {
        let model = ScriptedAgentModel([ScriptedAgentModel.call("exec.echo", ["x"]), { _ in .answer("") }])
        let b = try await backend(model)
        let definition = try #require(b.tools.first { $0.name == "exec.echo" }?.pin)
        let spec = AgentSpec(tools: ["exec.echo"], bind: Self.bound)
        // A pin taken with the definition alone (or another binding) is not this goal's tool: refused.
        let stale = await b.run(task(bind: Self.bound, pins: ["exec.echo": definition]))
        let refused = try #require(AgentTranscript.parse(stale.output))
        #expect(refused.steps[0].isError && refused.steps[0].result.contains("changed since the goal was submitted"))
        let model2 = ScriptedAgentModel([ScriptedAgentModel.call("exec.echo", ["x"]), { _ in .answer("") }])
        let ok = try await backend(model2).run(task(bind: Self.bound, pins: ["exec.echo": spec.boundPin("exec.echo", definitionPin: definition)]))
        #expect(try #require(AgentTranscript.parse(ok.output)).steps[0].result == "/srv/bound-repo bound test x\n")
    }

    @Test func aDroneRefusesABindingPastItsLimits() async throws {
        let model = ScriptedAgentModel([{ _ in .answer("") }])
        let o = try await backend(model).run(task(bind: ["exec.echo": .array((0...16).map { .string("\($0)") })]))
        #expect(!o.succeeded && (o.error ?? "").contains("at most 16"), "\(o.error ?? "")")
        #expect(model.seen.isEmpty, "no turn ran")
    }
}
