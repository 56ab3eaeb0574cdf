/// How a model wants to be prompted: `chat` models (instruct-tuned, with a chat template in their GGUF, or an
/// API) follow instructions in a user message; `completion` models (base models) continue text, so they are
/// given a few-shot pattern that ends where the answer starts, and stop strings that end the answer.
///
/// A drone reports its model's format in its hello (`ModelDescriptor.promptFormat`); honeycombd keeps it in the
/// registry and picks a call's rendering when it leases the call to a drone (`TaskInput.choosing`).
public enum PromptFormat: String, Codable, Sendable, CaseIterable {
    case chat, completion
}

/// A model call's completion-style rendering, carried beside its chat prompt until a drone is picked: plans
/// render their prompts when a step starts, before placement, so both go with the call and the lease chooses.
public struct CompletionPrompt: Codable, Sendable, Equatable {
    /// The whole text the model continues (no chat template is ever applied to it).
    public var prompt: String
    /// Where the answer ends (e.g. a blank line, or the next example's marker); replaces the call's own `stop`.
    public var stop: [String]?

    public init(prompt: String, stop: [String]? = nil) {
        self.prompt = prompt
        self.stop = stop
    }
}

extension TaskInput {
    /// The input as sent to a drone whose model has `format`: on a completion model the completion rendering
    /// (when the call has one) replaces the prompt and stop strings, with no chat template and no system message;
    /// on a chat model the alternative is dropped. A call without an alternative (a task's own `--prompt`) is
    /// sent as given: the drone applies the chat template only on chat models.
    public func choosing(_ format: PromptFormat) -> TaskInput {
        guard let completion else { return self }
        var out = self
        out.completion = nil
        if format == .completion {
            out.prompt = completion.prompt
            out.stop = completion.stop
            out.system = nil
            out.chat = false
        }
        return out
    }
}
