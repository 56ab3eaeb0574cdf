/// A WebAssembly value type. SIMD (`v128`) is not supported: modules using it are refused at load.
public enum ValueType: UInt8, Sendable, Equatable, CustomStringConvertible {
    case i32 = 0x7F, i64 = 0x7E, f32 = 0x7D, f64 = 0x7C
    case funcref = 0x70, externref = 0x6F

    public var isReference: Bool { self == .funcref || self == .externref }

    public var description: String {
        switch self {
        case .i32: return "i32"
        case .i64: return "i64"
        case .f32: return "f32"
        case .f64: return "f64"
        case .funcref: return "funcref"
        case .externref: return "externref"
        }
    }
}

/// A function's signature; multi-value results are allowed.
public struct FuncType: Sendable, Equatable, CustomStringConvertible {
    public var params: [ValueType]
    public var results: [ValueType]

    public init(params: [ValueType], results: [ValueType]) {
        self.params = params
        self.results = results
    }

    public var description: String { "[\(params.map(\.description).joined(separator: " "))] -> [\(results.map(\.description).joined(separator: " "))]" }
}

/// Sizes of a memory (in 64 KiB pages) or a table (in elements).
public struct Limits: Sendable, Equatable {
    public var min: UInt32
    public var max: UInt32?
    public init(min: UInt32, max: UInt32?) {
        self.min = min
        self.max = max
    }
}

public struct TableType: Sendable, Equatable {
    public var element: ValueType
    public var limits: Limits
    public init(element: ValueType, limits: Limits) {
        self.element = element
        self.limits = limits
    }
}

public struct GlobalType: Sendable, Equatable {
    public var value: ValueType
    public var mutable: Bool
    public init(value: ValueType, mutable: Bool) {
        self.value = value
        self.mutable = mutable
    }
}

/// A constant expression (global initializers, segment offsets, element items).
public enum ConstExpr: Sendable, Equatable {
    case i32(Int32), i64(Int64), f32(UInt32), f64(UInt64)
    case globalGet(UInt32)
    case refNull(ValueType)
    case refFunc(UInt32)
}

public enum ExternalKind: UInt8, Sendable, Equatable {
    case function = 0, table = 1, memory = 2, global = 3
}

public struct Import: Sendable, Equatable {
    public enum Descriptor: Sendable, Equatable {
        case function(typeIndex: UInt32)
        case table(TableType)
        case memory(Limits)
        case global(GlobalType)
    }
    public var module: String
    public var name: String
    public var descriptor: Descriptor
}

public struct Export: Sendable, Equatable {
    public var name: String
    public var kind: ExternalKind
    public var index: UInt32
    public init(name: String, kind: ExternalKind, index: UInt32) {
        self.name = name
        self.kind = kind
        self.index = index
    }
}

public struct Global: Sendable, Equatable {
    public var type: GlobalType
    public var initializer: ConstExpr
}

/// An element segment: references for a table, placed at instantiation (active), by `table.init` (passive), or
/// only declared (for `ref.func`).
public struct ElementSegment: Sendable, Equatable {
    public enum Mode: Sendable, Equatable {
        case active(table: UInt32, offset: ConstExpr)
        case passive
        case declarative
    }
    public var type: ValueType
    public var items: [ConstExpr]
    public var mode: Mode
}

public struct DataSegment: Sendable, Equatable {
    public enum Mode: Sendable, Equatable {
        case active(memory: UInt32, offset: ConstExpr)
        case passive
    }
    public var bytes: [UInt8]
    public var mode: Mode
}

/// A function body: its declared locals and where its instructions lie in the module's bytes (translated once,
/// after validation, into the interpreter's internal form).
public struct FunctionBody: Sendable, Equatable {
    public var locals: [ValueType]
    /// Byte range of the instructions (up to and including the final `end`) within `Module.bytes`.
    public var code: Range<Int>
}
