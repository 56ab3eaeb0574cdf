/// A prompt of any size: a model or agent task names its prompt as a blob (`prompt_blob` + `size`) in place of
/// inline `prompt` text, so a prompt with documents is not bound by the bus's `max_payload` or the spec's
/// `SpecLimits.promptBytes`. honeycombd checks the reference at submission (the blob is held, at that size) and
/// budgets it by its size; the drone resolves it to the text before the task runs.
extension TaskInput {
    /// The prompt's bytes as budgets count them: the inline text's, or the prompt blob's `size`.
    public var promptBytes: Int {
        if let prompt { return prompt.utf8.count }
        return promptBlob == nil ? 0 : min(max(0, size ?? 0), SpecLimits.blobSize.upperBound)
    }

    /// Why a task's `prompt_blob` is wrong (the field below `input`), or nil.
    public static func promptBlobProblem(kind: String, input: TaskInput?) -> String? {
        guard let input, let name = input.promptBlob else { return nil }
        guard kind == "model" || kind == "agent" else { return "prompt_blob is for model and agent tasks (this one is '\(kind.prefix(64))')" }
        guard BlobRef.hash(of: name) != nil else { return "prompt_blob '\(name.prefix(80))' is not sha256: and 64 hex digits" }
        if input.prompt != nil { return "prompt_blob: a task has prompt or prompt_blob, not both" }
        if input.stdinBlob != nil { return "prompt_blob: a task names one blob (stdin_blob or prompt_blob): size is that blob's" }
        if input.size == nil { return "prompt_blob needs size, the blob's bytes (budgets count the prompt by it)" }
        return nil
    }
}
