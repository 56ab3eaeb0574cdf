/// Type-checks one function body and translates it into `Instruction`s in the same pass (the spec's validation
/// algorithm: a stack of operand types, a stack of control frames, code after an unconditional branch typed as
/// polymorphic). Branch targets and the stack heights they restore are resolved here, so the interpreter only
/// jumps and copies.
struct CodeValidator {
    let module: Module
    let index: Int
    let functionTypes: [FuncType]
    let tableTypes: [TableType]
    let hasMemory: Bool
    let globals: [GlobalType]
    /// Functions `ref.func` may name: those referenced outside function bodies (elements, exports, globals).
    let declaredFunctions: Set<UInt32>

    enum Kind { case function, block, loop, `if`, `else` }

    struct Frame {
        var kind: Kind
        var params: [ValueType]
        var results: [ValueType]
        /// Operand height at entry, below the frame's parameters.
        var height: Int
        var unreachable = false
        /// A loop's branch target: its first instruction.
        var start: Int
        /// Branch instructions (and `br_table` entries) to point at this frame's end.
        var fixups: [Int] = []
        var tableFixups: [(table: Int, entry: Int)] = []
        /// An `if`'s conditional jump, pointed at its `else` or end.
        var elseFixup: Int?

        var labelTypes: [ValueType] { kind == .loop ? params : results }
    }

    var vals: [ValueType?] = []
    var frames: [Frame] = []
    var code: [Instruction] = []
    var tables: [[BranchTarget]] = []
    var maxHeight = 0
    /// The last position a branch may land on: instructions before it cannot be fused with what follows.
    var barrier = 0
    var r: ByteReader
    var opAt = 0

    init(module: Module, function index: Int, types: [FuncType], declared: Set<UInt32>) {
        self.module = module
        self.index = index
        functionTypes = types
        tableTypes = module.tableTypes
        hasMemory = !module.memoryLimits.isEmpty
        globals = module.globalTypes
        declaredFunctions = declared
        let body = module.bodies[index]
        r = ByteReader(module.bytes, from: body.code.lowerBound, to: body.code.upperBound)
    }

    func fail(_ why: String) -> WasmError {
        .invalid("function \(module.importedFunctions.count + index) at byte \(opAt): \(why)")
    }

    // MARK: Operand stack

    mutating func push(_ t: ValueType?) {
        vals.append(t)
        if vals.count > maxHeight { maxHeight = vals.count }
    }

    mutating func pop() throws(WasmError) -> ValueType? {
        let f = frames[frames.count - 1]
        if vals.count == f.height {
            if f.unreachable { return nil }
            throw fail("type mismatch: the instruction needs an operand, the stack is empty")
        }
        return vals.removeLast()
    }

    @discardableResult
    mutating func pop(_ expected: ValueType) throws(WasmError) -> ValueType? {
        let actual = try pop()
        if let actual, actual != expected { throw fail("type mismatch: expected \(expected), got \(actual)") }
        return actual ?? expected
    }

    mutating func pop(_ types: [ValueType]) throws(WasmError) {
        for t in types.reversed() { try pop(t) }
    }

    mutating func unreachable() {
        vals.removeLast(vals.count - frames[frames.count - 1].height)
        frames[frames.count - 1].unreachable = true
    }

    // MARK: Control

    mutating func blockType() throws(WasmError) -> FuncType {
        let at = r.offset
        let b = try r.byte()
        if b == 0x40 { return FuncType(params: [], results: []) }
        if let t = ValueType(rawValue: b) { return FuncType(params: [], results: [t]) }
        if b == 0x7B { throw .malformed(offset: at, reason: "v128 (SIMD) is not supported") }
        var s = ByteReader(module.bytes, from: at, to: r.end)
        let idx = try s.signed(bits: 33)
        guard idx >= 0 else { throw .malformed(offset: at, reason: "malformed block type") }
        try r.skip(s.offset - at - 1)
        guard Int(idx) < module.types.count else { throw fail("unknown type \(idx) in a block type") }
        return module.types[Int(idx)]
    }

    mutating func enter(_ kind: Kind, _ type: FuncType) throws(WasmError) {
        try pop(type.params)
        frames.append(Frame(kind: kind, params: type.params, results: type.results, height: vals.count, start: code.count))
        barrier = code.count
        for p in type.params { push(p) }
    }

    /// The previous instruction when it may be fused with the next: nothing branches in between.
    var fusable: Instruction? { code.count > barrier ? code.last : nil }

    /// Checks the frame's results are exactly what is on its stack.
    mutating func checkResults(_ f: Frame) throws(WasmError) {
        try pop(f.results)
        if vals.count != f.height { throw fail("type mismatch: \(vals.count - f.height) value(s) left on the stack at the end of a block") }
    }

    mutating func label(_ depth: UInt32) throws(WasmError) -> Int {
        guard Int(depth) < frames.count else { throw fail("unknown label \(depth)") }
        return frames.count - 1 - Int(depth)
    }

    /// A branch instruction to frame `f`, its target patched at the frame's end unless it is a loop.
    mutating func emitBranch(_ op: UInt16, to f: Int) {
        let frame = frames[f]
        let keep = UInt64(frame.labelTypes.count), height = UInt64(frame.height)
        if frame.kind == .loop {
            code.append(Instruction(op, a: UInt32(frame.start), b: keep << 32 | height))
        } else {
            frames[f].fixups.append(code.count)
            code.append(Instruction(op, b: keep << 32 | height))
        }
    }

    mutating func end() throws(WasmError) {
        var f = frames[frames.count - 1]
        if f.kind == .if && f.params != f.results { throw fail("type mismatch: an if without else must leave its parameters as they are") }
        try checkResults(f)
        frames.removeLast()
        if f.kind == .function { code.append(Instruction(Op.ret, a: UInt32(f.results.count))) }
        let target = UInt32(code.count - (f.kind == .function ? 1 : 0))
        if let e = f.elseFixup { code[e].a = target }
        for i in f.fixups { code[i].a = target }
        for (t, e) in f.tableFixups { tables[t][e].pc = target }
        barrier = code.count
        f.fixups = []
        for t in f.results { push(t) }
    }

    // MARK: The pass

    mutating func run() throws(WasmError) -> FunctionCode {
        let typeIndex = Int(module.functions[index])
        let type = module.types[typeIndex]
        let locals = type.params + module.bodies[index].locals
        if locals.count > ModuleDecoder.maxLocals { throw fail("too many locals") }
        frames = [Frame(kind: .function, params: [], results: type.results, height: 0, start: 0)]
        while !frames.isEmpty {
            opAt = r.offset
            guard !r.isAtEnd else { throw .malformed(offset: opAt, reason: "unexpected end of function body") }
            let op = try r.byte()
            try instruction(op, locals: locals)
        }
        if !r.isAtEnd { throw .malformed(offset: r.offset, reason: "operators remaining after the function's end") }
        return FunctionCode(type: type, locals: locals, code: code, tables: tables, maxStack: maxHeight)
    }

    mutating func instruction(_ op: UInt8, locals: [ValueType]) throws(WasmError) {
        switch op {
        case 0x00:
            code.append(Instruction(0x00))
            unreachable()
        case 0x01: break
        case 0x02: try enter(.block, try blockType())
        case 0x03: try enter(.loop, try blockType())
        case 0x04:
            let t = try blockType()
            try pop(.i32)
            try enter(.if, t)
            frames[frames.count - 1].elseFixup = code.count
            code.append(Instruction(Op.branchUnless))
        case 0x05:
            var f = frames[frames.count - 1]
            guard f.kind == .if else { throw fail("else without a matching if") }
            try checkResults(f)
            f.fixups.append(code.count)
            code.append(Instruction(Op.branch, b: UInt64(f.results.count) << 32 | UInt64(f.height)))
            if let e = f.elseFixup { code[e].a = UInt32(code.count) }
            barrier = code.count
            f.elseFixup = nil
            f.kind = .else
            f.unreachable = false
            frames[frames.count - 1] = f
            for p in f.params { push(p) }
        case 0x0B: try end()
        case 0x0C:
            let f = try label(try r.u32())
            try pop(frames[f].labelTypes)
            emitBranch(Op.branch, to: f)
            unreachable()
        case 0x0D:
            let f = try label(try r.u32())
            try pop(.i32)
            let types = frames[f].labelTypes
            try pop(types)
            if fusable?.op == 0x45 && types.isEmpty {
                code.removeLast()
                emitBranch(Fused.branchIfZero, to: f)
            } else if types.isEmpty, let prev = fusable, let kind = Fused.compareKind(prev.op), frames[f].height <= Int(UInt32.max) {
                // `i32.const k; i32.ne; br_if L` (a loop's test) becomes one compare-and-branch; k rides in b's high
                // half. A `local.get x` or `local.tee x` before it joins in.
                code.removeLast()
                var op = Fused.branchCompareImm + kind, local: UInt16 = 0
                if code.count > barrier, let source = code.last, source.op == 0x20 || source.op == 0x22, source.a <= UInt16.max {
                    op = (source.op == 0x20 ? Fused.branchLocalCompareImm : Fused.branchTeeCompareImm) + kind
                    local = UInt16(source.a)
                    code.removeLast()
                }
                emitBranch(op, to: f)
                code[code.count - 1].b = prev.b << 32 | UInt64(frames[f].height)
                code[code.count - 1].c = local
            } else {
                emitBranch(Op.branchIf, to: f)
            }
            for t in types { push(t) }
        case 0x0E:
            let n = try r.count()
            var labels: [Int] = []
            for _ in 0...n { labels.append(try label(try r.u32())) }
            try pop(.i32)
            let arity = frames[labels.last!].labelTypes.count
            for l in labels where frames[l].labelTypes.count != arity {
                throw fail("type mismatch: br_table targets have different arities")
            }
            // Every target's label types must accept the operands (checked against each, then restored).
            for l in labels {
                let saved = vals
                try pop(frames[l].labelTypes)
                vals = saved
            }
            let table = tables.count
            tables.append([])
            for (e, l) in labels.enumerated() {
                let f = frames[l]
                tables[table].append(BranchTarget(pc: UInt32(f.start), keep: UInt32(f.labelTypes.count), height: UInt32(f.height)))
                if f.kind != .loop { frames[l].tableFixups.append((table, e)) }
            }
            code.append(Instruction(Op.branchTable, a: UInt32(table)))
            unreachable()
        case 0x0F:
            try pop(frames[0].results)
            code.append(Instruction(Op.ret, a: UInt32(frames[0].results.count)))
            unreachable()
        case 0x10:
            let f = try r.u32()
            guard let t = module.typeIndex(ofFunction: f) else { throw fail("unknown function \(f)") }
            let type = module.types[Int(t)]
            try pop(type.params)
            for x in type.results { push(x) }
            code.append(Instruction(0x10, a: f))
        case 0x11:
            let typeIndex = try r.u32()
            let table = try r.u32()
            guard Int(table) < tableTypes.count else { throw fail("unknown table \(table)") }
            guard tableTypes[Int(table)].element == .funcref else { throw fail("type mismatch: call_indirect needs a funcref table") }
            guard Int(typeIndex) < module.types.count else { throw fail("unknown type \(typeIndex)") }
            let type = module.types[Int(typeIndex)]
            try pop(.i32)
            try pop(type.params)
            for x in type.results { push(x) }
            code.append(Instruction(0x11, a: typeIndex, b: UInt64(table)))
        case 0x1A:
            _ = try pop()
            code.append(Instruction(0x1A))
        case 0x1B, 0x1C:
            var declared: ValueType?
            if op == 0x1C {
                guard try r.u32() == 1 else { throw fail("invalid result arity for select") }
                declared = try ModuleDecoder.valueType(&r)
            }
            try pop(.i32)
            let a = try pop(), b = try pop()
            if let declared {
                if let a, a != declared { throw fail("type mismatch in select: expected \(declared), got \(a)") }
                if let b, b != declared { throw fail("type mismatch in select: expected \(declared), got \(b)") }
                push(declared)
            } else {
                if a?.isReference == true || b?.isReference == true { throw fail("type mismatch: untyped select needs numeric operands") }
                if let a, let b, a != b { throw fail("type mismatch in select: \(b) and \(a)") }
                push(a ?? b)
            }
            code.append(Instruction(0x1B))
        case 0x20, 0x21, 0x22:
            let i = try r.u32()
            guard Int(i) < locals.count else { throw fail("unknown local \(i)") }
            let t = locals[Int(i)]
            if op == 0x20 { push(t) } else { try pop(t) }
            if op == 0x22 { push(t) }
            if let prev = fusable {
                if op != 0x20 && prev.op == 0x20 {
                    code[code.count - 1] = Instruction(op == 0x21 ? Fused.copyLocal : Fused.copyLocalPush, a: i, b: UInt64(prev.a))
                    return
                }
                if op == 0x21 && (0x41...0x44).contains(prev.op) {
                    code[code.count - 1] = Instruction(Fused.setLocalConst, a: i, b: prev.b)
                    return
                }
                if op == 0x20 && prev.op == 0x21 {
                    if code.count - 2 >= barrier, code[code.count - 2].op == Fused.setGet, prev.a <= UInt16.max {
                        let first = code[code.count - 2]
                        code.removeLast()
                        code[code.count - 1] = Instruction(Fused.setGetTwice, a: first.a, b: first.b | UInt64(i) << 32, c: UInt16(prev.a))
                        return
                    }
                    code[code.count - 1] = Instruction(Fused.setGet, a: prev.a, b: UInt64(i))
                    return
                }
            }
            code.append(Instruction(UInt16(op), a: i))
        case 0x23, 0x24:
            let i = try r.u32()
            guard Int(i) < globals.count else { throw fail("unknown global \(i)") }
            let g = globals[Int(i)]
            if op == 0x23 { push(g.value) } else {
                guard g.mutable else { throw fail("global \(i) is immutable") }
                try pop(g.value)
            }
            code.append(Instruction(UInt16(op), a: i))
        case 0x25, 0x26:
            let ti = try r.u32()
            let t = try table(ti)
            if op == 0x25 {
                try pop(.i32)
                push(t.element)
            } else {
                try pop(t.element)
                try pop(.i32)
            }
            code.append(Instruction(UInt16(op), a: ti))
        case 0x28...0x3E:
            let access = OpcodeSignatures.memoryAccess(op)!
            let align = try r.u32()
            let offset = try r.u32()
            guard hasMemory else { throw fail("unknown memory 0") }
            guard align < 32, 1 << Int(align) <= access.bytes else { throw fail("alignment must not be larger than natural") }
            if access.store {
                try pop(access.type)
                try pop(.i32)
            } else {
                try pop(.i32)
                push(access.type)
            }
            if op == 0x28, let prev = fusable, prev.op == 0x20 {
                code[code.count - 1] = Instruction(Fused.loadLocal, a: offset, b: UInt64(prev.a))
                return
            }
            if op == 0x28, let prev = fusable, prev.op == Fused.localAddImm, prev.a <= UInt16.max {
                code[code.count - 1] = Instruction(Fused.loadLocalImm, a: offset, b: prev.b, c: UInt16(prev.a))
                return
            }
            if op == 0x36 || op == 0x3A || op == 0x3B, let prev = fusable, prev.op == 0x41 {
                let width: UInt16 = op == 0x36 ? 0 : op == 0x3A ? 1 : 2
                let value = prev.b & 0xFFFF_FFFF
                if code.count - 2 >= barrier, code[code.count - 2].op == Fused.localAddImm, code[code.count - 2].a <= UInt16.max {
                    let address = code[code.count - 2]
                    code.removeLast()
                    code[code.count - 1] = Instruction(Fused.storeImmLocal32 + width, a: offset, b: (address.b & 0xFFFF_FFFF) | value << 32,
                                                       c: UInt16(address.a))
                    return
                }
                code[code.count - 1] = Instruction(Fused.storeImm32 + width, a: offset, b: value)
                return
            }
            code.append(Instruction(UInt16(op), a: offset))
        case 0x3F, 0x40:
            guard try r.byte() == 0 else { throw .malformed(offset: opAt + 1, reason: "zero byte expected") }
            guard hasMemory else { throw fail("unknown memory 0") }
            if op == 0x40 { try pop(.i32) }
            push(.i32)
            code.append(Instruction(UInt16(op)))
        case 0x41:
            push(.i32)
            code.append(Instruction(0x41, b: UInt64(UInt32(bitPattern: try r.i32()))))
        case 0x42:
            push(.i64)
            code.append(Instruction(0x42, b: UInt64(bitPattern: try r.i64())))
        case 0x43:
            push(.f32)
            code.append(Instruction(0x43, b: UInt64(try r.f32Bits())))
        case 0x44:
            push(.f64)
            code.append(Instruction(0x44, b: try r.f64Bits()))
        case 0x45...0xC4:
            let sig = OpcodeSignatures.numeric(op)!
            try pop(sig.params)
            push(sig.result)
            if sig.params == [.i32, .i32], let prev = fusable {
                if prev.op == 0x41, let (fused, k) = Fused.withImmediate(op, UInt32(truncatingIfNeeded: prev.b)) {
                    // `local.get x; i32.const k; i32.add` (address arithmetic, counters, rotations) becomes one push.
                    if let onLocal = Fused.onLocal(fused), code.count - 2 >= barrier, code[code.count - 2].op == 0x20 {
                        let local = code[code.count - 2].a
                        code.removeLast()
                        code[code.count - 1] = Instruction(onLocal, a: local, b: k)
                        return
                    }
                    code[code.count - 1] = Instruction(fused, b: k)
                    return
                }
                if op == 0x73 && (prev.op == Fused.localRotlImm || prev.op == Fused.localShrUImm) {
                    code[code.count - 1].op = prev.op == Fused.localRotlImm ? Fused.xorRotlLocalImm : Fused.xorShrULocalImm
                    return
                }
                if op == 0x6A && prev.op == 0x73 {
                    code[code.count - 1].op = Fused.xorAdd
                    return
                }
                if prev.op == 0x20, let fused = Fused.withLocal(op) {
                    // `local.get x; local.get y; i32.add`: both operands are locals.
                    if code.count - 2 >= barrier, code[code.count - 2].op == 0x20, code[code.count - 2].a <= UInt16.max,
                       let which = Fused.withLocalOrder.firstIndex(of: fused) {
                        let left = UInt16(code[code.count - 2].a)
                        code.removeLast()
                        code[code.count - 1] = Instruction(Fused.localLocal + UInt16(which), a: prev.a, c: left)
                        return
                    }
                    code[code.count - 1] = Instruction(fused, a: prev.a)
                    return
                }
            }
            code.append(Instruction(UInt16(op)))
        case 0xD0:
            let t = try ModuleDecoder.referenceType(&r)
            push(t)
            code.append(Instruction(0xD0))
        case 0xD1:
            let t = try pop()
            if let t, !t.isReference { throw fail("type mismatch: ref.is_null needs a reference, got \(t)") }
            push(.i32)
            code.append(Instruction(0xD1))
        case 0xD2:
            let f = try r.u32()
            guard Int(f) < module.functionCount else { throw fail("unknown function \(f)") }
            guard declaredFunctions.contains(f) else { throw fail("undeclared function reference \(f)") }
            push(.funcref)
            code.append(Instruction(0xD2, a: f))
        case 0xFC: try prefixed(try r.u32())
        case 0xFD: throw .malformed(offset: opAt, reason: "SIMD instructions (0xFD prefix) are not supported")
        default:
            throw .malformed(offset: opAt, reason: "illegal opcode 0x\(String(op, radix: 16))")
        }
    }

    func table(_ i: UInt32) throws(WasmError) -> TableType {
        guard Int(i) < tableTypes.count else { throw fail("unknown table \(i)") }
        return tableTypes[Int(i)]
    }

    mutating func prefixed(_ sub: UInt32) throws(WasmError) {
        let op = Op.prefixed + UInt16(truncatingIfNeeded: min(sub, 0x1F))
        switch sub {
        case 0...7:
            let sig = OpcodeSignatures.saturating(sub)!
            try pop(sig.param)
            push(sig.result)
            code.append(Instruction(op))
        case 8, 9:
            let segment = try r.u32()
            if sub == 8 { guard try r.byte() == 0 else { throw .malformed(offset: r.offset - 1, reason: "zero byte expected") } }
            guard module.dataCount != nil else { throw fail("data count section required") }
            guard Int(segment) < module.data.count || Int(segment) < Int(module.dataCount ?? 0) else { throw fail("unknown data segment \(segment)") }
            if sub == 8 {
                guard hasMemory else { throw fail("unknown memory 0") }
                try pop([.i32, .i32, .i32])
            }
            code.append(Instruction(op, a: segment))
        case 10, 11:
            guard try r.byte() == 0 else { throw .malformed(offset: r.offset - 1, reason: "zero byte expected") }
            if sub == 10 { guard try r.byte() == 0 else { throw .malformed(offset: r.offset - 1, reason: "zero byte expected") } }
            guard hasMemory else { throw fail("unknown memory 0") }
            try pop([.i32, .i32, .i32])
            code.append(Instruction(op))
        case 12:
            let segment = try r.u32()
            let ti = try r.u32()
            let t = try table(ti)
            guard Int(segment) < module.elements.count else { throw fail("unknown element segment \(segment)") }
            guard module.elements[Int(segment)].type == t.element else { throw fail("type mismatch: table.init element and table types differ") }
            try pop([.i32, .i32, .i32])
            code.append(Instruction(op, a: ti, b: UInt64(segment)))
        case 13:
            let segment = try r.u32()
            guard Int(segment) < module.elements.count else { throw fail("unknown element segment \(segment)") }
            code.append(Instruction(op, a: segment))
        case 14:
            let di = try r.u32(), si = try r.u32()
            guard try table(di).element == (try table(si)).element else { throw fail("type mismatch: table.copy between tables of different types") }
            try pop([.i32, .i32, .i32])
            code.append(Instruction(op, a: di, b: UInt64(si)))
        case 15, 16, 17:
            let ti = try r.u32()
            let t = try table(ti)
            if sub == 15 {
                try pop(.i32)
                try pop(t.element)
                push(.i32)
            } else if sub == 16 {
                push(.i32)
            } else {
                try pop(.i32)
                try pop(t.element)
                try pop(.i32)
            }
            code.append(Instruction(op, a: ti))
        default:
            throw .malformed(offset: opAt, reason: "illegal opcode 0xfc \(sub)")
        }
    }
}
