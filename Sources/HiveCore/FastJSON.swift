import FoundationEssentials
import HiveJSON

extension JournalEvent {
    /// The event's JSON, written by hand for the hot cases; nil for the rest (use `JSONEncoder`).
    public var fastJSON: [UInt8]? {
        var w = JSONWriter()
        switch self {
        case .taskLeased(let l):
            if l.pins != nil { return nil }  // an agent's first lease: not the hot path
            w.beginObject(); w.key("taskLeased"); w.beginObject()
            w.field("task", l.task); w.field("attempt", l.attempt); w.field("drone", l.drone); w.field("token", l.token)
            w.field("deadline", l.deadline); w.field("at", l.at); w.optional("tier", l.tier?.rawValue)
            if let cost = l.cost { w.key("cost"); w.number(cost) }
            w.endObject(); w.endObject()
        case .taskFinished(let f):
            let (task, attempt, succeeded, output, at) = (f.task, f.attempt, f.succeeded, f.output, f.at)
            guard output.isPlain else { return nil }  // not the hot path
            w.beginObject(); w.key("taskFinished"); w.beginObject()
            w.field("task", task); w.field("attempt", attempt); w.field("succeeded", succeeded)
            w.key("output"); w.beginObject()
            w.field("drone", output.drone)
            output.product.writePlain(&w)
            if let tier = output.tier { w.field("tier", tier.rawValue) }
            w.endObject()
            w.field("at", at)
            w.endObject(); w.endObject()
        case .taskExpired(let x):
            w.beginObject(); w.key("taskExpired"); w.beginObject()
            w.field("task", x.task); w.field("attempt", x.attempt); w.field("reason", x.reason); w.field("countsAttempt", x.countsAttempt)
            w.field("at", x.at)
            w.endObject(); w.endObject()
        case .goalSubmitted(let goal, let spec, let at):
            // One per goal, but as big as its task tree: `JSONEncoder` on a 20,000-task fork was 7% of honeycombd's
            // CPU per task in the throughput bench. Plan goals (not the hot path) go through `JSONEncoder`.
            guard spec.plan == nil, let budget = encodedByFoundation(spec.budget) else { return nil }
            w.beginObject(); w.key("goalSubmitted"); w.beginObject()
            w.field("goal", goal)
            w.key("spec"); w.beginObject()
            w.optional("name", spec.name)
            w.field("priority", spec.priority)
            w.key("budget"); w.raw(budget)
            if let trace = spec.trace {
                guard let t = encodedByFoundation(trace) else { return nil }
                w.key("trace"); w.raw(t)
            }
            w.key("root")
            guard spec.root.write(&w) else { return nil }
            w.endObject()
            w.field("at", at)
            w.endObject(); w.endObject()
        default:
            return nil
        }
        return w.bytes
    }
}

/// A rare field's JSON by `JSONEncoder` (a goal's budget and trace, a task's tier, join or approval).
private func encodedByFoundation(_ value: some Encodable) -> [UInt8]? {
    (try? JSONEncoder().encode(value)).map { Array($0) }
}

extension TaskSpec {
    /// Writes the spec as its `Codable` form does (same keys, nils omitted); false when a rare field could not be
    /// encoded (the caller then uses `JSONEncoder` for the whole record). A fork's run of equal children is
    /// written once and repeated (the usual shape of a big fan-out). Recursion is bounded by the validated depth.
    func write(_ w: inout JSONWriter) -> Bool {
        w.beginObject()
        w.optional("name", name)
        w.field("kind", kind)
        if let tier {
            guard let t = encodedByFoundation(tier) else { return false }
            w.key("tier"); w.raw(t)
        }
        if let requires { w.field("requires", requires) }
        if let input { w.key("input"); input.write(&w) }
        w.optional("max_attempts", maxAttempts)
        w.optional("timeout_ms", timeoutMillis)
        if let children {
            w.key("children"); w.beginArray()
            var last: (spec: TaskSpec, bytes: [UInt8])?
            for c in children {
                if let l = last, l.spec == c {
                    w.raw(l.bytes)
                    continue
                }
                var sub = JSONWriter()
                guard c.write(&sub) else { return false }
                w.raw(sub.bytes)
                last = (c, sub.bytes)
            }
            w.endArray()
        }
        if let join {
            guard let j = encodedByFoundation(join) else { return false }
            w.key("join"); w.raw(j)
        }
        if let approval {
            guard let a = encodedByFoundation(approval) else { return false }
            w.key("approval"); w.raw(a)
        }
        w.endObject()
        return true
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
        w.optional("stdin_blob", stdinBlob)
        w.optional("size", size)
        w.optional("prompt_blob", promptBlob)
        if let completion {
            w.key("completion"); w.beginObject()
            w.field("prompt", completion.prompt)
            if let stop = completion.stop { w.field("stop", stop) }
            w.endObject()
        }
        if let agent {
            w.key("agent"); w.beginObject()
            w.field("tools", agent.tools)
            w.optional("max_steps", agent.maxSteps)
            w.optional("max_wall_ms", agent.maxWallMillis)
            w.optional("call_timeout_ms", agent.callTimeoutMillis)
            if let pins = agent.pins { w.field("pins", pins) }
            if let bind = agent.bind { w.key("bind"); w.raw(JSONValue.object(bind).compactJSON) }
            w.optional("tool_bytes", agent.toolBytes)
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
    /// Hand-written JSON (one per finished task); nil for a forking result or one with more than the plain fields
    /// (use `JSONEncoder`).
    public var fastJSON: [UInt8]? {
        guard fork == nil, join == nil, product.isPlain else { return nil }
        var w = JSONWriter()
        w.beginObject()
        w.field("task", task); w.field("attempt", attempt); w.field("token", token); w.field("drone", drone)
        w.field("outcome", outcome.rawValue)
        product.writePlain(&w)
        w.endObject()
        return w.bytes
    }
}

extension TaskProduct {
    /// Whether `writePlain` writes all of it: it holds nothing but exit status, output, error and wall time.
    /// Decided by what is left once those are cleared, so a field added later (or usage, permanence, fuel) sends
    /// the product through `JSONEncoder` rather than being dropped.
    var isPlain: Bool {
        var rest = self
        rest.exitCode = nil
        rest.output = nil
        rest.error = nil
        rest.wallMillis = nil
        return rest == TaskProduct()
    }

    /// The plain fields, into an open object (only when `isPlain`).
    func writePlain(_ w: inout JSONWriter) {
        w.optional("exit_code", exitCode); w.optional("output", output); w.optional("error", error)
        w.optional("wall_ms", wallMillis)
    }
}

extension TaskOutput {
    /// Whether the hand-written `taskFinished` line holds all of it (drone, tier and a plain product); the same
    /// rule as `TaskProduct.isPlain`, so a field added later goes through `JSONEncoder`.
    var isPlain: Bool {
        guard product.isPlain else { return false }
        return TaskOutput(drone: drone, product: product, tier: tier) == self
    }
}

extension Heartbeat {
    /// The heartbeat read by hand (one per drone a second: at 10,000 drones a `JSONDecoder` each was honeycombd's
    /// biggest idle cost); nil for anything but the plain form (`{"drone":…,"running":[…]}`, escape-free strings,
    /// each key once), which the caller then decodes with `JSONDecoder`. Keys it does not know send it there too.
    public init?(fastJSON bytes: [UInt8]) {
        var drone: String?, running: [String]?
        var reader = PlainJSONReader(bytes)
        let read: Void? = reader.object { key, member in
            switch (key, member) {
            case ("drone", .string(let s)) where drone == nil: drone = s
            case ("running", .strings(let list)) where running == nil: running = list
            default: return false
            }
            return true
        }
        guard read != nil, let drone, let running else { return nil }
        self.init(drone: drone, running: running)
    }

    /// Decodes a heartbeat: the hand-written path when the message is plain, `JSONDecoder` otherwise.
    public static func decode(_ bytes: [UInt8]) -> Heartbeat? {
        Heartbeat(fastJSON: bytes) ?? (try? JSONDecoder().decode(Heartbeat.self, from: Data(bytes)))
    }
}

extension HeartbeatReply {
    /// The reply's bytes, written once (each heartbeat has one).
    public var fastJSON: [UInt8] { known ? Self.knownBytes : Self.unknownBytes }
    private static let knownBytes = Array(#"{"known":true}"#.utf8), unknownBytes = Array(#"{"known":false}"#.utf8)
}

extension TaskResult {
    /// The result read by hand (one per finished task: a `JSONDecoder` each was a large part of honeycombd's CPU per
    /// task); nil for anything but the plain form `fastJSON` writes (task, attempt, token, drone, outcome and the
    /// plain product fields, each key once, escape-free strings), which the caller then decodes with `JSONDecoder`.
    /// A key it does not know (a fork, usage, a blob) sends it there too, so nothing is ever dropped.
    public init?(fastJSON bytes: [UInt8]) {
        var task: String?, attempt: Int?, token: String?, drone: String?, outcome: Outcome?
        var product = TaskProduct()
        var reader = PlainJSONReader(bytes)
        let read: Void? = reader.object { key, member in
            switch (key, member) {
            case ("task", .string(let s)) where task == nil: task = s
            case ("attempt", .integer(let n)) where attempt == nil: attempt = n
            case ("token", .string(let s)) where token == nil: token = s
            case ("drone", .string(let s)) where drone == nil: drone = s
            case ("outcome", .string(let s)) where outcome == nil:
                guard let o = Outcome(rawValue: s) else { return false }
                outcome = o
            case ("exit_code", .integer(let n)) where product.exitCode == nil: product.exitCode = n
            case ("output", .string(let s)) where product.output == nil: product.output = s
            case ("error", .string(let s)) where product.error == nil: product.error = s
            case ("wall_ms", .integer(let n)) where product.wallMillis == nil: product.wallMillis = n
            default: return false
            }
            return true
        }
        guard read != nil, let task, let attempt, let token, let drone, let outcome else { return nil }
        self.init(task: task, attempt: attempt, token: token, drone: drone, outcome: outcome, product: product)
    }

    /// Decodes a result: the hand-written path when the message is plain, `JSONDecoder` otherwise.
    public static func decode(_ bytes: [UInt8], decoder: JSONDecoder) throws -> TaskResult {
        if let r = TaskResult(fastJSON: bytes) { return r }
        return try decoder.decode(TaskResult.self, from: Data(bytes))
    }
}
