/// Fused instructions: a pair the translator sees side by side (no branch target between them) becomes one, so
/// the interpreter dispatches once. `i32.const k; i32.OP` → `OP_imm` (k in `b`); `local.get x; i32.OP` →
/// `OP_local` (x in `a`); `local.get x; i32.load off` → `load_local`; `local.get x; i32.const k; i32.add` → `local_add_imm`; `i32.eqz;
/// br_if` → branch if zero. Their
/// opcodes sit in slots WebAssembly leaves unused, so the interpreter's switch stays one dense jump table.
enum Fused {
    static let addImm: UInt16 = 0x12, andImm: UInt16 = 0x13, orImm: UInt16 = 0x14, xorImm: UInt16 = 0x15
    static let shlImm: UInt16 = 0x16, shrUImm: UInt16 = 0x17, shrSImm: UInt16 = 0x18, rotlImm: UInt16 = 0x19
    static let eqImm: UInt16 = 0x1D, neImm: UInt16 = 0x1E, ltSImm: UInt16 = 0x1F, ltUImm: UInt16 = 0x27
    static let gtSImm: UInt16 = 0xC5, gtUImm: UInt16 = 0xC6, leSImm: UInt16 = 0xC7, leUImm: UInt16 = 0xC8
    static let geSImm: UInt16 = 0xC9, geUImm: UInt16 = 0xCA, mulImm: UInt16 = 0xCB
    static let addLocal: UInt16 = 0xCC, subLocal: UInt16 = 0xCD, andLocal: UInt16 = 0xCE, xorLocal: UInt16 = 0xCF
    static let orLocal: UInt16 = 0xD3, mulLocal: UInt16 = 0xD4
    static let loadLocal: UInt16 = 0xD5
    /// `local.get x; i32.const k; i32.add`: pushes local x + k (three WebAssembly instructions of fuel).
    static let localAddImm: UInt16 = 0xD7
    /// As `Op.branchIf`, taken when the popped i32 is zero.
    static let branchIfZero: UInt16 = 0xD6
    /// Compare the popped i32 with the immediate in `b`'s high half and branch when it holds (no values kept; the
    /// height is `b`'s low half): `i32.const k; i32.ne|eq|lt_u|lt_s; br_if`.
    static let branchNeImm: UInt16 = 0xD8, branchEqImm: UInt16 = 0xD9, branchLtUImm: UInt16 = 0xDA, branchLtSImm: UInt16 = 0xDB

    static func branchOnCompare(_ fusedCompare: UInt16) -> UInt16? {
        switch fusedCompare {
        case neImm: return branchNeImm
        case eqImm: return branchEqImm
        case ltUImm: return branchLtUImm
        case ltSImm: return branchLtSImm
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
