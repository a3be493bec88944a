import COmenSupport
import Testing
@testable import Recurrent

/// Random int8 weights in the panel layout, with their plain (row j, column o) values for a reference product.
private struct Panels {
    let n: Int, ku: Int, kv: Int
    var bytes: [Int8]
    var plain: [[Int8]]

    init(n: Int, ku: Int, kv: Int, rng: inout SeededGenerator, extreme: Bool = false) {
        self.n = n
        self.ku = ku
        self.kv = kv
        let pairs = (ku + 1) / 2 + (kv + 1) / 2
        bytes = [Int8](repeating: 0, count: 2 * pairs * n)
        plain = [[Int8]](repeating: [Int8](repeating: 0, count: n), count: ku + kv)
        for j in 0..<(ku + kv) {
            for o in 0..<n {
                let q = extreme ? (o % 2 == 0 ? Int8(127) : Int8(-127)) : Int8(Int(rng.symmetric(127.99)))
                plain[j][o] = q
                bytes[omen_i8_panel_offset(Int32(n), Int32(ku), Int32(kv), Int32(j), Int32(o))] = q
            }
        }
    }
}

private func floats(_ count: Int, _ scale: Double, _ rng: inout SeededGenerator) -> [Float] {
    (0..<count).map { _ in Float(rng.symmetric(scale)) }
}

/// Half-precision bits of each value (scales and biases are stored so).
private func halves(_ values: [Float]) -> [UInt16] {
    values.map { omen_f16_bits($0) }
}

@Suite struct Int8KernelTests {
    /// Float → half bits rounds to nearest even and round-trips every half exactly (normals, subnormals, zero,
    /// infinity), as the kernels' conversions read them.
    @Test func halfPrecisionConversion() {
        var exact = true
        for bits in UInt16(0)...UInt16(0xFFFF) where (bits & 0x7C00) != 0x7C00 || (bits & 0x3FF) == 0 {
            exact = exact && omen_f16_bits(halfToFloat(bits)) == bits
        }
        #expect(exact)
        #expect(omen_f16_bits(1 + 0x1p-11) == omen_f16_bits(1))          // a tie rounds to even
        #expect(omen_f16_bits(1 + 3 * 0x1p-11) == omen_f16_bits(1) + 2)  // ... and up to even
        #expect(omen_f16_bits(70_000) == 0x7C00)
        #expect(halfToFloat(omen_f16_bits(0.1)) == Float(Float16(0.1)))
    }

    /// The AVX2 gate kernel computes bit-for-bit what the portable C reference computes (same quantisation, same
    /// exact integer sums, same fused epilogue), for every panel width and odd input counts, with and without a
    /// separate recurrent output (GRU).
    @Test(arguments: [(128, 5, 32), (48, 5, 16), (16, 1, 16), (96, 7, 32), (192, 12, 64), (64, 3, 16)])
    func avx2MatchesPortable(n: Int, ku: Int, kv: Int) {
        var rng = SeededGenerator(seed: UInt64(n * 31 + ku))
        let panels = Panels(n: n, ku: ku, kv: kv, rng: &rng)
        // Scales stored ×1024 with unit 2^-10, as a model stores them.
        let su = halves(floats(n, 10, &rng).map { abs($0) }), sv = halves(floats(n, 10, &rng).map { abs($0) })
        let bias = halves(floats(n, 1, &rng)), biasH = halves(floats(n, 1, &rng))
        let unit: Float = 0x1p-10
        var same = true
        for trial in 0..<20 {
            let u = floats(ku, trial % 3 == 0 ? 40 : 1.5, &rng), v = floats(kv, 1, &rng)
            for separate in [false, true] {
                var a = [Float](repeating: 0, count: n), ah = [Float](repeating: 0, count: n)
                var b = [Float](repeating: 0, count: n), bh = [Float](repeating: 0, count: n)
                a.withUnsafeMutableBufferPointer { a in
                    ah.withUnsafeMutableBufferPointer { ah in
                        omen_i8_gates(a.baseAddress, separate ? ah.baseAddress : nil, Int32(n), bias, biasH,
                                      panels.bytes, su, sv, unit, u, Int32(ku), v, Int32(kv), 0)
                    }
                }
                b.withUnsafeMutableBufferPointer { b in
                    bh.withUnsafeMutableBufferPointer { bh in
                        omen_i8_gates_portable(b.baseAddress, separate ? bh.baseAddress : nil, Int32(n), bias, biasH,
                                               panels.bytes, su, sv, unit, u, Int32(ku), v, Int32(kv))
                    }
                }
                same = same && a == b && ah == bh
            }
        }
        #expect(same)
    }

    /// The gates equal bias + scale ⊙ Σ q·input in Double to the inputs' int16 quantisation (relative 1e-4 of the
    /// largest possible sum), even at the largest accepted size with every weight at ±127 and every input at its
    /// maximum: the int32 sums do not overflow.
    @Test(arguments: [(128, 5, 32), (2048, 512, 512)])
    func gatesMatchDoubleWithoutOverflow(n: Int, ku: Int, kv: Int) {
        var rng = SeededGenerator(seed: 3)
        let extreme = ku == 512
        let panels = Panels(n: n, ku: ku, kv: kv, rng: &rng, extreme: extreme)
        let su = [Float](repeating: 0.01, count: n), sv = [Float](repeating: 0.02, count: n)
        let bias = floats(n, 1, &rng).map { halfToFloat(omen_f16_bits($0)) }
        let u = extreme ? [Float](repeating: 3, count: ku) : floats(ku, 2, &rng)
        let v = extreme ? (0..<kv).map { $0 % 2 == 0 ? Float(1) : -1 } : floats(kv, 1, &rng)
        var out = [Float](repeating: 0, count: n)
        omen_i8_gates(&out, nil, Int32(n), halves(bias), nil, panels.bytes, halves(su.map { $0 * 4096 }),
                      halves(sv.map { $0 * 4096 }), 0x1p-12, u, Int32(ku), v, Int32(kv), 0)
        var worst = 0.0
        for o in 0..<n {
            var su64 = 0.0, sv64 = 0.0
            for j in 0..<ku { su64 += Double(panels.plain[j][o]) * Double(u[j]) }
            for j in 0..<kv { sv64 += Double(panels.plain[ku + j][o]) * Double(v[j]) }
            let stu = Double(halfToFloat(omen_f16_bits(su[o] * 4096))) / 4096
            let stv = Double(halfToFloat(omen_f16_bits(sv[o] * 4096))) / 4096
            let exact = Double(bias[o]) + stu * su64 + stv * sv64
            let largest = 127 * (Double(su[o]) * Double(ku) * 3 + Double(sv[o]) * Double(kv))
            worst = max(worst, abs(Double(out[o]) - exact) / largest)
        }
        #expect(worst < 1e-4, "worst relative error \(worst)")
    }

    /// From the same state, the fused AVX2 LSTM step agrees with the portable C step (which differs only in using
    /// a division where AVX2 uses a refined reciprocal) to 1e-5 in h, c and the head outputs, over 100 states.
    @Test func fusedLSTMMatchesPortable() {
        let hidden = 32, ku = 5, n = 4 * hidden
        var rng = SeededGenerator(seed: 11)
        let panels = Panels(n: n, ku: ku, kv: hidden, rng: &rng)
        let su = halves(floats(n, 0.01, &rng).map { abs($0) }), sv = halves(floats(n, 0.02, &rng).map { abs($0) })
        let bias = halves(floats(n, 1, &rng)), headW = floats(2 * hidden, 0.3, &rng), headB = floats(2, 0.1, &rng)
        var h1 = [Float](repeating: 0, count: hidden), c1 = h1, h2 = h1, c2 = h1
        var worst: Float = 0
        for _ in 0..<100 {
            let x = floats(ku, 1.5, &rng)
            var r1: Float = 0, r2: Float = 0
            let m1 = omen_i8_lstm_step(Int32(hidden), panels.bytes, su, sv, 1, bias, headW, headB, 2, x, Int32(ku),
                                       &h1, &c1, &r1, 0)
            let m2 = omen_i8_lstm_step_portable(Int32(hidden), panels.bytes, su, sv, 1, bias, headW, headB, 2, x,
                                                Int32(ku), &h2, &c2, &r2)
            worst = max(worst, abs(m1 - m2), abs(r1 - r2))
            for k in 0..<hidden { worst = max(worst, abs(h1[k] - h2[k]), abs(c1[k] - c2[k])) }
            h2 = h1
            c2 = c1
        }
        #expect(worst < 1e-5, "worst difference \(worst)")
    }

    /// A non-finite input counts as 0 in the int8 step: prediction and state stay finite (a NaN would otherwise
    /// poison the state for every later step), and the step equals the step with that input set to 0.
    @Test(arguments: CellKind.allCases)
    func nonFiniteInputCountsAsZero(cell: CellKind) throws {
        let shape = ModelShape(cell: cell, inputSize: 5, hiddenSize: 32)
        let int8 = try #require(QuantizedRecurrentModel(RecurrentModel(shape: shape, seed: 4)))
        for bad in [Float.nan, .infinity, -.infinity] {
            var s1 = RecurrentState(shape: shape), s2 = RecurrentState(shape: shape)
            let x: [Float] = [0.5, bad, 0, 0.1, -0.2], zero: [Float] = [0.5, 0, 0, 0.1, -0.2]
            let p1 = x.withUnsafeBufferPointer { int8.step(input: $0, state: &s1) }
            let p2 = zero.withUnsafeBufferPointer { int8.step(input: $0, state: &s2) }
            #expect(p1.mean.isFinite && s1.h.allSatisfy { $0.isFinite })
            #expect(p1 == p2 && s1 == s2)
        }
    }
}
