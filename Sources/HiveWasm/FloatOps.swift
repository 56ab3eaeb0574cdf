/// WebAssembly's float rules where Swift's differ: min/max propagate NaN and order -0 below +0; truncation to
/// integers traps on NaN and out-of-range values (or saturates, for the `_sat` forms).
enum FloatOps {
    @inline(__always) static func min<F: BinaryFloatingPoint>(_ a: F, _ b: F) -> F {
        if a.isNaN || b.isNaN { return a + b }
        if a == 0 && b == 0 { return a.sign == .minus ? a : b }
        return a < b ? a : b
    }

    @inline(__always) static func max<F: BinaryFloatingPoint>(_ a: F, _ b: F) -> F {
        if a.isNaN || b.isNaN { return a + b }
        if a == 0 && b == 0 { return a.sign == .minus ? b : a }
        return a > b ? a : b
    }

    /// Truncation toward zero into [lo, hi): the bounds are exact powers of two, so comparing in Double is exact.
    @inline(__always) static func truncate(_ x: Double, lo: Double, hi: Double) throws(Trap) -> Double {
        if x.isNaN { throw .invalidConversion }
        let t = x.rounded(.towardZero)
        guard t >= lo && t < hi else { throw .integerOverflow }
        return t
    }

    @inline(__always) static func saturate(_ x: Double, lo: Double, hi: Double) -> Double? {
        if x.isNaN { return nil }
        let t = x.rounded(.towardZero)
        if t < lo { return lo }
        if t >= hi { return hi }
        return t
    }

    /// ceil, floor, trunc, nearest, sqrt (in opcode order; the same for f32 and f64).
    @inline(__always) static func unary<F: BinaryFloatingPoint>(_ k: UInt16, _ x: F) -> F {
        switch k {
        case 0: return x.rounded(.up)
        case 1: return x.rounded(.down)
        case 2: return x.rounded(.towardZero)
        case 3: return x.rounded(.toNearestOrEven)
        default: return x.squareRoot()
        }
    }

    /// eq, ne, lt, gt, le, ge (in opcode order; false on NaN except ne).
    @inline(__always) static func compare<F: BinaryFloatingPoint>(_ k: UInt16, _ a: F, _ b: F) -> Bool {
        switch k {
        case 0: return a == b
        case 1: return a != b
        case 2: return a < b
        case 3: return a > b
        case 4: return a <= b
        default: return a >= b
        }
    }

    /// add, sub, mul, div, min, max, copysign (in opcode order).
    @inline(__always) static func binary<F: BinaryFloatingPoint>(_ k: UInt16, _ a: F, _ b: F) -> F {
        switch k {
        case 0: return a + b
        case 1: return a - b
        case 2: return a * b
        case 3: return a / b
        case 4: return min(a, b)
        case 5: return max(a, b)
        default: return F(signOf: b, magnitudeOf: a)
        }
    }

    static let two31 = 2147483648.0, two32 = 4294967296.0, two63 = 9223372036854775808.0, two64 = 18446744073709551616.0
}
