import HiveJSON

extension JournalEvent {
    /// The event's JSON, written by hand for the hot cases; nil for the rest (use `JSONEncoder`).
    public var fastJSON: [UInt8]? {
        var w = JSONWriter()
        switch self {
        case .taskLeased(let task, let attempt, let drone, let token, let deadline, let at, let tier, let cost):
            w.beginObject(); w.key("taskLeased"); w.beginObject()
            w.field("task", task); w.field("attempt", attempt); w.field("drone", drone); w.field("token", token)
            w.field("deadline", deadline); w.field("at", at); w.optional("tier", tier?.rawValue)
            if let cost { w.key("cost"); w.number(cost) }
            w.endObject(); w.endObject()
        case .taskFinished(let task, let attempt, let succeeded, let output, let at):
            if output.usage != nil || output.permanent != nil || output.cost != nil || output.fuel != nil { return nil }  // not the hot path
            w.beginObject(); w.key("taskFinished"); w.beginObject()
            w.field("task", task); w.field("attempt", attempt); w.field("succeeded", succeeded)
            w.key("output"); w.beginObject()
            w.field("drone", output.drone); w.optional("exit_code", output.exitCode); w.optional("output", output.output)
            w.optional("error", output.error); w.optional("wall_ms", output.wallMillis)
            if let tier = output.tier { w.field("tier", tier.rawValue) }
            w.endObject()
            w.field("at", at)
            w.endObject(); w.endObject()
        case .taskExpired(let task, let attempt, let reason, let counts, let at):
            w.beginObject(); w.key("taskExpired"); w.beginObject()
            w.field("task", task); w.field("attempt", attempt); w.field("reason", reason); w.field("countsAttempt", counts)
            w.field("at", at)
            w.endObject(); w.endObject()
        default:
            return nil
        }
        return w.bytes
    }
}

extension TaskInput {
    func write(_ w: inout JSONWriter) {
        w.beginObject()
        w.optional("command", command)
        if let args { w.field("args", args) }
        w.optional("stdin", stdin)
        if let env { w.field("env", env) }
        w.optional("sleep_ms", sleepMillis)
        w.optional("text", text)
        w.optional("prompt", prompt)
        w.optional("system", system)
        if let chat { w.field("chat", chat) }
        w.optional("max_tokens", maxTokens)
        if let temperature { w.key("temperature"); w.number(temperature) }
        w.optional("top_k", topK)
        if let topP { w.key("top_p"); w.number(topP) }
        w.optional("seed", seed)
        if let stop { w.field("stop", stop) }
        if let json { w.field("json", json) }
        w.optional("json_schema", jsonSchema)
        w.optional("module", module)
        w.optional("fuel", fuel)
        w.optional("memory_mb", memoryMiB)
        if let scratch { w.field("scratch", scratch) }
        if let completion {
            w.key("completion"); w.beginObject()
            w.field("prompt", completion.prompt)
            if let stop = completion.stop { w.field("stop", stop) }
            w.endObject()
        }
        w.endObject()
    }
}

extension Assignment {
    /// Hand-written JSON (one per dispatched task): decodes with `JSONDecoder` like the `Codable` form.
    public var fastJSON: [UInt8] {
        var w = JSONWriter()
        w.beginObject()
        w.field("task", task); w.field("goal", goal); w.field("attempt", attempt); w.field("token", token)
        w.field("kind", kind)
        if let input {
            w.key("input")
            input.write(&w)
        }
        w.field("index", index); w.field("timeout_ms", timeoutMillis)
        w.endObject()
        return w.bytes
    }
}

extension TaskResult {
    /// Hand-written JSON (one per finished task); nil for a forking result (use `JSONEncoder`).
    public var fastJSON: [UInt8]? {
        guard fork == nil, join == nil, usage == nil, permanent == nil, fuel == nil else { return nil }
        var w = JSONWriter()
        w.beginObject()
        w.field("task", task); w.field("attempt", attempt); w.field("token", token); w.field("drone", drone)
        w.field("outcome", outcome.rawValue)
        w.optional("exit_code", exitCode); w.optional("output", output); w.optional("error", error)
        w.optional("wall_ms", wallMillis)
        w.endObject()
        return w.bytes
    }
}
