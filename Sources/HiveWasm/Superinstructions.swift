/// Fused instructions: a run the translator sees side by side (no branch target inside it) becomes one, so the
/// interpreter dispatches once. The stack machine spends most of its dispatches moving values between locals and
/// the stack; these forms read and write locals directly. Fuel still counts WebAssembly instructions: each fused
/// case adds the instructions it stands for. Their opcodes sit in slots WebAssembly leaves unused and just above
/// 0xFF, so the interpreter's switch stays one dense jump table.
enum Fused {
    /// `i32.const k; i32.OP` → `OP_imm`: the stack top OP k (k in `b`).
    static let addImm: UInt16 = 0x12, andImm: UInt16 = 0x13, orImm: UInt16 = 0x14, xorImm: UInt16 = 0x15
    static let shlImm: UInt16 = 0x16, shrUImm: UInt16 = 0x17, shrSImm: UInt16 = 0x18, rotlImm: UInt16 = 0x19
    static let eqImm: UInt16 = 0x1D, neImm: UInt16 = 0x1E, ltSImm: UInt16 = 0x1F, ltUImm: UInt16 = 0x27
    static let gtSImm: UInt16 = 0xC5, gtUImm: UInt16 = 0xC6, leSImm: UInt16 = 0xC7, leUImm: UInt16 = 0xC8
    static let geSImm: UInt16 = 0xC9, geUImm: UInt16 = 0xCA, mulImm: UInt16 = 0xCB
    /// `local.get x; i32.OP` → `OP_local`: the stack top OP local x (x in `a`).
    static let addLocal: UInt16 = 0xCC, subLocal: UInt16 = 0xCD, andLocal: UInt16 = 0xCE, xorLocal: UInt16 = 0xCF
    static let orLocal: UInt16 = 0xD3, mulLocal: UInt16 = 0xD4
    /// `local.get x; i32.load off`: pushes the i32 at local x + off.
    static let loadLocal: UInt16 = 0xD5
    /// As `Op.branchIf`, taken when the popped i32 is zero (`i32.eqz; br_if`).
    static let branchIfZero: UInt16 = 0xD6
    /// `local.get x; i32.const k; i32.add`: pushes local x + k (three WebAssembly instructions of fuel).
    static let localAddImm: UInt16 = 0xD7

    // Register moves: the stack machine's way of renaming values (`h = g; g = f; …`) costs one dispatch, not two.
    /// `local.get b; local.set a`: local a = local b.
    static let copyLocal: UInt16 = 0x100
    /// `local.get b; local.tee a`: local a = local b, and push it.
    static let copyLocalPush: UInt16 = 0x101
    /// `T.const k; local.set a`: local a = k (any numeric type; k in `b`).
    static let setLocalConst: UInt16 = 0x102
    /// `local.set a; local.get b`: the top of the stack goes to local a and is replaced by local b.
    static let setGet: UInt16 = 0x103

    /// `local.get x; i32.const k; i32.OP`: pushes local x OP k (three WebAssembly instructions of fuel). Add is
    /// `localAddImm` above; these follow it.
    static let localRotlImm: UInt16 = 0x104, localShrUImm: UInt16 = 0x105, localShrSImm: UInt16 = 0x106
    static let localShlImm: UInt16 = 0x107, localAndImm: UInt16 = 0x108, localOrImm: UInt16 = 0x109
    static let localXorImm: UInt16 = 0x10A, localMulImm: UInt16 = 0x10B

    /// Compare an i32 with the immediate in `b`'s high half and branch to `a` when it holds (no values kept; the
    /// height is `b`'s low half): `i32.const k; i32.CMP; br_if`. Ten compares (`compareKind`) in three runs: the
    /// operand popped from the stack, read from local `c` (`local.get c` before it), or popped and stored to local
    /// `c` (`local.tee c` before it).
    static let branchCompareImm: UInt16 = 0x10C, branchLocalCompareImm: UInt16 = 0x116, branchTeeCompareImm: UInt16 = 0x120

    /// `local.get c; i32.const k; i32.add; i32.load offset=a`: pushes the i32 at (local c + k) + a.
    static let loadLocalImm: UInt16 = 0x12A
    /// `local.get c; local.get a; i32.OP`: pushes local c OP local a, for the ops of `withLocalOrder` in order.
    static let localLocal: UInt16 = 0x12B
    static let withLocalOrder: [UInt16] = [addLocal, subLocal, mulLocal, andLocal, orLocal, xorLocal]

    // Hash and checksum kernels (SHA-2, CRCs, PRNGs) are chains of rotations, shifts and xors of locals.
    /// `local.get a; i32.const k; i32.rotl; i32.xor`: the stack top ^= rotl(local a, k).
    static let xorRotlLocalImm: UInt16 = 0x131
    /// `local.get a; i32.const k; i32.shr_u; i32.xor`: the stack top ^= local a >> k.
    static let xorShrULocalImm: UInt16 = 0x132
    /// Two `setGet`s in a row (`local.set a; local.get b; local.set c; local.get d`, a register rotation): a, c
    /// and b | d << 32.
    static let setGetTwice: UInt16 = 0x133
    /// `i32.xor; i32.add`: x + (y ^ z) over the top three values.
    static let xorAdd: UInt16 = 0x134
    /// `i32.const v; i32.store{,8,16} offset=a`: pops the address, stores v (in `b`). Filling memory with a
    /// constant is most of what a C loop that clears or marks an array does.
    static let storeImm32: UInt16 = 0x135, storeImm8: UInt16 = 0x136, storeImm16: UInt16 = 0x137
    /// `local.get c; i32.const k; i32.add; i32.const v; i32.store{,8,16} offset=a`: stores v (`b`'s high half)
    /// at (local c + k (`b`'s low half)) + a; nothing on the stack.
    static let storeImmLocal32: UInt16 = 0x138, storeImmLocal8: UInt16 = 0x139, storeImmLocal16: UInt16 = 0x13A

    /// Which compare a fused compare-with-immediate is: its offset in a run of compare-and-branch ops.
    static func compareKind(_ fusedCompare: UInt16) -> UInt16? {
        switch fusedCompare {
        case neImm: return 0
        case eqImm: return 1
        case ltUImm: return 2
        case ltSImm: return 3
        case gtSImm: return 4
        case gtUImm: return 5
        case leSImm: return 6
        case leUImm: return 7
        case geSImm: return 8
        case geUImm: return 9
        default: return nil
        }
    }

    /// Whether compare `kind` (see `compareKind`) holds for `v` against `k`.
    @inline(__always) static func holds(_ kind: UInt16, _ v: UInt32, _ k: UInt32) -> Bool {
        switch kind {
        case 0: return v != k
        case 1: return v == k
        case 2: return v < k
        case 3: return Int32(bitPattern: v) < Int32(bitPattern: k)
        case 4: return Int32(bitPattern: v) > Int32(bitPattern: k)
        case 5: return v > k
        case 6: return Int32(bitPattern: v) <= Int32(bitPattern: k)
        case 7: return v <= k
        case 8: return Int32(bitPattern: v) >= Int32(bitPattern: k)
        default: return v >= k
        }
    }

    /// The form of an immediate op (`withImmediate`) whose left operand is a local rather than the stack top.
    static func onLocal(_ fusedImmediate: UInt16) -> UInt16? {
        switch fusedImmediate {
        case addImm: return localAddImm
        case rotlImm: return localRotlImm
        case shrUImm: return localShrUImm
        case shrSImm: return localShrSImm
        case shlImm: return localShlImm
        case andImm: return localAndImm
        case orImm: return localOrImm
        case xorImm: return localXorImm
        case mulImm: return localMulImm
        default: return nil
        }
    }

    /// The fused form of i32 `op` with a constant right operand `k`, and the immediate it carries.
    static func withImmediate(_ op: UInt8, _ k: UInt32) -> (UInt16, UInt64)? {
        switch op {
        case 0x6A: return (addImm, UInt64(k))
        case 0x6B: return (addImm, UInt64(0 &- k))
        case 0x6C: return (mulImm, UInt64(k))
        case 0x71: return (andImm, UInt64(k))
        case 0x72: return (orImm, UInt64(k))
        case 0x73: return (xorImm, UInt64(k))
        case 0x74: return (shlImm, UInt64(k & 31))
        case 0x75: return (shrSImm, UInt64(k & 31))
        case 0x76: return (shrUImm, UInt64(k & 31))
        case 0x77: return (rotlImm, UInt64(k & 31))
        case 0x78: return (rotlImm, UInt64((32 - (k & 31)) & 31))
        case 0x46: return (eqImm, UInt64(k))
        case 0x47: return (neImm, UInt64(k))
        case 0x48: return (ltSImm, UInt64(k))
        case 0x49: return (ltUImm, UInt64(k))
        case 0x4A: return (gtSImm, UInt64(k))
        case 0x4B: return (gtUImm, UInt64(k))
        case 0x4C: return (leSImm, UInt64(k))
        case 0x4D: return (leUImm, UInt64(k))
        case 0x4E: return (geSImm, UInt64(k))
        case 0x4F: return (geUImm, UInt64(k))
        default: return nil
        }
    }

    /// The fused form of i32 `op` whose right operand is a local.
    static func withLocal(_ op: UInt8) -> UInt16? {
        switch op {
        case 0x6A: return addLocal
        case 0x6B: return subLocal
        case 0x6C: return mulLocal
        case 0x71: return andLocal
        case 0x72: return orLocal
        case 0x73: return xorLocal
        default: return nil
        }
    }
}
