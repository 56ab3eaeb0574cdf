/// Operand and result types of the instructions whose typing depends only on the opcode: comparisons, arithmetic,
/// conversions, sign extension, saturating truncation, and the memory accesses (with their natural alignment).
enum OpcodeSignatures {
    /// Plain opcodes 0x45–0xC4.
    static func numeric(_ op: UInt8) -> (params: [ValueType], result: ValueType)? {
        switch op {
        case 0x45: return ([.i32], .i32)
        case 0x46...0x4F: return ([.i32, .i32], .i32)
        case 0x50: return ([.i64], .i32)
        case 0x51...0x5A: return ([.i64, .i64], .i32)
        case 0x5B...0x60: return ([.f32, .f32], .i32)
        case 0x61...0x66: return ([.f64, .f64], .i32)
        case 0x67...0x69: return ([.i32], .i32)
        case 0x6A...0x78: return ([.i32, .i32], .i32)
        case 0x79...0x7B: return ([.i64], .i64)
        case 0x7C...0x8A: return ([.i64, .i64], .i64)
        case 0x8B...0x91: return ([.f32], .f32)
        case 0x92...0x98: return ([.f32, .f32], .f32)
        case 0x99...0x9F: return ([.f64], .f64)
        case 0xA0...0xA6: return ([.f64, .f64], .f64)
        case 0xA7: return ([.i64], .i32)
        case 0xA8, 0xA9: return ([.f32], .i32)
        case 0xAA, 0xAB: return ([.f64], .i32)
        case 0xAC, 0xAD: return ([.i32], .i64)
        case 0xAE, 0xAF: return ([.f32], .i64)
        case 0xB0, 0xB1: return ([.f64], .i64)
        case 0xB2, 0xB3: return ([.i32], .f32)
        case 0xB4, 0xB5: return ([.i64], .f32)
        case 0xB6: return ([.f64], .f32)
        case 0xB7, 0xB8: return ([.i32], .f64)
        case 0xB9, 0xBA: return ([.i64], .f64)
        case 0xBB: return ([.f32], .f64)
        case 0xBC: return ([.f32], .i32)
        case 0xBD: return ([.f64], .i64)
        case 0xBE: return ([.i32], .f32)
        case 0xBF: return ([.i64], .f64)
        case 0xC0, 0xC1: return ([.i32], .i32)
        case 0xC2...0xC4: return ([.i64], .i64)
        default: return nil
        }
    }

    /// 0xFC 0–7: saturating float-to-int truncation.
    static func saturating(_ sub: UInt32) -> (param: ValueType, result: ValueType)? {
        switch sub {
        case 0, 1: return (.f32, .i32)
        case 2, 3: return (.f64, .i32)
        case 4, 5: return (.f32, .i64)
        case 6, 7: return (.f64, .i64)
        default: return nil
        }
    }

    /// Loads 0x28–0x35 and stores 0x36–0x3E: the value type and the access size in bytes (its natural alignment).
    static func memoryAccess(_ op: UInt8) -> (type: ValueType, bytes: Int, store: Bool)? {
        switch op {
        case 0x28: return (.i32, 4, false)
        case 0x29: return (.i64, 8, false)
        case 0x2A: return (.f32, 4, false)
        case 0x2B: return (.f64, 8, false)
        case 0x2C, 0x2D: return (.i32, 1, false)
        case 0x2E, 0x2F: return (.i32, 2, false)
        case 0x30, 0x31: return (.i64, 1, false)
        case 0x32, 0x33: return (.i64, 2, false)
        case 0x34, 0x35: return (.i64, 4, false)
        case 0x36: return (.i32, 4, true)
        case 0x37: return (.i64, 8, true)
        case 0x38: return (.f32, 4, true)
        case 0x39: return (.f64, 8, true)
        case 0x3A: return (.i32, 1, true)
        case 0x3B: return (.i32, 2, true)
        case 0x3C: return (.i64, 1, true)
        case 0x3D: return (.i64, 2, true)
        case 0x3E: return (.i64, 4, true)
        default: return nil
        }
    }
}
