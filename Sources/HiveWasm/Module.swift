/// A decoded WebAssembly module: every section, with function bodies kept as byte ranges into `bytes`.
public struct Module: Sendable {
    public var bytes: [UInt8]
    public var types: [FuncType] = []
    public var imports: [Import] = []
    /// Type index of each function defined here (imports come first in the function index space).
    public var functions: [UInt32] = []
    public var tables: [TableType] = []
    public var memories: [Limits] = []
    public var globals: [Global] = []
    public var exports: [Export] = []
    public var start: UInt32?
    public var elements: [ElementSegment] = []
    public var dataCount: UInt32?
    public var bodies: [FunctionBody] = []
    public var data: [DataSegment] = []
    /// Custom sections by name (the `name` section among them), kept but not interpreted.
    public var customSections: [String] = []

    public init(bytes: [UInt8]) { self.bytes = bytes }

    public var importedFunctions: [UInt32] {
        imports.compactMap { if case .function(let t) = $0.descriptor { return t } else { return nil } }
    }
    public var importedTables: [TableType] {
        imports.compactMap { if case .table(let t) = $0.descriptor { return t } else { return nil } }
    }
    public var importedMemories: [Limits] {
        imports.compactMap { if case .memory(let m) = $0.descriptor { return m } else { return nil } }
    }
    public var importedGlobals: [GlobalType] {
        imports.compactMap { if case .global(let g) = $0.descriptor { return g } else { return nil } }
    }

    /// The type index of function `index` in the function index space (imports first).
    public func typeIndex(ofFunction index: UInt32) -> UInt32? {
        let imported = importedFunctions
        if Int(index) < imported.count { return imported[Int(index)] }
        let local = Int(index) - imported.count
        return local < functions.count ? functions[local] : nil
    }

    public var functionCount: Int { importedFunctions.count + functions.count }
    public var tableTypes: [TableType] { importedTables + tables }
    public var memoryLimits: [Limits] { importedMemories + memories }
    public var globalTypes: [GlobalType] { importedGlobals + globals.map(\.type) }
}
