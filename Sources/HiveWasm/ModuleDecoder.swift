/// Decodes the WebAssembly binary format (1.0 plus the post-MVP features C and Rust toolchains emit: multi-value,
/// bulk memory, reference types' segment forms, mutable globals). Structure only: types and indices are checked
/// by `ModuleValidator`, function bodies by the code validator.
public enum ModuleDecoder {
    /// Most of anything a module may declare; far above what real modules use, low enough to bound memory.
    public static let maxLocals = 50_000, maxParams = 1_000, maxPages: UInt32 = 65_536

    public static func decode(_ bytes: [UInt8]) throws(WasmError) -> Module {
        var r = ByteReader(bytes)
        guard bytes.count >= 4, Array(bytes[0..<4]) == [0x00, 0x61, 0x73, 0x6D] else {
            throw r.fail("magic header not detected (not a WebAssembly module)", at: 0)
        }
        try r.skip(4)
        guard bytes.count >= 8 else { throw r.fail("unexpected end (no version)", at: 4) }
        guard Array(bytes[4..<8]) == [0x01, 0x00, 0x00, 0x00] else { throw r.fail("unknown binary version", at: 4) }
        try r.skip(4)
        var m = Module(bytes: bytes)
        var lastOrder = 0
        var functionCount: Int?
        while !r.isAtEnd {
            let idAt = r.offset
            let id = try r.byte()
            let size = Int(try r.u32())
            let start = r.offset
            guard size <= r.end - start else { throw r.fail("section size out of bounds", at: idAt) }
            var s = ByteReader(bytes, from: start, to: start + size)
            if id != 0 {
                guard let order = sectionOrder[id] else { throw r.fail("malformed section id \(id)", at: idAt) }
                guard order > lastOrder else { throw r.fail("unexpected section (id \(id) out of order or repeated)", at: idAt) }
                lastOrder = order
            }
            switch id {
            case 0: m.customSections.append(try s.name())  // contents are not interpreted
            case 1: m.types = try vector(&s) { (s: inout ByteReader) throws(WasmError) in try funcType(&s) }
            case 2: m.imports = try vector(&s) { (s: inout ByteReader) throws(WasmError) in try importEntry(&s) }
            case 3:
                m.functions = try vector(&s) { (s: inout ByteReader) throws(WasmError) in try s.u32() }
                functionCount = m.functions.count
            case 4: m.tables = try vector(&s) { (s: inout ByteReader) throws(WasmError) in try tableType(&s) }
            case 5: m.memories = try vector(&s) { (s: inout ByteReader) throws(WasmError) in try limits(&s, memory: true) }
            case 6: m.globals = try vector(&s) { (s: inout ByteReader) throws(WasmError) in Global(type: try globalType(&s), initializer: try constExpr(&s)) }
            case 7: m.exports = try vector(&s) { (s: inout ByteReader) throws(WasmError) in try exportEntry(&s) }
            case 8: m.start = try s.u32()
            case 9: m.elements = try vector(&s) { (s: inout ByteReader) throws(WasmError) in try elementSegment(&s) }
            case 12: m.dataCount = try s.u32()
            case 10:
                let at = s.offset
                m.bodies = try vector(&s) { (s: inout ByteReader) throws(WasmError) in try body(&s) }
                if m.bodies.count != (functionCount ?? 0) {
                    throw s.fail("function and code section have inconsistent lengths", at: at)
                }
            case 11:
                let at = s.offset
                m.data = try vector(&s) { (s: inout ByteReader) throws(WasmError) in try dataSegment(&s) }
                if let n = m.dataCount, n != m.data.count { throw s.fail("data count and data section have inconsistent lengths", at: at) }
            default: break
            }
            if id != 0 && !s.isAtEnd { throw s.fail("section size mismatch (section \(id) ends early)") }
            try r.skip(size)
        }
        if (functionCount ?? 0) > 0 && m.bodies.isEmpty { throw r.fail("function and code section have inconsistent lengths") }
        if let n = m.dataCount, n > 0, m.data.isEmpty { throw r.fail("data count and data section have inconsistent lengths") }
        return m
    }

    /// Where each known section may appear (data count sits between element and code).
    static let sectionOrder: [UInt8: Int] = [1: 1, 2: 2, 3: 3, 4: 4, 5: 5, 6: 6, 7: 7, 8: 8, 9: 9, 12: 10, 10: 11, 11: 12]

    static func vector<T>(_ s: inout ByteReader, _ item: (inout ByteReader) throws(WasmError) -> T) throws(WasmError) -> [T] {
        let n = try s.count()
        var out: [T] = []
        out.reserveCapacity(n)
        for _ in 0..<n { out.append(try item(&s)) }
        return out
    }

    static func valueType(_ s: inout ByteReader) throws(WasmError) -> ValueType {
        let at = s.offset
        let b = try s.byte()
        if b == 0x7B { throw s.fail("v128 (SIMD) is not supported", at: at) }
        guard let t = ValueType(rawValue: b) else { throw s.fail("malformed value type 0x\(String(b, radix: 16))", at: at) }
        return t
    }

    static func referenceType(_ s: inout ByteReader) throws(WasmError) -> ValueType {
        let at = s.offset
        let t = try valueType(&s)
        guard t.isReference else { throw s.fail("malformed reference type", at: at) }
        return t
    }

    static func funcType(_ s: inout ByteReader) throws(WasmError) -> FuncType {
        let at = s.offset
        guard try s.byte() == 0x60 else { throw s.fail("malformed function type (expected 0x60)", at: at) }
        let params = try vector(&s) { (s: inout ByteReader) throws(WasmError) in try valueType(&s) }
        let results = try vector(&s) { (s: inout ByteReader) throws(WasmError) in try valueType(&s) }
        if params.count > maxParams || results.count > maxParams { throw s.fail("too many parameters or results", at: at) }
        return FuncType(params: params, results: results)
    }

    static func limits(_ s: inout ByteReader, memory: Bool) throws(WasmError) -> Limits {
        let at = s.offset
        switch try s.byte() {
        case 0x00: return Limits(min: try s.u32(), max: nil)
        case 0x01: return Limits(min: try s.u32(), max: try s.u32())
        case 0x02: throw s.fail("shared memory (threads) is not supported", at: at)
        case 0x03 where memory: throw s.fail("shared memory (threads) is not supported", at: at)
        default: throw s.fail("integer too large (malformed limits flag)", at: at)
        }
    }

    static func tableType(_ s: inout ByteReader) throws(WasmError) -> TableType {
        TableType(element: try referenceType(&s), limits: try limits(&s, memory: false))
    }

    static func globalType(_ s: inout ByteReader) throws(WasmError) -> GlobalType {
        let t = try valueType(&s)
        let at = s.offset
        switch try s.byte() {
        case 0: return GlobalType(value: t, mutable: false)
        case 1: return GlobalType(value: t, mutable: true)
        default: throw s.fail("malformed mutability", at: at)
        }
    }

    static func importEntry(_ s: inout ByteReader) throws(WasmError) -> Import {
        let module = try s.name()
        let name = try s.name()
        let at = s.offset
        let descriptor: Import.Descriptor
        switch try s.byte() {
        case 0: descriptor = .function(typeIndex: try s.u32())
        case 1: descriptor = .table(try tableType(&s))
        case 2: descriptor = .memory(try limits(&s, memory: true))
        case 3: descriptor = .global(try globalType(&s))
        default: throw s.fail("malformed import kind", at: at)
        }
        return Import(module: module, name: name, descriptor: descriptor)
    }

    static func exportEntry(_ s: inout ByteReader) throws(WasmError) -> Export {
        let name = try s.name()
        let at = s.offset
        guard let kind = ExternalKind(rawValue: try s.byte()) else { throw s.fail("malformed export kind", at: at) }
        return Export(name: name, kind: kind, index: try s.u32())
    }

    /// A constant expression, ended by `end` (0x0B).
    static func constExpr(_ s: inout ByteReader) throws(WasmError) -> ConstExpr {
        let at = s.offset
        let e: ConstExpr
        switch try s.byte() {
        case 0x41: e = .i32(try s.i32())
        case 0x42: e = .i64(try s.i64())
        case 0x43: e = .f32(try s.f32Bits())
        case 0x44: e = .f64(try s.f64Bits())
        case 0x23: e = .globalGet(try s.u32())
        case 0xD0: e = .refNull(try referenceType(&s))
        case 0xD2: e = .refFunc(try s.u32())
        case 0x0B: throw s.fail("type mismatch (empty constant expression)", at: at)
        default: throw s.fail("constant expression required", at: at)
        }
        let endAt = s.offset
        guard try s.byte() == 0x0B else { throw s.fail("constant expression required (one instruction, then end)", at: endAt) }
        return e
    }

    static func elementSegment(_ s: inout ByteReader) throws(WasmError) -> ElementSegment {
        let at = s.offset
        let flags = try s.u32()
        guard flags <= 7 else { throw s.fail("malformed elements segment kind", at: at) }
        let passiveOrDeclarative = flags & 1 != 0
        let explicitTable = flags & 2 != 0
        let expressions = flags & 4 != 0
        var mode = ElementSegment.Mode.passive
        if !passiveOrDeclarative {
            let table = explicitTable ? try s.u32() : 0
            mode = .active(table: table, offset: try constExpr(&s))
        } else if explicitTable {
            mode = .declarative
        }
        var type = ValueType.funcref
        if passiveOrDeclarative || explicitTable {
            if expressions {
                type = try referenceType(&s)
            } else {
                let kindAt = s.offset
                guard try s.byte() == 0x00 else { throw s.fail("malformed element kind", at: kindAt) }
            }
        }
        let items: [ConstExpr] = expressions
            ? try vector(&s) { (s: inout ByteReader) throws(WasmError) in try constExpr(&s) }
            : try vector(&s) { (s: inout ByteReader) throws(WasmError) in .refFunc(try s.u32()) }
        return ElementSegment(type: type, items: items, mode: mode)
    }

    static func dataSegment(_ s: inout ByteReader) throws(WasmError) -> DataSegment {
        let at = s.offset
        let mode: DataSegment.Mode
        switch try s.u32() {
        case 0: mode = .active(memory: 0, offset: try constExpr(&s))
        case 1: mode = .passive
        case 2:
            let memory = try s.u32()
            mode = .active(memory: memory, offset: try constExpr(&s))
        default: throw s.fail("malformed data segment kind", at: at)
        }
        let n = try s.count()
        return DataSegment(bytes: Array(try s.bytes(n)), mode: mode)
    }

    static func body(_ s: inout ByteReader) throws(WasmError) -> FunctionBody {
        let sizeAt = s.offset
        let size = Int(try s.u32())
        let start = s.offset
        guard size <= s.end - start else { throw s.fail("function body size out of bounds", at: sizeAt) }
        var b = ByteReader(s.bytes, from: start, to: start + size)
        var locals: [ValueType] = []
        let groups = try b.count(minBytesEach: 2)
        var total = 0
        for _ in 0..<groups {
            let at = b.offset
            let n = Int(try b.u32())
            total += n
            if total > maxLocals { throw b.fail("too many locals", at: at) }
            locals += repeatElement(try valueType(&b), count: n)
        }
        guard b.offset < start + size, s.bytes[start + size - 1] == 0x0B else {
            throw s.fail("END opcode expected (function body does not end with end)", at: start + size - 1)
        }
        try s.skip(size)
        return FunctionBody(locals: locals, code: b.offset..<(start + size))
    }
}
