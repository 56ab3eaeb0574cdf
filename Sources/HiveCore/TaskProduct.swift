/// What one attempt of a task produced: exit status, output, error, wall time, model usage, fuel, and whether a
/// failure is permanent. The one shape every stage carries, so a field added here reaches them all: a backend's
/// answer (`BackendOutcome`, in the drone), the result on the wire (`TaskResult`), the journaled output
/// (`TaskOutput`) and the API's view of a task (`TaskView`). Each of them is a `TaskProductCarrier`: it holds one
/// `product` and reads its fields as its own (`result.output`).
///
/// On the wire, in the journal and in the API the fields sit flat in the carrier's own JSON object, with the keys
/// they always had: those formats predate this type. A carrier's `CodingKeys` conform to `TaskProductCodingKeys`
/// and its coders hand their one keyed container to `init(from:)` and `encode(to:)` here. (Decoding the product
/// through a second container on the same `Decoder` cost about a fifth more per result, on honeycombd's hot path.)
/// A new field: a property, a requirement in `TaskProductCodingKeys` (the compiler then asks each carrier's
/// `CodingKeys` for its case), a line in each coder below, and `TaskProductTests.everyField`.
public struct TaskProduct: Sendable, Equatable {
    public var exitCode: Int?
    public var output: String?
    public var error: String?
    /// How long the attempt ran, as the drone measured it.
    public var wallMillis: Int?
    public var usage: Usage?
    /// The failure cannot succeed on retry (e.g. a provider's 4xx, a module that traps deterministically): the task
    /// dies without further attempts. True or absent, never false.
    public var permanent: Bool?
    /// WebAssembly tasks: instructions executed (the fuel the module used).
    public var fuel: Int64?
    /// An output too large for a result (over `BlobTransfer.inlineThreshold`) or not UTF-8: the blob the drone
    /// uploaded, named in place of `output` (`hive result --output-dir` fetches it).
    public var outputBlob: StoredBlob?

    public init(exitCode: Int? = nil, output: String? = nil, error: String? = nil, wallMillis: Int? = nil,
                usage: Usage? = nil, permanent: Bool? = nil, fuel: Int64? = nil, outputBlob: StoredBlob? = nil) {
        self.outputBlob = outputBlob
        self.exitCode = exitCode
        self.output = output
        self.error = error
        self.wallMillis = wallMillis
        self.usage = usage
        self.permanent = permanent
        self.fuel = fuel
    }

    /// A drone's numbers made safe for arithmetic (drones are untrusted): counts and times at least zero and at
    /// most 2^40 (fuel 2^62), non-finite model timings as zero. Negative usage would refund a budget; a huge one
    /// would overflow inside `apply`.
    public func clamped() -> TaskProduct {
        let bound = { (x: Int) in min(max(x, 0), 1 << 40) }
        var p = self
        p.wallMillis = wallMillis.map(bound)
        p.usage = usage.map {
            Usage(model: $0.model, promptTokens: bound($0.promptTokens), generatedTokens: bound($0.generatedTokens),
                  promptMillis: $0.promptMillis.isFinite ? max(0, $0.promptMillis) : 0,
                  generationMillis: $0.generationMillis.isFinite ? max(0, $0.generationMillis) : 0)
        }
        p.fuel = fuel.map { min(max($0, 0), 1 << 62) }
        p.outputBlob = outputBlob.map { StoredBlob(blob: $0.blob, size: bound($0.size)) }
        return p
    }
}

/// The coding keys of a type that carries a `TaskProduct` flattened into its own JSON object: its own keys plus
/// one for each of the product's fields (as enum cases: `case exitCode = "exit_code"`).
public protocol TaskProductCodingKeys: CodingKey {
    static var exitCode: Self { get }
    static var output: Self { get }
    static var error: Self { get }
    static var wallMillis: Self { get }
    static var usage: Self { get }
    static var permanent: Self { get }
    static var fuel: Self { get }
    static var outputBlob: Self { get }
}

/// A type that holds one `TaskProduct` and reads and writes its fields as its own (`result.output`,
/// `outcome.permanent = true`), so a field added to the product needs no accessor anywhere.
@dynamicMemberLookup
public protocol TaskProductCarrier {
    var product: TaskProduct { get set }
}

extension TaskProductCarrier {
    public subscript<T>(dynamicMember field: WritableKeyPath<TaskProduct, T>) -> T {
        get { product[keyPath: field] }
        set { product[keyPath: field] = newValue }
    }
}

extension TaskProduct {
    /// Reads the product's fields from a carrier's own container (each optional: absent is nil).
    public init<Key: TaskProductCodingKeys>(from c: KeyedDecodingContainer<Key>) throws {
        exitCode = try c.decodeIfPresent(Int.self, forKey: .exitCode)
        output = try c.decodeIfPresent(String.self, forKey: .output)
        error = try c.decodeIfPresent(String.self, forKey: .error)
        wallMillis = try c.decodeIfPresent(Int.self, forKey: .wallMillis)
        usage = try c.decodeIfPresent(Usage.self, forKey: .usage)
        permanent = try c.decodeIfPresent(Bool.self, forKey: .permanent)
        fuel = try c.decodeIfPresent(Int64.self, forKey: .fuel)
        outputBlob = try c.decodeIfPresent(StoredBlob.self, forKey: .outputBlob)
    }

    /// Writes the fields that are set into a carrier's own container.
    public func encode<Key: TaskProductCodingKeys>(to c: inout KeyedEncodingContainer<Key>) throws {
        try c.encodeIfPresent(exitCode, forKey: .exitCode)
        try c.encodeIfPresent(output, forKey: .output)
        try c.encodeIfPresent(error, forKey: .error)
        try c.encodeIfPresent(wallMillis, forKey: .wallMillis)
        try c.encodeIfPresent(usage, forKey: .usage)
        try c.encodeIfPresent(permanent, forKey: .permanent)
        try c.encodeIfPresent(fuel, forKey: .fuel)
        try c.encodeIfPresent(outputBlob, forKey: .outputBlob)
    }
}

/// On its own the product is the same flat object (`{"exit_code": 0, "output": "…"}`).
extension TaskProduct: Codable {
    enum CodingKeys: String, TaskProductCodingKeys {
        case output, error, usage, permanent, fuel
        case exitCode = "exit_code", wallMillis = "wall_ms", outputBlob = "output_blob"
    }

    public init(from decoder: any Decoder) throws {
        try self.init(from: decoder.container(keyedBy: CodingKeys.self))
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try encode(to: &c)
    }
}
