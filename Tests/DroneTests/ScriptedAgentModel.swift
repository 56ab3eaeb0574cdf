import Drone
import Foundation
import HiveCore

/// A test double for a model (named as such): no real model decides deterministically which tool to call, so
/// the loop's tests script each turn's decision, as a function of what the model is shown. It records every
/// conversation it saw, and may take `delayMillis` per turn (honouring cancellation, as a real engine does).
final class ScriptedAgentModel: AgentModel, @unchecked Sendable {
    typealias Step = @Sendable (AgentConversation) -> AgentDecision
    private let lock = NSLock()
    private var script: [Step]
    private var seenConversations: [AgentConversation] = []
    let delayMillis: Int
    let tokensPerTurn: (prompt: Int, generated: Int)
    /// Charge what a real model could at most: a token per byte read (plus the template's 64) and `max_tokens`.
    let chargesWorstCase: Bool

    init(_ script: [Step], delayMillis: Int = 0, tokensPerTurn: (Int, Int) = (10, 5), chargesWorstCase: Bool = false) {
        self.chargesWorstCase = chargesWorstCase
        self.script = script
        self.delayMillis = delayMillis
        self.tokensPerTurn = tokensPerTurn
    }

    var name: String { "scripted" }

    var seen: [AgentConversation] { lock.withLock { seenConversations } }

    func turn(_ c: AgentConversation) async throws -> AgentTurn {
        let next: Step = lock.withLock {
            seenConversations.append(c)
            return script.count > 1 ? script.removeFirst() : script[0]
        }
        if delayMillis > 0 { try await Task.sleep(for: .milliseconds(delayMillis)) }
        let tokens = chargesWorstCase ? (c.bytes + 64, c.maxTokens) : tokensPerTurn
        return AgentTurn(decision: next(c), usage: Usage(model: "scripted", promptTokens: tokens.0,
                                                         generatedTokens: tokens.1, promptMillis: 1, generationMillis: 1))
    }

    /// A call of `tool` with `args`.
    static func call(_ tool: String, _ args: [String]) -> Step {
        { _ in .call(tool: tool, arguments: .object(["args": .array(args.map { .string($0) })])) }
    }
}
