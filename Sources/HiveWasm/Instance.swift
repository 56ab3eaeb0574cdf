#if canImport(Glibc)
import Glibc
#endif

/// A flag another thread sets to stop a running module (a drone cancelling the task). Looked at with the clock:
/// about every million instructions, and after every host call and bulk memory or table operation.
public final class WasmInterrupt: @unchecked Sendable {
    private var flag = false
    private var mutex = pthread_mutex_t()

    public init() { pthread_mutex_init(&mutex, nil) }
    deinit { pthread_mutex_destroy(&mutex) }

    public func set() {
        pthread_mutex_lock(&mutex)
        flag = true
        pthread_mutex_unlock(&mutex)
    }

    public var isSet: Bool {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        return flag
    }
}

/// What a module may use: the instruction budget, memory, call depth. Exhausting one is a trap, not a crash.
public struct WasmLimits: Sendable, Equatable {
    public static func == (a: WasmLimits, b: WasmLimits) -> Bool {
        a.fuel == b.fuel && a.maxMemoryPages == b.maxMemoryPages && a.maxCallDepth == b.maxCallDepth
            && a.maxStackSlots == b.maxStackSlots && a.maxTableElements == b.maxTableElements && a.maxOpenFiles == b.maxOpenFiles
            && a.maxScratchBytes == b.maxScratchBytes
            && a.timeoutMillis == b.timeoutMillis && a.interrupt === b.interrupt
    }

    /// Instructions the module may execute (checked at branches and calls); nil for unmetered. Work done for the
    /// module in one step is charged too: host calls and bulk memory/table operations pay per buffer and per
    /// `Instance.bytesPerFuel` bytes they move (`Instance.charge`), so fuel bounds total work, not just instructions.
    public var fuel: Int64?
    /// Linear memory cap in 64 KiB pages (`memory.grow` beyond it fails with -1, as the spec allows). At most
    /// `memoryPagesCeiling` whatever is asked: below 4 GiB, so no 32-bit address arithmetic can wrap.
    public var maxMemoryPages: UInt32 = 1_024 {
        didSet { if maxMemoryPages > Self.memoryPagesCeiling { maxMemoryPages = Self.memoryPagesCeiling } }
    }
    public static let memoryPagesCeiling: UInt32 = 65_535
    /// Table elements (8 bytes each) all of an instance's tables may hold together, at instantiation and after
    /// `table.grow` (which answers -1 past it): a tiny module declaring huge tables cannot make the host allocate.
    public var maxTableElements = 1_000_000
    /// Files a module may hold open at once in its granted scratch directory (`path_open` answers EMFILE past it).
    public var maxOpenFiles = 64
    /// Bytes a module may write to its scratch directory in one run (ENOSPC past it).
    public var maxScratchBytes = 64 << 20
    public var maxCallDepth = 10_000
    /// Value-stack slots (8 bytes each) for locals and operands of all active calls.
    public var maxStackSlots = 1 << 20
    /// Wall-clock limit for one call into the module (checked about every million instructions and after every host
    /// call or bulk operation, each of which does bounded work); nil for none.
    public var timeoutMillis: Int?
    /// Set from another thread to stop the module (`Trap.interrupted`).
    public var interrupt: WasmInterrupt?

    public init(fuel: Int64? = nil, maxMemoryPages: UInt32 = 1_024, timeoutMillis: Int? = nil) {
        self.fuel = fuel
        self.maxMemoryPages = min(maxMemoryPages, Self.memoryPagesCeiling)
        self.timeoutMillis = timeoutMillis
    }
}

/// A decoded, validated and translated module: what every instance of it shares.
public struct CompiledModule: Sendable {
    public let module: Module
    let functions: [FunctionCode]

    public init(_ module: Module) throws(WasmError) {
        self.module = module
        functions = try ModuleValidator.compile(module)
    }

    public init(bytes: [UInt8]) throws(WasmError) {
        try self.init(try ModuleDecoder.decode(bytes))
    }

    /// About what the translated code holds in memory (instructions and branch tables), for caches that bound bytes.
    public var translatedBytes: Int {
        functions.reduce(0) { total, f in
            total + f.code.count * MemoryLayout<Instruction>.stride
                + f.tables.reduce(0) { $0 + $1.count * MemoryLayout<BranchTarget>.stride } + f.locals.count
        }
    }
}

/// A function the host provides for an import, with its type: a module that imports it with another type is not
/// linked (`InstantiationError.incompatibleImport`), so host code always gets the arguments it reads and the
/// stack always gets the results validation counted.
public struct HostFunction {
    /// Reads and writes the instance's memory through `instance`. Untyped `throws` (typed-throws closures crash
    /// this compiler): a `Trap` passes through, anything else becomes `Trap.host` with its description.
    public typealias Body = (_ instance: Instance, _ args: [UInt64]) throws -> [UInt64]

    /// `nil`: any parameters (a stub that reads none, such as an ENOSYS answer).
    public var params: [ValueType]?
    public var results: [ValueType]
    public var body: Body

    public init(_ params: [ValueType]?, _ results: [ValueType], _ body: @escaping Body) {
        self.params = params
        self.results = results
        self.body = body
    }

    /// Whether a module may import this function as `type`.
    public func accepts(_ type: FuncType) -> Bool { (params == nil || params == type.params) && results == type.results }
}

/// Why a module could not be instantiated.
public enum InstantiationError: Error, Equatable, Sendable, CustomStringConvertible {
    case unknownImport(module: String, name: String)
    case incompatibleImport(module: String, name: String, declared: FuncType)
    case unsupportedImport(module: String, name: String, kind: String)
    /// The module's initial memory is more than the instance may have.
    case memoryLimit(neededPages: UInt32, limitPages: UInt32)
    /// The module's tables together start with more elements than the instance may hold.
    case tableLimit(neededElements: UInt64, limitElements: Int)
    case trap(Trap)

    public var description: String {
        switch self {
        case .unknownImport(let m, let n): return "unknown import \(m).\(n): the host does not provide it"
        case .incompatibleImport(let m, let n, let t):
            return "incompatible import type: \(m).\(n) is imported as \(t.params) -> \(t.results), which the host's does not match"
        case .unsupportedImport(let m, let n, let k): return "import \(m).\(n): \(k) imports are not supported (functions only)"
        case .memoryLimit(let n, let l):
            return "the module needs \(n) memory pages (\(Self.mib(n)) MiB) at start; the memory limit is \(l) pages (\(Self.mib(l)) MiB)"
        case .tableLimit(let n, let l):
            return "the module's tables need \(n) elements at start; the limit is \(l) table elements per instance"
        case .trap(let t): return "trapped during instantiation: \(t)"
        }
    }

    static func mib(_ pages: UInt32) -> String {
        pages % 16 == 0 ? "\(pages / 16)" : String(Double(pages) / 16)
    }
}

/// An instantiated module: memory, globals, tables and the translated code, ready to run exported functions.
/// One thread at a time (a drone runs each task on its own instance).
public final class Instance {
    public let module: Module
    let functions: [FunctionCode]
    let hostFunctions: [HostFunction]
    let importCount: Int
    /// Per defined function, what a call needs without touching `FunctionCode`: its instructions (in memory that
    /// does not move while running) and its frame's shape. A flat table, so a call reads it without bounds checks
    /// or reference counting.
    struct Entry {
        var code: UnsafeMutablePointer<Instruction>
        var locals: Int
        var params: Int
        var maxStack: Int
    }
    let entries: UnsafeMutableBufferPointer<Entry>
    /// For `call_indirect`: each function's type as the first index of a structurally equal type, and the same
    /// mapping for type indices, so the check is one integer compare.
    let typeIDs: [Int]
    let canonicalTypes: [Int]
    public internal(set) var limits: WasmLimits
    /// Linear memory and its size in bytes (a multiple of 64 KiB).
    var memory: UnsafeMutableRawPointer
    var memoryBytes: Int
    var memoryCapacity: Int
    let memoryMaxPages: UInt32
    var globals: [UInt64]
    /// Tables hold function index + 1, or 0 for null (funcref), or opaque host values + 1 (externref).
    var tables: [[UInt64]]
    var tableMax: [UInt32?]
    var droppedData: [Bool]
    var droppedElements: [Bool]
    let stack: UnsafeMutablePointer<UInt64>

    /// Instructions executed so far, plus the work charged by host calls and bulk operations (for reporting fuel used).
    public internal(set) var fuelUsed: Int64 = 0
    /// Fuel the host call in progress may still charge, and what it (or the last bulk operation) has charged so far:
    /// the interpreter sets the first before a host call and adds the second to its count after it (`charge`).
    var chargeAllowance: Int64 = .max
    var charged: Int64 = 0

    public convenience init(module: Module, imports: [String: [String: HostFunction]], limits: WasmLimits = WasmLimits()) throws {
        try self.init(compiled: try CompiledModule(module), imports: imports, limits: limits)
    }

    /// An instance of a module validated and translated once (a drone runs many tasks of one module).
    public init(compiled: CompiledModule, imports: [String: [String: HostFunction]], limits: WasmLimits = WasmLimits()) throws {
        let module = compiled.module
        self.module = module
        self.limits = limits
        functions = compiled.functions
        var hosts: [HostFunction] = []
        for imp in module.imports {
            switch imp.descriptor {
            case .function:
                guard let f = imports[imp.module]?[imp.name] else { throw InstantiationError.unknownImport(module: imp.module, name: imp.name) }
                let declared = module.types[Int(module.typeIndex(ofFunction: UInt32(hosts.count))!)]
                guard f.accepts(declared) else {
                    throw InstantiationError.incompatibleImport(module: imp.module, name: imp.name, declared: declared)
                }
                hosts.append(f)
            case .memory: throw InstantiationError.unsupportedImport(module: imp.module, name: imp.name, kind: "memory")
            case .table: throw InstantiationError.unsupportedImport(module: imp.module, name: imp.name, kind: "table")
            case .global: throw InstantiationError.unsupportedImport(module: imp.module, name: imp.name, kind: "global")
            }
        }
        hostFunctions = hosts
        importCount = hosts.count
        entries = .allocate(capacity: functions.count)
        for (i, f) in functions.enumerated() {
            let code = UnsafeMutablePointer<Instruction>.allocate(capacity: f.code.count)
            code.initialize(from: f.code, count: f.code.count)
            entries.initializeElement(at: i, to: Entry(code: code, locals: f.locals.count, params: f.type.params.count, maxStack: f.maxStack + 1))
        }
        let canonical = module.types.map { t in module.types.firstIndex(of: t)! }
        canonicalTypes = canonical
        typeIDs = (0..<module.functionCount).map { canonical[Int(module.typeIndex(ofFunction: UInt32($0))!)] }
        let mem = module.memories.first
        let pages = mem?.min ?? 0
        memoryMaxPages = Swift.min(mem?.max ?? limits.maxMemoryPages, limits.maxMemoryPages)
        guard pages <= memoryMaxPages else {
            throw InstantiationError.memoryLimit(neededPages: pages, limitPages: limits.maxMemoryPages)
        }
        // Checked before anything is allocated: the declared sizes alone say what instantiation would cost.
        let tableElements = module.tables.reduce(UInt64(0)) { $0 + UInt64($1.limits.min) }
        guard tableElements <= UInt64(Swift.max(0, limits.maxTableElements)) else {
            throw InstantiationError.tableLimit(neededElements: tableElements, limitElements: limits.maxTableElements)
        }
        memoryBytes = Int(pages) * 65_536
        memoryCapacity = Swift.max(memoryBytes, 65_536)
        memory = UnsafeMutableRawPointer.allocate(byteCount: memoryCapacity, alignment: 16)
        memory.initializeMemory(as: UInt8.self, repeating: 0, count: memoryCapacity)
        globals = []
        tables = module.tables.map { Array(repeating: 0, count: Int($0.limits.min)) }
        tableMax = module.tables.map(\.limits.max)
        droppedData = Array(repeating: false, count: module.data.count)
        droppedElements = Array(repeating: false, count: module.elements.count)
        stack = UnsafeMutablePointer<UInt64>.allocate(capacity: limits.maxStackSlots)
        for g in module.globals { globals.append(constant(g.initializer)) }
        try boot()
    }

    /// Places the active segments, then runs the start function.
    private func boot() throws(InstantiationError) {
        do throws(Trap) {
            try initializeSegments()
            if let start = module.start { _ = try invoke(Int(start), []) }
        } catch {
            throw .trap(error)
        }
    }

    deinit {
        for e in entries { e.code.deallocate() }
        entries.deallocate()
        memory.deallocate()
        stack.deallocate()
    }

    func constant(_ e: ConstExpr) -> UInt64 {
        switch e {
        case .i32(let v): return UInt64(UInt32(bitPattern: v))
        case .i64(let v): return UInt64(bitPattern: v)
        case .f32(let b): return UInt64(b)
        case .f64(let b): return b
        case .globalGet(let g): return globals[Int(g)]
        case .refNull: return 0
        case .refFunc(let f): return UInt64(f) + 1
        }
    }

    private func initializeSegments() throws(Trap) {
        for (i, seg) in module.elements.enumerated() {
            switch seg.mode {
            case .active(let table, let offset):
                let at = Int(UInt32(truncatingIfNeeded: constant(offset)))
                guard at + seg.items.count <= tables[Int(table)].count else { throw .tableOutOfBounds }
                for (k, item) in seg.items.enumerated() { tables[Int(table)][at + k] = constant(item) }
                droppedElements[i] = true
            case .declarative: droppedElements[i] = true
            case .passive: break
            }
        }
        for (i, seg) in module.data.enumerated() {
            guard case .active(_, let offset) = seg.mode else { continue }
            let at = Int(UInt32(truncatingIfNeeded: constant(offset)))
            guard at + seg.bytes.count <= memoryBytes else { throw .memoryOutOfBounds }
            seg.bytes.withUnsafeBytes { memory.advanced(by: at).copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
            droppedData[i] = true
        }
    }

    // MARK: Work charged to fuel

    /// Bytes of host or bulk work that cost one unit of fuel: about what one interpreted instruction costs in time
    /// (a memory copy moves some 16 bytes in the time the interpreter dispatches one instruction).
    public static let bytesPerFuel = 16

    /// Fuel for work on `buffers` buffers and `bytes` bytes: one per buffer, one per `bytesPerFuel` bytes started.
    @inline(__always) public static func fuel(buffers: Int = 0, bytes: Int) -> Int64 {
        Int64(clamping: buffers) &+ (Int64(clamping: bytes) &+ Int64(bytesPerFuel - 1)) / Int64(bytesPerFuel)
    }

    /// Charges `units` of fuel for work a host function is about to do for the module: called *before* the work,
    /// so a call whose work would pass the fuel left traps (`fuelExhausted`) instead of doing it. The interpreter
    /// adds the charge to its count after the call and then looks at fuel, the clock and the interrupt, so every
    /// host call ends within bounded work of them.
    public func charge(_ units: Int64) throws(Trap) {
        let (sum, overflow) = charged.addingReportingOverflow(Swift.max(0, units))
        charged = overflow ? .max : sum
        if charged > chargeAllowance { throw .fuelExhausted }
    }

    // MARK: Memory access for hosts

    /// Linear memory's size in bytes.
    public var memorySize: Int { memoryBytes }

    /// Bytes `[at, at+count)` of memory, or a trap when out of bounds.
    public func read(_ at: UInt32, _ count: UInt32) throws(Trap) -> [UInt8] {
        let start = Int(at), n = Int(count)
        guard start + n <= memoryBytes else { throw .memoryOutOfBounds }
        return Array(UnsafeRawBufferPointer(start: memory.advanced(by: start), count: n))
    }

    public func write(_ at: UInt32, _ bytes: some Collection<UInt8>) throws(Trap) {
        let start = Int(at)
        guard start + bytes.count <= memoryBytes else { throw .memoryOutOfBounds }
        var i = start
        for b in bytes {
            memory.storeBytes(of: b, toByteOffset: i, as: UInt8.self)
            i += 1
        }
    }

    /// Whether `[at, at+count)` lies in memory: O(1), without touching it (a host validating a buffer it may not use).
    @inline(__always) public func contains(_ at: UInt32, _ count: Int) -> Bool {
        count >= 0 && Int(at) &+ count <= memoryBytes
    }

    /// Memory `[at, at+count)` as raw bytes, for a host reading or writing it in place (no copy); a trap when out of
    /// bounds. The pointer is valid only inside `body` (memory moves when it grows).
    func withMemory<R>(_ at: UInt32, _ count: Int, _ body: (UnsafeMutableRawBufferPointer) -> R) throws(Trap) -> R {
        guard contains(at, count) else { throw .memoryOutOfBounds }
        return body(UnsafeMutableRawBufferPointer(start: memory.advanced(by: Int(at)), count: count))
    }

    public func readU32(_ at: UInt32) throws(Trap) -> UInt32 {
        guard Int(at) + 4 <= memoryBytes else { throw .memoryOutOfBounds }
        return memory.loadUnaligned(fromByteOffset: Int(at), as: UInt32.self)
    }

    public func writeU32(_ at: UInt32, _ v: UInt32) throws(Trap) {
        guard Int(at) + 4 <= memoryBytes else { throw .memoryOutOfBounds }
        memory.storeBytes(of: v, toByteOffset: Int(at), as: UInt32.self)
    }

    public func writeU64(_ at: UInt32, _ v: UInt64) throws(Trap) {
        guard Int(at) + 8 <= memoryBytes else { throw .memoryOutOfBounds }
        memory.storeBytes(of: v, toByteOffset: Int(at), as: UInt64.self)
    }

    /// `memory.grow`: the old size in pages, or -1 when the cap or the module's maximum is reached.
    @inline(never) func grow(by delta: UInt32) -> Int32 {
        let old = UInt32(memoryBytes / 65_536)
        guard delta <= memoryMaxPages, old + delta <= memoryMaxPages else { return -1 }
        let newBytes = Int(old + delta) * 65_536
        if newBytes > memoryCapacity {
            let capacity = Swift.max(newBytes, Swift.min(memoryCapacity * 2, Int(memoryMaxPages) * 65_536))
            let fresh = UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 16)
            fresh.copyMemory(from: memory, byteCount: memoryBytes)
            fresh.advanced(by: memoryBytes).initializeMemory(as: UInt8.self, repeating: 0, count: capacity - memoryBytes)
            memory.deallocate()
            memory = fresh
            memoryCapacity = capacity
        }
        memoryBytes = newBytes
        return Int32(old)
    }

    // MARK: Exports

    /// The function index of export `name`, when it is a function.
    public func exportedFunction(_ name: String) -> Int? {
        module.exports.first { $0.kind == .function && $0.name.utf8.elementsEqual(name.utf8) }.map { Int($0.index) }
    }

    /// Calls an exported function with raw values (i32 zero-extended, floats as bit patterns).
    public func call(_ name: String, _ args: [UInt64] = []) throws -> [UInt64] {
        guard let f = exportedFunction(name) else { throw Trap.host("no exported function '\(name)'") }
        return try invoke(f, args)
    }

    func functionType(_ index: Int) -> FuncType {
        module.types[Int(module.typeIndex(ofFunction: UInt32(index))!)]
    }
}
