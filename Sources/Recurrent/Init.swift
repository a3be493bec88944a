// Seeded initialisation: Glorot uniform input weights, orthogonal recurrent blocks, LSTM forget bias 1.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// SplitMix64-seeded xoshiro256**: small, fast, and the same sequence on every machine for a seed.
struct SeededGenerator: RandomNumberGenerator, Sendable {
    private var s0: UInt64, s1: UInt64, s2: UInt64, s3: UInt64

    init(seed: UInt64) {
        var x = seed
        func splitmix(_ x: inout UInt64) -> UInt64 {
            x &+= 0x9E37_79B9_7F4A_7C15
            var z = x
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        s0 = splitmix(&x); s1 = splitmix(&x); s2 = splitmix(&x); s3 = splitmix(&x)
    }

    mutating func next() -> UInt64 {
        let result = ((s1 &* 5) << 7 | (s1 &* 5) >> 57) &* 9
        let t = s1 << 17
        s2 ^= s0; s3 ^= s1; s1 ^= s2; s0 ^= s3
        s2 ^= t
        s3 = (s3 << 45) | (s3 >> 19)
        return result
    }

    /// Uniform in [0, 1) with 53 random bits (our own conversion, so it never depends on the stdlib's).
    mutating func unit() -> Double {
        Double(next() >> 11) * 0x1p-53
    }

    /// Uniform in [-a, a).
    mutating func symmetric(_ a: Double) -> Double {
        (2 * unit() - 1) * a
    }

    /// Standard normal by Box–Muller.
    mutating func gaussian() -> Double {
        let u1 = max(unit(), 0x1p-60)
        let u2 = unit()
        return (-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2)
    }
}

/// A random n × n orthogonal matrix (row-major): Gram–Schmidt on Gaussian rows, in Double.
func orthogonalMatrix(_ n: Int, _ rng: inout SeededGenerator) -> [Double] {
    var q = [Double](repeating: 0, count: n * n)
    var i = 0
    var attempts = 0
    while i < n {
        var v = (0..<n).map { _ in rng.gaussian() }
        // Twice-repeated Gram–Schmidt keeps the rows orthogonal to rounding.
        for _ in 0..<2 {
            for r in 0..<i {
                var d = 0.0
                for k in 0..<n { d += v[k] * q[r * n + k] }
                for k in 0..<n { v[k] -= d * q[r * n + k] }
            }
        }
        var norm = 0.0
        for k in 0..<n { norm += v[k] * v[k] }
        norm = norm.squareRoot()
        attempts += 1
        if norm < 1e-8 && attempts < 10 * n { continue }
        for k in 0..<n { q[i * n + k] = norm > 0 ? v[k] / norm : 0 }
        i += 1
    }
    return q
}

extension RecurrentModel {
    static func initialParameters(shape: ModelShape, seed: UInt64) -> [Float] {
        let l = Layout(shape)
        var p = [Float](repeating: 0, count: l.count)
        var rng = SeededGenerator(seed: seed)
        let h = l.hidden
        guard h > 0 else { return p }
        // Input weights: Glorot uniform with the fan of one gate block (I → H).
        let glorot = (6.0 / Double(l.inputs + h)).squareRoot()
        for j in 0..<l.inputs {
            for k in 0..<l.gh {
                p[l.wx + j * l.gh + k] = Float(rng.symmetric(glorot))
            }
        }
        // Recurrent weights: one orthogonal H × H block per gate. Stored input-major: wh[j][g·H + k] = Q[k][j].
        for g in 0..<l.gates {
            let q = orthogonalMatrix(h, &rng)
            for j in 0..<h {
                for k in 0..<h {
                    p[l.wh + j * l.gh + g * h + k] = Float(q[k * h + j])
                }
            }
        }
        if shape.cell == .lstm {
            for k in 0..<h { p[l.bx + h + k] = 1 } // forget gate: remember by default
        }
        // Head: mean row Glorot (H → 1); log-variance row and biases 0, so the model starts at variance 1
        // in normalised units.
        let headScale = (6.0 / Double(h + 1)).squareRoot()
        for k in 0..<h {
            p[l.headW + k] = Float(rng.symmetric(headScale))
        }
        return p
    }
}
