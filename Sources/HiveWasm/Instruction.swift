/// The interpreter's internal form of one instruction: validated code translated once, branches resolved to
/// absolute positions with the stack heights they restore, so execution never re-decodes bytes.
///
/// `op` is the WebAssembly opcode for plain instructions (0x00–0xD2), `Op.prefixed + sub` for the 0xFC prefix,
/// and `Op` values in opcode slots WebAssembly leaves unused for the forms translation introduces: every op is
/// below 256 and the fused forms just above it (`Fused`), so the interpreter's switch compiles to one jump table.
/// `a`, `b` and `c` are immediates, per op; `c` fills what would be padding (16 bytes either way) and carries a
/// second local index for fused forms.
public struct Instruction: Sendable, Equatable {
    public var op: UInt16
    public var c: UInt16
    public var a: UInt32
    public var b: UInt64

    public init(_ op: UInt16, a: UInt32 = 0, b: UInt64 = 0, c: UInt16 = 0) {
        self.op = op
        self.c = c
        self.a = a
        self.b = b
    }
}

/// Opcodes that only exist in the internal form.
public enum Op {
    /// Jump to `a`; keep the top `b >> 32` values and put them at stack height `b & 0xFFFF_FFFF` (relative to the
    /// frame's locals). A `br` and an `else`.
    public static let branch: UInt16 = 0x06
    /// Pop an i32; if non-zero, as `branch`. A `br_if`.
    public static let branchIf: UInt16 = 0x07
    /// Pop an i32; if zero, jump to `a` (stack unchanged). An `if` without a taken branch.
    public static let branchUnless: UInt16 = 0x08
    /// Pop an i32 index into the table `a` of `FunctionCode.tables`, whose entries are `branch` targets.
    public static let branchTable: UInt16 = 0x09
    /// Return from the function, keeping the top `a` values (the results).
    public static let ret: UInt16 = 0x0A
    /// The 0xFC-prefixed instructions: `prefixed + sub` (sub 0–17).
    public static let prefixed: UInt16 = 0xE0
}

/// Where a `br_table` entry goes: as the immediates of `Op.branch`.
public struct BranchTarget: Sendable, Equatable {
    public var pc: UInt32
    public var keep: UInt32
    public var height: UInt32
}

/// A validated, translated function body.
public struct FunctionCode: Sendable {
    public var type: FuncType
    /// Parameters first, then declared locals.
    public var locals: [ValueType]
    public var code: [Instruction]
    public var tables: [[BranchTarget]]
    /// The most operand-stack slots the body can use above its locals (for one bounds check per call).
    public var maxStack: Int
}
