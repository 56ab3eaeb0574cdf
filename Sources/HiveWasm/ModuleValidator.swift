/// Module-level validation: indices in range, limits, constant expressions of the right type, unique exports, a
/// start function of type [] -> []. Function bodies are type-checked separately, instruction by instruction.
public enum ModuleValidator {
    public static func validate(_ m: Module) throws(WasmError) {
        let types = m.types.count
        for (i, imp) in m.imports.enumerated() {
            switch imp.descriptor {
            case .function(let t) where Int(t) >= types: throw .invalid("import \(i) (\(imp.module).\(imp.name)): unknown type \(t)")
            case .table(let t): try check(t.limits, what: "table import \(i)", max: UInt32.max)
            case .memory(let l): try check(l, what: "memory import \(i)", max: ModuleDecoder.maxPages)
            default: break
            }
        }
        for (i, t) in m.functions.enumerated() where Int(t) >= types {
            throw .invalid("function \(m.importedFunctions.count + i): unknown type \(t)")
        }
        for (i, t) in m.tables.enumerated() { try check(t.limits, what: "table \(i)", max: UInt32.max) }
        for (i, l) in m.memories.enumerated() { try check(l, what: "memory \(i)", max: ModuleDecoder.maxPages) }
        if m.memoryLimits.count > 1 { throw .invalid("multiple memories are not supported") }
        let importedGlobals = m.importedGlobals
        for (i, g) in m.globals.enumerated() {
            let t = try constType(g.initializer, in: m, globalsVisible: importedGlobals, what: "global \(importedGlobals.count + i)")
            if t != g.type.value { throw .invalid("type mismatch: global \(importedGlobals.count + i) is \(g.type.value), its initializer \(t)") }
        }
        // Names compare as bytes: Swift's String equality would take "Å" (U+00C5) and "Å" (A, U+030A) as one.
        var names: Set<[UInt8]> = []
        for e in m.exports {
            if !names.insert(Array(e.name.utf8)).inserted { throw .invalid("duplicate export name '\(e.name)'") }
            let count: Int
            switch e.kind {
            case .function: count = m.functionCount
            case .table: count = m.tableTypes.count
            case .memory: count = m.memoryLimits.count
            case .global: count = m.globalTypes.count
            }
            if Int(e.index) >= count { throw .invalid("export '\(e.name)': unknown \(e.kind) \(e.index)") }
        }
        if let s = m.start {
            guard let t = m.typeIndex(ofFunction: s) else { throw .invalid("start: unknown function \(s)") }
            if !m.types[Int(t)].params.isEmpty || !m.types[Int(t)].results.isEmpty {
                throw .invalid("start function \(s) must have type [] -> [], not \(m.types[Int(t)])")
            }
        }
        let tables = m.tableTypes
        for (i, seg) in m.elements.enumerated() {
            if case .active(let table, let offset) = seg.mode {
                guard Int(table) < tables.count else { throw .invalid("element segment \(i): unknown table \(table)") }
                if tables[Int(table)].element != seg.type {
                    throw .invalid("type mismatch: element segment \(i) holds \(seg.type), table \(table) \(tables[Int(table)].element)")
                }
                if try constType(offset, in: m, globalsVisible: importedGlobals, what: "element segment \(i) offset") != .i32 {
                    throw .invalid("type mismatch: element segment \(i) offset must be i32")
                }
            }
            for item in seg.items where try constType(item, in: m, globalsVisible: importedGlobals, what: "element segment \(i)") != seg.type {
                throw .invalid("type mismatch: element segment \(i) items must be \(seg.type)")
            }
        }
        for (i, seg) in m.data.enumerated() {
            guard case .active(let memory, let offset) = seg.mode else { continue }
            guard Int(memory) < m.memoryLimits.count else { throw .invalid("data segment \(i): unknown memory \(memory)") }
            if try constType(offset, in: m, globalsVisible: importedGlobals, what: "data segment \(i) offset") != .i32 {
                throw .invalid("type mismatch: data segment \(i) offset must be i32")
            }
        }
    }

    static func check(_ l: Limits, what: String, max: UInt32) throws(WasmError) {
        if l.min > max { throw .invalid("\(what): size minimum must not be greater than \(max)") }
        if let hi = l.max {
            if hi > max { throw .invalid("\(what): size maximum must not be greater than \(max)") }
            if l.min > hi { throw .invalid("\(what): size minimum must not be greater than maximum") }
        }
    }

    /// The type a constant expression produces. `global.get` may read only imported, immutable globals.
    static func constType(_ e: ConstExpr, in m: Module, globalsVisible: [GlobalType], what: String) throws(WasmError) -> ValueType {
        switch e {
        case .i32: return .i32
        case .i64: return .i64
        case .f32: return .f32
        case .f64: return .f64
        case .refNull(let t): return t
        case .refFunc(let f):
            guard Int(f) < m.functionCount else { throw .invalid("\(what): unknown function \(f)") }
            return .funcref
        case .globalGet(let g):
            guard Int(g) < globalsVisible.count else { throw .invalid("\(what): unknown global \(g) (constant expressions read imported globals only)") }
            if globalsVisible[Int(g)].mutable { throw .invalid("\(what): constant expression required (global \(g) is mutable)") }
            return globalsVisible[Int(g)].value
        }
    }
}

extension ModuleValidator {
    /// Validates the module and every function body, translating each into the interpreter's form.
    public static func compile(_ m: Module) throws(WasmError) -> [FunctionCode] {
        try validate(m)
        var declared: Set<UInt32> = []
        for seg in m.elements {
            for case .refFunc(let f) in seg.items { declared.insert(f) }
        }
        for e in m.exports where e.kind == .function { declared.insert(e.index) }
        for g in m.globals { if case .refFunc(let f) = g.initializer { declared.insert(f) } }
        var out: [FunctionCode] = []
        out.reserveCapacity(m.bodies.count)
        for i in m.bodies.indices {
            var v = CodeValidator(module: m, function: i, types: m.types, declared: declared)
            out.append(try v.run())
        }
        return out
    }
}
