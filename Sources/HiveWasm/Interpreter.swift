/// The interpreter: one loop over translated instructions with an explicit call stack (no host recursion, so
/// depth is bounded and fuel is checked in one place). Values are 64-bit slots: i32 zero-extended, floats as bit
/// patterns, references as index + 1 (0 is null).
extension Instance {
    /// A caller's state, saved by a call and restored by the return.
    struct CallFrame {
        var function: Int
        var code: UnsafePointer<Instruction>
        var pc: Int
        var fp: Int
        var localCount: Int
    }

    /// Fuel or time has run out (a trap), or the next executed count at which to look again.
    @inline(never) static func checkpoint(_ executed: Int64, _ fuel: Int64, _ deadline: ContinuousClock.Instant?, _ every: Int64,
                           _ interrupt: WasmInterrupt?) throws(Trap) -> Int64 {
        if executed > fuel { throw .fuelExhausted }
        if interrupt?.isSet == true { throw .interrupted }
        if deadline == nil && interrupt == nil { return fuel }
        if let deadline, ContinuousClock.now >= deadline { throw .timeout }
        return Swift.min(fuel, executed + every)
    }

    /// The byte address of an access of `size` bytes at `base + offset`, or a trap when it leaves memory.
    @inline(__always) static func address(_ memSize: Int, _ base: UInt64, _ offset: UInt32, _ size: Int) throws(Trap) -> Int {
        let ea = Int(UInt32(truncatingIfNeeded: base)) &+ Int(offset)
        guard ea &+ size <= memSize else { throw .memoryOutOfBounds }
        return ea
    }

    /// A taken branch's stack: the top `keep` values (the label's arity) move down to `height` above the frame's
    /// locals (`base`), and the rest of the block's operands are dropped. Returns the new stack top.
    @inline(__always) static func land(_ s: UnsafeMutablePointer<UInt64>, sp: Int, base: Int, keep: Int, height: Int) -> Int {
        let dst = base &+ height
        if keep > 0 && dst != sp &- keep { slide(s, from: sp &- keep, to: dst, count: keep) }
        return dst &+ keep
    }

    /// Moves `count` values down the stack (a branch or return keeping its results); `to` is below `from`.
    @inline(__always) static func slide(_ s: UnsafeMutablePointer<UInt64>, from: Int, to: Int, count: Int) {
        for k in 0..<count { s[to + k] = s[from + k] }
    }

    @inline(__always) static func u32(_ v: UInt64) -> UInt32 { UInt32(truncatingIfNeeded: v) }
    @inline(__always) static func s32(_ v: UInt64) -> Int32 { Int32(truncatingIfNeeded: v) }
    @inline(__always) static func f32(_ v: UInt64) -> Float { Float(bitPattern: UInt32(truncatingIfNeeded: v)) }
    @inline(__always) static func f64(_ v: UInt64) -> Double { Double(bitPattern: v) }
    @inline(__always) static func of(_ v: UInt32) -> UInt64 { UInt64(v) }
    @inline(__always) static func of(_ v: Int32) -> UInt64 { UInt64(UInt32(bitPattern: v)) }
    @inline(__always) static func of(_ v: Float) -> UInt64 { UInt64(v.bitPattern) }
    @inline(__always) static func of(_ v: Double) -> UInt64 { v.bitPattern }
    @inline(__always) static func of(_ v: Bool) -> UInt64 { v ? 1 : 0 }

    /// Runs function `index` (imports first in the index space) with `args`; returns its results.
    public func invoke(_ index: Int, _ args: [UInt64]) throws(Trap) -> [UInt64] {
        let type = functionType(index)
        guard args.count == type.params.count else { throw .host("function \(index) takes \(type.params.count) arguments, got \(args.count)") }
        if index < importCount {
            let results = try callHost(index, args, fuelLeft: limits.fuel.map { $0 &- fuelUsed } ?? .max)
            fuelUsed &+= charged
            charged = 0
            return results
        }
        let s = stack
        for (i, a) in args.enumerated() { s[i] = a }
        // The call-frame stack: preallocated, so a call is two stores and a return two loads.
        let depthLimit = limits.maxCallDepth
        let frames = UnsafeMutablePointer<CallFrame>.allocate(capacity: depthLimit + 1)
        defer { frames.deallocate() }
        var depth = 0
        var fn = index - importCount
        let entries = UnsafePointer(self.entries.baseAddress!)
        let stackLimit = limits.maxStackSlots
        var code = UnsafePointer(entries[fn].code)
        var pc = 0
        var fp = 0
        var sp = try enter(entries[fn], fp: 0, limit: stackLimit)
        var localCount = entries[fn].locals
        var mem = memory
        var memSize = memoryBytes
        let fuel = limits.fuel.map { $0 - fuelUsed } ?? .max
        let deadline = limits.timeoutMillis.map { ContinuousClock.now + .milliseconds($0) }
        // One compare at each branch and call covers both limits: past `checkAt`, look at fuel and the clock.
        let clockEvery: Int64 = 1 << 20
        let interrupt = limits.interrupt
        var checkAt = deadline == nil && interrupt == nil ? fuel : Swift.min(fuel, clockEvery)
        var executed: Int64 = 0
        defer { fuelUsed += executed }


        while true {
            let ins = code[pc]
            pc &+= 1
            executed &+= 1
            switch ins.op {
            // Control
            case 0x00: throw .unreachable
            case 0x06:  // Op.branch
                if executed > checkAt { checkAt = try Self.checkpoint(executed, fuel, deadline, clockEvery, interrupt) }
                sp = Self.land(s, sp: sp, base: fp &+ localCount, keep: Int(ins.b >> 32), height: Int(ins.b & 0xFFFF_FFFF))
                pc = Int(ins.a)
            case 0x07:  // Op.branchIf
                sp &-= 1
                if Self.u32(s[sp]) != 0 {
                    if executed > checkAt { checkAt = try Self.checkpoint(executed, fuel, deadline, clockEvery, interrupt) }
                    sp = Self.land(s, sp: sp, base: fp &+ localCount, keep: Int(ins.b >> 32), height: Int(ins.b & 0xFFFF_FFFF))
                    pc = Int(ins.a)
                }
            case 0xD6:  // Fused.branchIfZero
                executed &+= 1  // fuel counts WebAssembly instructions: a fused pair is two
                sp &-= 1
                if Self.u32(s[sp]) == 0 {
                    if executed > checkAt { checkAt = try Self.checkpoint(executed, fuel, deadline, clockEvery, interrupt) }
                    sp = Self.land(s, sp: sp, base: fp &+ localCount, keep: Int(ins.b >> 32), height: Int(ins.b & 0xFFFF_FFFF))
                    pc = Int(ins.a)
                }
            case 0x10C...0x115:  // Fused.branchCompareImm + kind: the operand is popped
                executed &+= 2
                sp &-= 1
                if Fused.holds(ins.op &- Fused.branchCompareImm, Self.u32(s[sp]), UInt32(truncatingIfNeeded: ins.b >> 32)) {
                    if executed > checkAt { checkAt = try Self.checkpoint(executed, fuel, deadline, clockEvery, interrupt) }
                    sp = fp &+ localCount &+ Int(ins.b & 0xFFFF_FFFF)
                    pc = Int(ins.a)
                }
            case 0x116...0x11F:  // Fused.branchLocalCompareImm + kind: the operand is local c
                executed &+= 3
                if Fused.holds(ins.op &- Fused.branchLocalCompareImm, Self.u32(s[fp &+ Int(ins.c)]), UInt32(truncatingIfNeeded: ins.b >> 32)) {
                    if executed > checkAt { checkAt = try Self.checkpoint(executed, fuel, deadline, clockEvery, interrupt) }
                    sp = fp &+ localCount &+ Int(ins.b & 0xFFFF_FFFF)
                    pc = Int(ins.a)
                }
            case 0x120...0x129:  // Fused.branchTeeCompareImm + kind: the operand is popped and stored to local c
                executed &+= 3
                sp &-= 1
                let v = s[sp]
                s[fp &+ Int(ins.c)] = v
                if Fused.holds(ins.op &- Fused.branchTeeCompareImm, Self.u32(v), UInt32(truncatingIfNeeded: ins.b >> 32)) {
                    if executed > checkAt { checkAt = try Self.checkpoint(executed, fuel, deadline, clockEvery, interrupt) }
                    sp = fp &+ localCount &+ Int(ins.b & 0xFFFF_FFFF)
                    pc = Int(ins.a)
                }
            // Fused i32 operations (see Superinstructions.swift): the right operand is an immediate or a local.
            case 0x12:
                executed &+= 1
                s[sp &- 1] = UInt64(Self.u32(s[sp &- 1]) &+ UInt32(truncatingIfNeeded: ins.b))
            case 0x13:
                executed &+= 1
                s[sp &- 1] &= ins.b
            case 0x14:
                executed &+= 1
                s[sp &- 1] |= ins.b
            case 0x15:
                executed &+= 1
                s[sp &- 1] ^= ins.b
            case 0x16:
                executed &+= 1
                s[sp &- 1] = UInt64(Self.u32(s[sp &- 1]) << UInt32(ins.b))
            case 0x17:
                executed &+= 1
                s[sp &- 1] = UInt64(Self.u32(s[sp &- 1]) >> UInt32(ins.b))
            case 0x18:
                executed &+= 1
                s[sp &- 1] = UInt64(UInt32(bitPattern: Self.s32(s[sp &- 1]) >> Int32(ins.b)))
            case 0x19:
                executed &+= 1  // fuel counts WebAssembly instructions: a fused pair is two
                let a = Self.u32(s[sp &- 1]), k = UInt32(ins.b)
                s[sp &- 1] = UInt64(a << k | a >> ((32 &- k) & 31))
            case 0x1D:
                executed &+= 1
                s[sp &- 1] = Self.of(Self.u32(s[sp &- 1]) == UInt32(ins.b))
            case 0x1E:
                executed &+= 1
                s[sp &- 1] = Self.of(Self.u32(s[sp &- 1]) != UInt32(ins.b))
            case 0x1F:
                executed &+= 1
                s[sp &- 1] = Self.of(Self.s32(s[sp &- 1]) < Int32(bitPattern: UInt32(ins.b)))
            case 0x27:
                executed &+= 1
                s[sp &- 1] = Self.of(Self.u32(s[sp &- 1]) < UInt32(ins.b))
            case 0xC5:
                executed &+= 1
                s[sp &- 1] = Self.of(Self.s32(s[sp &- 1]) > Int32(bitPattern: UInt32(ins.b)))
            case 0xC6:
                executed &+= 1
                s[sp &- 1] = Self.of(Self.u32(s[sp &- 1]) > UInt32(ins.b))
            case 0xC7:
                executed &+= 1
                s[sp &- 1] = Self.of(Self.s32(s[sp &- 1]) <= Int32(bitPattern: UInt32(ins.b)))
            case 0xC8:
                executed &+= 1
                s[sp &- 1] = Self.of(Self.u32(s[sp &- 1]) <= UInt32(ins.b))
            case 0xC9:
                executed &+= 1
                s[sp &- 1] = Self.of(Self.s32(s[sp &- 1]) >= Int32(bitPattern: UInt32(ins.b)))
            case 0xCA:
                executed &+= 1
                s[sp &- 1] = Self.of(Self.u32(s[sp &- 1]) >= UInt32(ins.b))
            case 0xCB:
                executed &+= 1
                s[sp &- 1] = UInt64(Self.u32(s[sp &- 1]) &* UInt32(ins.b))
            case 0xCC:
                executed &+= 1
                s[sp &- 1] = UInt64(Self.u32(s[sp &- 1]) &+ Self.u32(s[fp &+ Int(ins.a)]))
            case 0xCD:
                executed &+= 1
                s[sp &- 1] = UInt64(Self.u32(s[sp &- 1]) &- Self.u32(s[fp &+ Int(ins.a)]))
            case 0xCE:
                executed &+= 1
                s[sp &- 1] &= s[fp &+ Int(ins.a)] & 0xFFFF_FFFF
            case 0xCF:
                executed &+= 1
                s[sp &- 1] ^= s[fp &+ Int(ins.a)] & 0xFFFF_FFFF
            case 0xD3:
                executed &+= 1
                s[sp &- 1] |= s[fp &+ Int(ins.a)] & 0xFFFF_FFFF
            case 0xD4:
                executed &+= 1
                s[sp &- 1] = UInt64(Self.u32(s[sp &- 1]) &* Self.u32(s[fp &+ Int(ins.a)]))
            case 0xD7:
                executed &+= 2
                s[sp] = UInt64(Self.u32(s[fp &+ Int(ins.a)]) &+ UInt32(truncatingIfNeeded: ins.b))
                sp &+= 1
            // Fused local moves and local-with-immediate pushes.
            case 0x100:
                executed &+= 1
                s[fp &+ Int(ins.a)] = s[fp &+ Int(ins.b)]
            case 0x101:
                executed &+= 1
                let v = s[fp &+ Int(ins.b)]
                s[fp &+ Int(ins.a)] = v
                s[sp] = v
                sp &+= 1
            case 0x102:
                executed &+= 1
                s[fp &+ Int(ins.a)] = ins.b
            case 0x103:
                executed &+= 1
                s[fp &+ Int(ins.a)] = s[sp &- 1]
                s[sp &- 1] = s[fp &+ Int(ins.b)]
            case 0x104:
                executed &+= 2
                let a = Self.u32(s[fp &+ Int(ins.a)]), k = UInt32(truncatingIfNeeded: ins.b)
                s[sp] = UInt64(a << k | a >> ((32 &- k) & 31))
                sp &+= 1
            case 0x105:
                executed &+= 2
                s[sp] = UInt64(Self.u32(s[fp &+ Int(ins.a)]) >> UInt32(truncatingIfNeeded: ins.b))
                sp &+= 1
            case 0x106:
                executed &+= 2
                s[sp] = UInt64(UInt32(bitPattern: Self.s32(s[fp &+ Int(ins.a)]) >> Int32(truncatingIfNeeded: ins.b)))
                sp &+= 1
            case 0x107:
                executed &+= 2
                s[sp] = UInt64(Self.u32(s[fp &+ Int(ins.a)]) << UInt32(truncatingIfNeeded: ins.b))
                sp &+= 1
            case 0x108:
                executed &+= 2
                s[sp] = s[fp &+ Int(ins.a)] & ins.b & 0xFFFF_FFFF
                sp &+= 1
            case 0x109:
                executed &+= 2
                s[sp] = (s[fp &+ Int(ins.a)] | ins.b) & 0xFFFF_FFFF
                sp &+= 1
            case 0x10A:
                executed &+= 2
                s[sp] = (s[fp &+ Int(ins.a)] ^ ins.b) & 0xFFFF_FFFF
                sp &+= 1
            case 0x10B:
                executed &+= 2
                s[sp] = UInt64(Self.u32(s[fp &+ Int(ins.a)]) &* UInt32(truncatingIfNeeded: ins.b))
                sp &+= 1
            case 0x12A:
                executed &+= 3
                let base = UInt64(Self.u32(s[fp &+ Int(ins.c)]) &+ UInt32(truncatingIfNeeded: ins.b))
                s[sp] = Self.of(mem.loadUnaligned(fromByteOffset: try Self.address(memSize, base, ins.a, 4), as: UInt32.self))
                sp &+= 1
            case 0x12B...0x130:  // Fused.localLocal + withLocalOrder index
                executed &+= 2
                let l = Self.u32(s[fp &+ Int(ins.c)]), r = Self.u32(s[fp &+ Int(ins.a)])
                let v: UInt32
                switch ins.op &- Fused.localLocal {
                case 0: v = l &+ r
                case 1: v = l &- r
                case 2: v = l &* r
                case 3: v = l & r
                case 4: v = l | r
                default: v = l ^ r
                }
                s[sp] = UInt64(v)
                sp &+= 1
            case 0x131:
                executed &+= 3
                let a = Self.u32(s[fp &+ Int(ins.a)]), k = UInt32(truncatingIfNeeded: ins.b)
                s[sp &- 1] ^= UInt64(a << k | a >> ((32 &- k) & 31))
            case 0x132:
                executed &+= 3
                s[sp &- 1] ^= UInt64(Self.u32(s[fp &+ Int(ins.a)]) >> UInt32(truncatingIfNeeded: ins.b))
            case 0x133:
                executed &+= 3
                s[fp &+ Int(ins.a)] = s[sp &- 1]
                s[fp &+ Int(ins.c)] = s[fp &+ Int(ins.b & 0xFFFF_FFFF)]
                s[sp &- 1] = s[fp &+ Int(ins.b >> 32)]
            case 0x134:
                executed &+= 1
                sp &-= 2
                s[sp &- 1] = UInt64(Self.u32(s[sp &- 1]) &+ (Self.u32(s[sp]) ^ Self.u32(s[sp &+ 1])))
            case 0x135:
                executed &+= 1
                sp &-= 1
                mem.storeBytes(of: UInt32(truncatingIfNeeded: ins.b), toByteOffset: try Self.address(memSize, s[sp], ins.a, 4), as: UInt32.self)
            case 0x136:
                executed &+= 1
                sp &-= 1
                mem.storeBytes(of: UInt8(truncatingIfNeeded: ins.b), toByteOffset: try Self.address(memSize, s[sp], ins.a, 1), as: UInt8.self)
            case 0x137:
                executed &+= 1
                sp &-= 1
                mem.storeBytes(of: UInt16(truncatingIfNeeded: ins.b), toByteOffset: try Self.address(memSize, s[sp], ins.a, 2), as: UInt16.self)
            case 0x138:
                executed &+= 4
                let base = UInt64(Self.u32(s[fp &+ Int(ins.c)]) &+ UInt32(truncatingIfNeeded: ins.b))
                mem.storeBytes(of: UInt32(truncatingIfNeeded: ins.b >> 32), toByteOffset: try Self.address(memSize, base, ins.a, 4), as: UInt32.self)
            case 0x139:
                executed &+= 4
                let base = UInt64(Self.u32(s[fp &+ Int(ins.c)]) &+ UInt32(truncatingIfNeeded: ins.b))
                mem.storeBytes(of: UInt8(truncatingIfNeeded: ins.b >> 32), toByteOffset: try Self.address(memSize, base, ins.a, 1), as: UInt8.self)
            case 0x13A:
                executed &+= 4
                let base = UInt64(Self.u32(s[fp &+ Int(ins.c)]) &+ UInt32(truncatingIfNeeded: ins.b))
                mem.storeBytes(of: UInt16(truncatingIfNeeded: ins.b >> 32), toByteOffset: try Self.address(memSize, base, ins.a, 2), as: UInt16.self)
            case 0xD5:
                executed &+= 1  // fuel counts WebAssembly instructions: a fused pair is two
                s[sp] = Self.of(mem.loadUnaligned(fromByteOffset: try Self.address(memSize, s[fp &+ Int(ins.b)], ins.a, 4), as: UInt32.self))
                sp &+= 1
            case 0x08:  // Op.branchUnless
                sp &-= 1
                if Self.u32(s[sp]) == 0 { pc = Int(ins.a) }
            case 0x09:  // Op.branchTable
                if executed > checkAt { checkAt = try Self.checkpoint(executed, fuel, deadline, clockEvery, interrupt) }
                sp &-= 1
                let table = functions[fn].tables[Int(ins.a)]
                let i = Int(Self.u32(s[sp]))
                let t = table[i < table.count - 1 ? i : table.count - 1]
                sp = Self.land(s, sp: sp, base: fp &+ localCount, keep: Int(t.keep), height: Int(t.height))
                pc = Int(t.pc)
            case 0x0A:  // Op.ret
                let keep = Int(ins.a)
                if keep > 0 && fp != sp - keep { Self.slide(s, from: sp - keep, to: fp, count: keep) }
                sp = fp + keep
                guard depth > 0 else {
                    return Array(UnsafeBufferPointer(start: s + fp, count: keep))
                }
                depth &-= 1
                let caller = frames[depth]
                fn = caller.function
                localCount = caller.localCount
                code = caller.code
                pc = caller.pc
                fp = caller.fp
            case 0x10:
                if executed > checkAt { checkAt = try Self.checkpoint(executed, fuel, deadline, clockEvery, interrupt) }
                let callee = Int(ins.a) &- importCount
                if callee >= 0 {
                    guard depth < depthLimit else { throw .callStackExhausted }
                    frames[depth] = CallFrame(function: fn, code: code, pc: pc, fp: fp, localCount: localCount)
                    depth &+= 1
                    fn = callee
                    let e = entries[callee]
                    localCount = e.locals
                    code = UnsafePointer(e.code)
                    fp = sp &- e.params
                    sp = try enter(e, fp: fp, limit: stackLimit)
                    pc = 0
                    continue
                }
                sp = try callHost(Int(ins.a), s: s, sp: sp, fuelLeft: fuel &- executed)
                mem = memory
                memSize = memoryBytes
                // A host call's work is charged to fuel, and the clock and interrupt are looked at after every one.
                executed &+= charged
                charged = 0
                checkAt = try Self.checkpoint(executed, fuel, deadline, clockEvery, interrupt)
            case 0x11:
                if executed > checkAt { checkAt = try Self.checkpoint(executed, fuel, deadline, clockEvery, interrupt) }
                sp &-= 1
                let i = Int(Self.u32(s[sp]))
                let table = tables[Int(ins.b)]
                guard i < table.count else { throw .undefinedElement }
                guard table[i] != 0 else { throw .uninitializedElement }
                let callee = Int(table[i] - 1)
                guard typeIDs[callee] == canonicalTypes[Int(ins.a)] else { throw .indirectCallTypeMismatch }
                if callee < importCount {
                    sp = try callHost(callee, s: s, sp: sp, fuelLeft: fuel &- executed)
                    mem = memory
                    memSize = memoryBytes
                    executed &+= charged
                    charged = 0
                    checkAt = try Self.checkpoint(executed, fuel, deadline, clockEvery, interrupt)
                    continue
                }
                guard depth < depthLimit else { throw .callStackExhausted }
                frames[depth] = CallFrame(function: fn, code: code, pc: pc, fp: fp, localCount: localCount)
                depth &+= 1
                fn = callee &- importCount
                let e = entries[fn]
                localCount = e.locals
                code = UnsafePointer(e.code)
                fp = sp &- e.params
                sp = try enter(e, fp: fp, limit: stackLimit)
                pc = 0
            // Parametric and variables
            case 0x1A: sp &-= 1
            case 0x1B:
                sp &-= 2
                if Self.u32(s[sp &+ 1]) == 0 { s[sp &- 1] = s[sp] }
            case 0x20:
                s[sp] = s[fp &+ Int(ins.a)]
                sp &+= 1
            case 0x21:
                sp &-= 1
                s[fp &+ Int(ins.a)] = s[sp]
            case 0x22: s[fp &+ Int(ins.a)] = s[sp &- 1]
            case 0x23:
                s[sp] = globals[Int(ins.a)]
                sp &+= 1
            case 0x24:
                sp &-= 1
                globals[Int(ins.a)] = s[sp]
            case 0x25:
                let i = Int(Self.u32(s[sp &- 1]))
                guard i < tables[Int(ins.a)].count else { throw .tableOutOfBounds }
                s[sp &- 1] = tables[Int(ins.a)][i]
            case 0x26:
                sp &-= 2
                let i = Int(Self.u32(s[sp]))
                guard i < tables[Int(ins.a)].count else { throw .tableOutOfBounds }
                tables[Int(ins.a)][i] = s[sp &+ 1]
            // Memory
            case 0x28: s[sp &- 1] = Self.of(mem.loadUnaligned(fromByteOffset: try Self.address(memSize, s[sp &- 1], ins.a, 4), as: UInt32.self))
            case 0x29: s[sp &- 1] = mem.loadUnaligned(fromByteOffset: try Self.address(memSize, s[sp &- 1], ins.a, 8), as: UInt64.self)
            case 0x2A: s[sp &- 1] = Self.of(mem.loadUnaligned(fromByteOffset: try Self.address(memSize, s[sp &- 1], ins.a, 4), as: UInt32.self))
            case 0x2B: s[sp &- 1] = mem.loadUnaligned(fromByteOffset: try Self.address(memSize, s[sp &- 1], ins.a, 8), as: UInt64.self)
            case 0x2C: s[sp &- 1] = Self.of(Int32(mem.load(fromByteOffset: try Self.address(memSize, s[sp &- 1], ins.a, 1), as: Int8.self)))
            case 0x2D: s[sp &- 1] = UInt64(mem.load(fromByteOffset: try Self.address(memSize, s[sp &- 1], ins.a, 1), as: UInt8.self))
            case 0x2E: s[sp &- 1] = Self.of(Int32(mem.loadUnaligned(fromByteOffset: try Self.address(memSize, s[sp &- 1], ins.a, 2), as: Int16.self)))
            case 0x2F: s[sp &- 1] = UInt64(mem.loadUnaligned(fromByteOffset: try Self.address(memSize, s[sp &- 1], ins.a, 2), as: UInt16.self))
            case 0x30: s[sp &- 1] = UInt64(bitPattern: Int64(mem.load(fromByteOffset: try Self.address(memSize, s[sp &- 1], ins.a, 1), as: Int8.self)))
            case 0x31: s[sp &- 1] = UInt64(mem.load(fromByteOffset: try Self.address(memSize, s[sp &- 1], ins.a, 1), as: UInt8.self))
            case 0x32: s[sp &- 1] = UInt64(bitPattern: Int64(mem.loadUnaligned(fromByteOffset: try Self.address(memSize, s[sp &- 1], ins.a, 2), as: Int16.self)))
            case 0x33: s[sp &- 1] = UInt64(mem.loadUnaligned(fromByteOffset: try Self.address(memSize, s[sp &- 1], ins.a, 2), as: UInt16.self))
            case 0x34: s[sp &- 1] = UInt64(bitPattern: Int64(mem.loadUnaligned(fromByteOffset: try Self.address(memSize, s[sp &- 1], ins.a, 4), as: Int32.self)))
            case 0x35: s[sp &- 1] = UInt64(mem.loadUnaligned(fromByteOffset: try Self.address(memSize, s[sp &- 1], ins.a, 4), as: UInt32.self))
            case 0x36, 0x38:
                sp &-= 2
                mem.storeBytes(of: Self.u32(s[sp &+ 1]), toByteOffset: try Self.address(memSize, s[sp], ins.a, 4), as: UInt32.self)
            case 0x37, 0x39:
                sp &-= 2
                mem.storeBytes(of: s[sp &+ 1], toByteOffset: try Self.address(memSize, s[sp], ins.a, 8), as: UInt64.self)
            case 0x3A, 0x3C:
                sp &-= 2
                mem.storeBytes(of: UInt8(truncatingIfNeeded: s[sp &+ 1]), toByteOffset: try Self.address(memSize, s[sp], ins.a, 1), as: UInt8.self)
            case 0x3B, 0x3D:
                sp &-= 2
                mem.storeBytes(of: UInt16(truncatingIfNeeded: s[sp &+ 1]), toByteOffset: try Self.address(memSize, s[sp], ins.a, 2), as: UInt16.self)
            case 0x3E:
                sp &-= 2
                mem.storeBytes(of: UInt32(truncatingIfNeeded: s[sp &+ 1]), toByteOffset: try Self.address(memSize, s[sp], ins.a, 4), as: UInt32.self)
            case 0x3F:
                s[sp] = UInt64(memoryBytes / 65_536)
                sp &+= 1
            case 0x40:
                s[sp &- 1] = Self.of(grow(by: Self.u32(s[sp &- 1])))
                mem = memory
                memSize = memoryBytes
            // Constants
            case 0x41, 0x42, 0x43, 0x44:
                s[sp] = ins.b
                sp &+= 1
            // i32 comparisons
            case 0x45: s[sp &- 1] = Self.of(Self.u32(s[sp &- 1]) == 0)
            case 0x46:
                sp &-= 1
                let a = Self.u32(s[sp &- 1]), b = Self.u32(s[sp])
                s[sp &- 1] = Self.of(a == b)
            case 0x47:
                sp &-= 1
                let a = Self.u32(s[sp &- 1]), b = Self.u32(s[sp])
                s[sp &- 1] = Self.of(a != b)
            case 0x48:
                sp &-= 1
                let a = Self.u32(s[sp &- 1]), b = Self.u32(s[sp])
                s[sp &- 1] = Self.of(Int32(bitPattern: a) < Int32(bitPattern: b))
            case 0x49:
                sp &-= 1
                let a = Self.u32(s[sp &- 1]), b = Self.u32(s[sp])
                s[sp &- 1] = Self.of(a < b)
            case 0x4A:
                sp &-= 1
                let a = Self.u32(s[sp &- 1]), b = Self.u32(s[sp])
                s[sp &- 1] = Self.of(Int32(bitPattern: a) > Int32(bitPattern: b))
            case 0x4B:
                sp &-= 1
                let a = Self.u32(s[sp &- 1]), b = Self.u32(s[sp])
                s[sp &- 1] = Self.of(a > b)
            case 0x4C:
                sp &-= 1
                let a = Self.u32(s[sp &- 1]), b = Self.u32(s[sp])
                s[sp &- 1] = Self.of(Int32(bitPattern: a) <= Int32(bitPattern: b))
            case 0x4D:
                sp &-= 1
                let a = Self.u32(s[sp &- 1]), b = Self.u32(s[sp])
                s[sp &- 1] = Self.of(a <= b)
            case 0x4E:
                sp &-= 1
                let a = Self.u32(s[sp &- 1]), b = Self.u32(s[sp])
                s[sp &- 1] = Self.of(Int32(bitPattern: a) >= Int32(bitPattern: b))
            case 0x4F:
                sp &-= 1
                let a = Self.u32(s[sp &- 1]), b = Self.u32(s[sp])
                s[sp &- 1] = Self.of(a >= b)
            case 0x50: s[sp &- 1] = Self.of(s[sp &- 1] == 0)
            case 0x51:
                sp &-= 1
                let a = s[sp &- 1], b = s[sp]
                s[sp &- 1] = Self.of(a == b)
            case 0x52:
                sp &-= 1
                let a = s[sp &- 1], b = s[sp]
                s[sp &- 1] = Self.of(a != b)
            case 0x53:
                sp &-= 1
                let a = s[sp &- 1], b = s[sp]
                s[sp &- 1] = Self.of(Int64(bitPattern: a) < Int64(bitPattern: b))
            case 0x54:
                sp &-= 1
                let a = s[sp &- 1], b = s[sp]
                s[sp &- 1] = Self.of(a < b)
            case 0x55:
                sp &-= 1
                let a = s[sp &- 1], b = s[sp]
                s[sp &- 1] = Self.of(Int64(bitPattern: a) > Int64(bitPattern: b))
            case 0x56:
                sp &-= 1
                let a = s[sp &- 1], b = s[sp]
                s[sp &- 1] = Self.of(a > b)
            case 0x57:
                sp &-= 1
                let a = s[sp &- 1], b = s[sp]
                s[sp &- 1] = Self.of(Int64(bitPattern: a) <= Int64(bitPattern: b))
            case 0x58:
                sp &-= 1
                let a = s[sp &- 1], b = s[sp]
                s[sp &- 1] = Self.of(a <= b)
            case 0x59:
                sp &-= 1
                let a = s[sp &- 1], b = s[sp]
                s[sp &- 1] = Self.of(Int64(bitPattern: a) >= Int64(bitPattern: b))
            case 0x5A:
                sp &-= 1
                let a = s[sp &- 1], b = s[sp]
                s[sp &- 1] = Self.of(a >= b)
            case 0x5B, 0x5C, 0x5D, 0x5E, 0x5F, 0x60:
                sp &-= 1
                s[sp &- 1] = Self.of(FloatOps.compare(ins.op &- 0x5B, Self.f32(s[sp &- 1]), Self.f32(s[sp])))
            case 0x61, 0x62, 0x63, 0x64, 0x65, 0x66:
                sp &-= 1
                s[sp &- 1] = Self.of(FloatOps.compare(ins.op &- 0x61, Self.f64(s[sp &- 1]), Self.f64(s[sp])))
            // i32 arithmetic
            case 0x67: s[sp &- 1] = UInt64(Self.u32(s[sp &- 1]).leadingZeroBitCount)
            case 0x68: s[sp &- 1] = UInt64(Self.u32(s[sp &- 1]).trailingZeroBitCount)
            case 0x69: s[sp &- 1] = UInt64(Self.u32(s[sp &- 1]).nonzeroBitCount)
            case 0x6A:
                sp &-= 1
                let a = Self.u32(s[sp &- 1]), b = Self.u32(s[sp])
                s[sp &- 1] = UInt64(a &+ b)
            case 0x6B:
                sp &-= 1
                let a = Self.u32(s[sp &- 1]), b = Self.u32(s[sp])
                s[sp &- 1] = UInt64(a &- b)
            case 0x6C:
                sp &-= 1
                let a = Self.u32(s[sp &- 1]), b = Self.u32(s[sp])
                s[sp &- 1] = UInt64(a &* b)
            case 0x71:
                sp &-= 1
                let a = Self.u32(s[sp &- 1]), b = Self.u32(s[sp])
                s[sp &- 1] = UInt64(a & b)
            case 0x72:
                sp &-= 1
                let a = Self.u32(s[sp &- 1]), b = Self.u32(s[sp])
                s[sp &- 1] = UInt64(a | b)
            case 0x73:
                sp &-= 1
                let a = Self.u32(s[sp &- 1]), b = Self.u32(s[sp])
                s[sp &- 1] = UInt64(a ^ b)
            case 0x74:
                sp &-= 1
                let a = Self.u32(s[sp &- 1]), b = Self.u32(s[sp])
                s[sp &- 1] = UInt64(a << (b & 31))
            case 0x75:
                sp &-= 1
                let a = Self.u32(s[sp &- 1]), b = Self.u32(s[sp])
                s[sp &- 1] = UInt64(UInt32(bitPattern: Int32(bitPattern: a) >> Int32(b & 31)))
            case 0x76:
                sp &-= 1
                let a = Self.u32(s[sp &- 1]), b = Self.u32(s[sp])
                s[sp &- 1] = UInt64(a >> (b & 31))
            case 0x77:
                sp &-= 1
                let a = Self.u32(s[sp &- 1]), b = Self.u32(s[sp])
                s[sp &- 1] = UInt64(a << (b & 31) | a >> ((32 - (b & 31)) & 31))
            case 0x78:
                sp &-= 1
                let a = Self.u32(s[sp &- 1]), b = Self.u32(s[sp])
                s[sp &- 1] = UInt64(a >> (b & 31) | a << ((32 - (b & 31)) & 31))
            case 0x6D, 0x6E, 0x6F, 0x70:
                sp &-= 1
                let a = Self.u32(s[sp &- 1]), b = Self.u32(s[sp])
                guard b != 0 else { throw .integerDivideByZero }
                let r: UInt32
                switch ins.op {
                case 0x6D:
                    guard !(a == 0x8000_0000 && b == 0xFFFF_FFFF) else { throw .integerOverflow }
                    r = UInt32(bitPattern: Int32(bitPattern: a) / Int32(bitPattern: b))
                case 0x6E: r = a / b
                case 0x6F: r = b == 0xFFFF_FFFF ? 0 : UInt32(bitPattern: Int32(bitPattern: a) % Int32(bitPattern: b))
                default: r = a % b
                }
                s[sp &- 1] = UInt64(r)
            // i64 arithmetic
            case 0x79: s[sp &- 1] = UInt64(s[sp &- 1].leadingZeroBitCount)
            case 0x7A: s[sp &- 1] = UInt64(s[sp &- 1].trailingZeroBitCount)
            case 0x7B: s[sp &- 1] = UInt64(s[sp &- 1].nonzeroBitCount)
            case 0x7C:
                sp &-= 1
                let a = s[sp &- 1], b = s[sp]
                s[sp &- 1] = a &+ b
            case 0x7D:
                sp &-= 1
                let a = s[sp &- 1], b = s[sp]
                s[sp &- 1] = a &- b
            case 0x7E:
                sp &-= 1
                let a = s[sp &- 1], b = s[sp]
                s[sp &- 1] = a &* b
            case 0x83:
                sp &-= 1
                let a = s[sp &- 1], b = s[sp]
                s[sp &- 1] = a & b
            case 0x84:
                sp &-= 1
                let a = s[sp &- 1], b = s[sp]
                s[sp &- 1] = a | b
            case 0x85:
                sp &-= 1
                let a = s[sp &- 1], b = s[sp]
                s[sp &- 1] = a ^ b
            case 0x86:
                sp &-= 1
                let a = s[sp &- 1], b = s[sp]
                s[sp &- 1] = a << (b & 63)
            case 0x87:
                sp &-= 1
                let a = s[sp &- 1], b = s[sp]
                s[sp &- 1] = UInt64(bitPattern: Int64(bitPattern: a) >> Int64(b & 63))
            case 0x88:
                sp &-= 1
                let a = s[sp &- 1], b = s[sp]
                s[sp &- 1] = a >> (b & 63)
            case 0x89:
                sp &-= 1
                let a = s[sp &- 1], b = s[sp]
                s[sp &- 1] = a << (b & 63) | a >> ((64 - (b & 63)) & 63)
            case 0x8A:
                sp &-= 1
                let a = s[sp &- 1], b = s[sp]
                s[sp &- 1] = a >> (b & 63) | a << ((64 - (b & 63)) & 63)
            case 0x7F, 0x80, 0x81, 0x82:
                sp &-= 1
                let a = s[sp &- 1], b = s[sp]
                guard b != 0 else { throw .integerDivideByZero }
                switch ins.op {
                case 0x7F:
                    guard !(a == 0x8000_0000_0000_0000 && b == .max) else { throw .integerOverflow }
                    s[sp &- 1] = UInt64(bitPattern: Int64(bitPattern: a) / Int64(bitPattern: b))
                case 0x80: s[sp &- 1] = a / b
                case 0x81: s[sp &- 1] = b == .max ? 0 : UInt64(bitPattern: Int64(bitPattern: a) % Int64(bitPattern: b))
                default: s[sp &- 1] = a % b
                }
            // f32
            case 0x8B: s[sp &- 1] &= 0x7FFF_FFFF
            case 0x8C: s[sp &- 1] ^= 0x8000_0000
            case 0x8D, 0x8E, 0x8F, 0x90, 0x91: s[sp &- 1] = Self.of(FloatOps.unary(ins.op &- 0x8D, Self.f32(s[sp &- 1])))
            case 0x92, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98:
                sp &-= 1
                s[sp &- 1] = Self.of(FloatOps.binary(ins.op &- 0x92, Self.f32(s[sp &- 1]), Self.f32(s[sp])))
            // f64
            case 0x99: s[sp &- 1] &= 0x7FFF_FFFF_FFFF_FFFF
            case 0x9A: s[sp &- 1] ^= 0x8000_0000_0000_0000
            case 0x9B, 0x9C, 0x9D, 0x9E, 0x9F: s[sp &- 1] = Self.of(FloatOps.unary(ins.op &- 0x9B, Self.f64(s[sp &- 1])))
            case 0xA0, 0xA1, 0xA2, 0xA3, 0xA4, 0xA5, 0xA6:
                sp &-= 1
                s[sp &- 1] = Self.of(FloatOps.binary(ins.op &- 0xA0, Self.f64(s[sp &- 1]), Self.f64(s[sp])))
            // Conversions
            case 0xA7: s[sp &- 1] &= 0xFFFF_FFFF
            case 0xA8: s[sp &- 1] = Self.of(Int32(try FloatOps.truncate(Double(Self.f32(s[sp &- 1])), lo: -FloatOps.two31, hi: FloatOps.two31)))
            case 0xA9: s[sp &- 1] = Self.of(UInt32(try FloatOps.truncate(Double(Self.f32(s[sp &- 1])), lo: -0.0, hi: FloatOps.two32)))
            case 0xAA: s[sp &- 1] = Self.of(Int32(try FloatOps.truncate(Self.f64(s[sp &- 1]), lo: -FloatOps.two31, hi: FloatOps.two31)))
            case 0xAB: s[sp &- 1] = Self.of(UInt32(try FloatOps.truncate(Self.f64(s[sp &- 1]), lo: -0.0, hi: FloatOps.two32)))
            case 0xAC: s[sp &- 1] = UInt64(bitPattern: Int64(Self.s32(s[sp &- 1])))
            case 0xAD: s[sp &- 1] &= 0xFFFF_FFFF
            case 0xAE: s[sp &- 1] = UInt64(bitPattern: Int64(try FloatOps.truncate(Double(Self.f32(s[sp &- 1])), lo: -FloatOps.two63, hi: FloatOps.two63)))
            case 0xAF: s[sp &- 1] = UInt64(try FloatOps.truncate(Double(Self.f32(s[sp &- 1])), lo: -0.0, hi: FloatOps.two64))
            case 0xB0: s[sp &- 1] = UInt64(bitPattern: Int64(try FloatOps.truncate(Self.f64(s[sp &- 1]), lo: -FloatOps.two63, hi: FloatOps.two63)))
            case 0xB1: s[sp &- 1] = UInt64(try FloatOps.truncate(Self.f64(s[sp &- 1]), lo: -0.0, hi: FloatOps.two64))
            case 0xB2: s[sp &- 1] = Self.of(Float(Self.s32(s[sp &- 1])))
            case 0xB3: s[sp &- 1] = Self.of(Float(Self.u32(s[sp &- 1])))
            case 0xB4: s[sp &- 1] = Self.of(Float(Int64(bitPattern: s[sp &- 1])))
            case 0xB5: s[sp &- 1] = Self.of(Float(s[sp &- 1]))
            case 0xB6: s[sp &- 1] = Self.of(Float(Self.f64(s[sp &- 1])))
            case 0xB7: s[sp &- 1] = Self.of(Double(Self.s32(s[sp &- 1])))
            case 0xB8: s[sp &- 1] = Self.of(Double(Self.u32(s[sp &- 1])))
            case 0xB9: s[sp &- 1] = Self.of(Double(Int64(bitPattern: s[sp &- 1])))
            case 0xBA: s[sp &- 1] = Self.of(Double(s[sp &- 1]))
            case 0xBB: s[sp &- 1] = Self.of(Double(Self.f32(s[sp &- 1])))
            case 0xBC, 0xBD, 0xBE, 0xBF: break  // reinterpretations: the bits are the value
            case 0xC0: s[sp &- 1] = Self.of(Int32(Int8(truncatingIfNeeded: s[sp &- 1])))
            case 0xC1: s[sp &- 1] = Self.of(Int32(Int16(truncatingIfNeeded: s[sp &- 1])))
            case 0xC2: s[sp &- 1] = UInt64(bitPattern: Int64(Int8(truncatingIfNeeded: s[sp &- 1])))
            case 0xC3: s[sp &- 1] = UInt64(bitPattern: Int64(Int16(truncatingIfNeeded: s[sp &- 1])))
            case 0xC4: s[sp &- 1] = UInt64(bitPattern: Int64(Int32(truncatingIfNeeded: s[sp &- 1])))
            // References
            case 0xD0:
                s[sp] = 0
                sp &+= 1
            case 0xD1: s[sp &- 1] = Self.of(s[sp &- 1] == 0)
            case 0xD2:
                s[sp] = UInt64(ins.a) + 1
                sp &+= 1
            default:
                sp = try prefixed(ins, s: s, sp: sp)
                mem = memory
                memSize = memoryBytes
                // A bulk operation (memory.fill of the whole memory, say) is one instruction doing much work: it is
                // charged for its bytes, and the clock is looked at after it, as after a host call.
                if charged != 0 {
                    executed &+= charged
                    charged = 0
                    checkAt = try Self.checkpoint(executed, fuel, deadline, clockEvery, interrupt)
                }
            }
        }
    }

    /// Calls imported function `index`; its work may charge up to `fuelLeft` (`charge`), left in `charged` for the
    /// caller to count. A trap counts what was charged before it.
    func callHost(_ index: Int, _ args: [UInt64], fuelLeft: Int64) throws(Trap) -> [UInt64] {
        chargeAllowance = fuelLeft
        charged = 0
        do throws(Trap) {
            return try callHost(index, args)
        } catch {
            fuelUsed &+= charged
            charged = 0
            throw error
        }
    }

    func callHost(_ index: Int, _ args: [UInt64]) throws(Trap) -> [UInt64] {
        do {
            let results = try hostFunctions[index].body(self, args)
            guard results.count == hostFunctions[index].results.count else {
                throw Trap.host("host function \(index) returned \(results.count) values for \(hostFunctions[index].results.count) results")
            }
            return results
        } catch let t as Trap {
            throw t
        } catch {
            throw .host("\(error)")
        }
    }

    /// Sets up a call's frame: parameters are in place at `fp`; declared locals start at zero. Returns the new sp.
    /// Sets up a called function's frame at `fp` (its parameters are already there): zeroes the declared locals and
    /// checks the stack can hold the deepest the body goes. Returns the operand stack's base.
    @inline(__always) func enter(_ e: Entry, fp: Int, limit: Int) throws(Trap) -> Int {
        let base = fp &+ e.locals
        guard base &+ e.maxStack < limit else { throw .callStackExhausted }
        var i = fp &+ e.params
        while i < base {
            stack[i] = 0
            i &+= 1
        }
        return base
    }

    /// Calls imported function `index` with its arguments from the top of the stack; pushes its results and
    /// returns the new stack top.
    @inline(never) func callHost(_ index: Int, s: UnsafeMutablePointer<UInt64>, sp: Int, fuelLeft: Int64) throws(Trap) -> Int {
        let n = functionType(index).params.count
        let args = Array(UnsafeBufferPointer(start: s + sp - n, count: n))
        var top = sp - n
        for r in try callHost(index, args, fuelLeft: fuelLeft) {
            s[top] = r
            top += 1
        }
        return top
    }

    /// The 0xFC instructions: saturating truncation, bulk memory and table operations.
    @inline(never) func prefixed(_ ins: Instruction, s: UnsafeMutablePointer<UInt64>, sp top: Int) throws(Trap) -> Int {
        var sp = top
        func sat(_ x: Double, _ lo: Double, _ hi: Double) -> Double { FloatOps.saturate(x, lo: lo, hi: hi) ?? 0 }
        switch ins.op - Op.prefixed {
        case 0: s[sp - 1] = Self.of(Int32(sat(Double(Self.f32(s[sp - 1])), -FloatOps.two31, FloatOps.two31 - 1)))
        case 1: s[sp - 1] = Self.of(UInt32(sat(Double(Self.f32(s[sp - 1])), 0, FloatOps.two32 - 1)))
        case 2: s[sp - 1] = Self.of(Int32(sat(Self.f64(s[sp - 1]), -FloatOps.two31, FloatOps.two31 - 1)))
        case 3: s[sp - 1] = Self.of(UInt32(sat(Self.f64(s[sp - 1]), 0, FloatOps.two32 - 1)))
        case 4:
            let x = Double(Self.f32(s[sp - 1]))
            s[sp - 1] = x.isNaN ? 0 : x >= FloatOps.two63 ? UInt64(Int64.max) : x < -FloatOps.two63 ? UInt64(bitPattern: .min) : UInt64(bitPattern: Int64(x.rounded(.towardZero)))
        case 5:
            let x = Double(Self.f32(s[sp - 1]))
            s[sp - 1] = x.isNaN || x <= -1 ? 0 : x >= FloatOps.two64 ? .max : UInt64(x.rounded(.towardZero))
        case 6:
            let x = Self.f64(s[sp - 1])
            s[sp - 1] = x.isNaN ? 0 : x >= FloatOps.two63 ? UInt64(Int64.max) : x < -FloatOps.two63 ? UInt64(bitPattern: .min) : UInt64(bitPattern: Int64(x.rounded(.towardZero)))
        case 7:
            let x = Self.f64(s[sp - 1])
            s[sp - 1] = x.isNaN || x <= -1 ? 0 : x >= FloatOps.two64 ? .max : UInt64(x.rounded(.towardZero))
        case 8:  // memory.init
            sp -= 3
            let d = Int(Self.u32(s[sp])), src = Int(Self.u32(s[sp + 1])), n = Int(Self.u32(s[sp + 2]))
            let seg = droppedData[Int(ins.a)] ? [] : module.data[Int(ins.a)].bytes
            guard src + n <= seg.count, d + n <= memoryBytes else { throw .memoryOutOfBounds }
            charged = Self.fuel(bytes: n)
            if n > 0 { seg.withUnsafeBytes { memory.advanced(by: d).copyMemory(from: $0.baseAddress! + src, byteCount: n) } }
        case 9: droppedData[Int(ins.a)] = true
        case 10:  // memory.copy
            sp -= 3
            let d = Int(Self.u32(s[sp])), src = Int(Self.u32(s[sp + 1])), n = Int(Self.u32(s[sp + 2]))
            guard src + n <= memoryBytes, d + n <= memoryBytes else { throw .memoryOutOfBounds }
            charged = Self.fuel(bytes: n)
            if n > 0 { memory.advanced(by: d).copyMemory(from: memory.advanced(by: src), byteCount: n) }  // memmove: may overlap
        case 11:  // memory.fill
            sp -= 3
            let d = Int(Self.u32(s[sp])), v = UInt8(truncatingIfNeeded: s[sp + 1]), n = Int(Self.u32(s[sp + 2]))
            guard d + n <= memoryBytes else { throw .memoryOutOfBounds }
            charged = Self.fuel(bytes: n)
            if n > 0 { memory.advanced(by: d).initializeMemory(as: UInt8.self, repeating: v, count: n) }
        case 12:  // table.init
            sp -= 3
            let d = Int(Self.u32(s[sp])), src = Int(Self.u32(s[sp + 1])), n = Int(Self.u32(s[sp + 2]))
            let items = droppedElements[Int(ins.b)] ? [] : module.elements[Int(ins.b)].items
            guard src + n <= items.count, d + n <= tables[Int(ins.a)].count else { throw .tableOutOfBounds }
            charged = Int64(n)
            for k in 0..<n { tables[Int(ins.a)][d + k] = constant(items[src + k]) }
        case 13: droppedElements[Int(ins.a)] = true
        case 14:  // table.copy
            sp -= 3
            let d = Int(Self.u32(s[sp])), src = Int(Self.u32(s[sp + 1])), n = Int(Self.u32(s[sp + 2]))
            let dt = Int(ins.a), st = Int(ins.b)
            guard src + n <= tables[st].count, d + n <= tables[dt].count else { throw .tableOutOfBounds }
            charged = Int64(n)
            let moved = Array(tables[st][src..<src + n])
            tables[dt].replaceSubrange(d..<d + n, with: moved)
        case 15:  // table.grow
            sp -= 1
            let n = Int(Self.u32(s[sp])), t = Int(ins.a)
            let old = tables[t].count
            let cap = Int(tableMax[t] ?? UInt32.max)
            let total = tables.reduce(0) { $0 + $1.count }  // the instance's budget covers all its tables
            if old + n > cap || total + n > limits.maxTableElements { s[sp - 1] = Self.of(Int32(-1)) } else {
                tables[t] += Array(repeating: s[sp - 1], count: n)
                charged = Int64(n)
                s[sp - 1] = UInt64(old)
            }
        case 16:
            s[sp] = UInt64(tables[Int(ins.a)].count)
            sp += 1
        case 17:  // table.fill
            sp -= 3
            let d = Int(Self.u32(s[sp])), v = s[sp + 1], n = Int(Self.u32(s[sp + 2]))
            guard d + n <= tables[Int(ins.a)].count else { throw .tableOutOfBounds }
            charged = Int64(n)
            for k in 0..<n { tables[Int(ins.a)][d + k] = v }
        default:
            throw .host("internal: unknown instruction \(ins.op)")
        }
        return sp
    }
}
