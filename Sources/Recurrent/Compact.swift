// A bfloat16 copy of a model's gate matrices for the online step. Stepping many series, each with its own
// weights, is bound by streaming the weights from memory; bf16 halves those bytes, and unlike IEEE Float16
// its conversion to Float32 is a 16-bit shift, which vectorises (Swift's SIMD Float16/UInt16 widening
// conversions compile to out-of-line calls here).
//
// Storage: each 16-float block of a gate row becomes 8 UInt32 words; word k holds bf16(w[k]) in its low half
// and bf16(w[k+8]) in its high half, so one 32-byte load yields all 16 weights with two bit operations.
// Biases and head stay Float32 (they are read once per step and small).

/// A read-only inference copy of a model with bfloat16 gate matrices (half the bytes per step); predictions
/// differ from the Float32 model by the weights' rounding (relative 2^-9 per weight). Training stays Float32.
public struct CompactRecurrentModel: Sendable, Equatable {
    public let shape: ModelShape
    /// wx then wh, paired bf16 words (see the file comment).
    let matrices: [UInt32]
    /// bx, bh (GRU), head rows, head biases: the Float32 tail of the parameter layout.
    let rest: [Float]

    /// Whether a shape can be compacted: the hidden size must be a multiple of 16 (SIMD blocks).
    public static func supports(_ shape: ModelShape) -> Bool {
        shape.hiddenSize > 0 && shape.hiddenSize % 16 == 0 && shape.inputSize > 0
    }

    /// The compact copy of `model`, or nil when its shape is not supported (`supports(_:)`).
    public init?(_ model: RecurrentModel) {
        let l = Layout(model.shape)
        guard Self.supports(model.shape), model.parameters.count == l.count else { return nil }
        shape = model.shape
        let p = model.parameters
        let floats = l.bx // wx and wh are contiguous from 0
        var words = [UInt32](repeating: 0, count: floats / 2)
        var b = 0
        while b < floats {
            for k in 0..<8 {
                words[b / 2 + k] = UInt32(bfloat16Bits(p[b + k])) | UInt32(bfloat16Bits(p[b + k + 8])) << 16
            }
            b += 16
        }
        matrices = words
        rest = Array(p[l.bx...])
    }

    /// The Float32 model these weights stand for (the gate matrices as their bfloat16 values, the rest as stored).
    public func expanded() -> RecurrentModel {
        let l = Layout(shape)
        var p = [Float](repeating: 0, count: l.count)
        var b = 0
        while b < l.bx {
            for k in 0..<8 {
                let w = matrices[b / 2 + k]
                p[b + k] = Float(bitPattern: w << 16)
                p[b + k + 8] = Float(bitPattern: w & 0xFFFF_0000)
            }
            b += 16
        }
        for (i, v) in rest.enumerated() { p[l.bx + i] = v }
        return RecurrentModel(shape: shape, parameters: p)
    }

    /// The online step, as `RecurrentModel.step`: consume one input, advance `state`, predict the next value.
    /// Allocates nothing.
    public func step(input: UnsafeBufferPointer<Float>, state: inout RecurrentState) -> Prediction {
        let l = Layout(shape)
        precondition(input.count >= l.inputs, "step input has fewer floats than shape.inputSize")
        precondition(state.h.count == l.hidden && (l.cell != .lstm || state.c.count == l.hidden),
                     "recurrent state does not match the model shape")
        guard let x = input.baseAddress else { return Prediction(mean: 0, logVariance: 0) }
        let h = l.hidden, gh = l.gh
        // Offsets into `rest` (the layout shifted by bx).
        let bx = 0, bh = l.bh - l.bx, headW = l.headW - l.bx, headB = l.headB - l.bx
        return matrices.withUnsafeBufferPointer { mb -> Prediction in
            rest.withUnsafeBufferPointer { rb -> Prediction in
                guard let m = mb.baseAddress, let r = rb.baseAddress else { return Prediction(mean: 0, logVariance: 0) }
                let wx = m, wh = m + l.inputs * gh / 2
                return withUnsafeTemporaryAllocation(of: Float.self, capacity: l.stashWidth) { sb -> Prediction in
                    guard let a = sb.baseAddress else { return Prediction(mean: 0, logVariance: 0) }
                    return state.h.withUnsafeMutableBufferPointer { hb -> Prediction in
                        guard let hp = hb.baseAddress else { return Prediction(mean: 0, logVariance: 0) }
                        switch l.cell {
                        case .lstm:
                            a.update(from: r + bx, count: gh)
                            gemvBF16(a, gh, wx, x, l.inputs)
                            gemvBF16(a, gh, wh, hp, h)
                            state.c.withUnsafeMutableBufferPointer { cb in
                                if let c = cb.baseAddress {
                                    Float.lstmPointwise(a, cPrev: c, cOut: c, hOut: hp, h)
                                }
                            }
                        case .gru:
                            let ah = a + gh
                            a.update(from: r + bx, count: gh)
                            gemvBF16(a, gh, wx, x, l.inputs)
                            ah.update(from: r + bh, count: gh)
                            gemvBF16(ah, gh, wh, hp, h)
                            Float.gruPointwise(a, ah: ah, hPrev: hp, hOut: hp, h)
                        case .rnn:
                            a.update(from: r + bx, count: gh)
                            gemvBF16(a, gh, wx, x, l.inputs)
                            gemvBF16(a, gh, wh, hp, h)
                            Float.tanh(a, h)
                            hp.update(from: a, count: h)
                        }
                        return headPrediction(rows: r + headW, biases: r + headB, hp, h, outputs: l.outputs)
                    }
                }
            }
        }
    }
}

/// Round-to-nearest-even Float32 → bfloat16 bits (weights are finite; NaN is not special-cased).
@inline(__always) func bfloat16Bits(_ f: Float) -> UInt16 {
    let bits = f.bitPattern
    return UInt16(truncatingIfNeeded: (bits &+ 0x7FFF &+ ((bits >> 16) & 1)) >> 16)
}

/// 16 weights from one paired block: low halves are weights 0..<8, high halves 8..<16.
@inline(__always) func loadBF16Block(_ p: UnsafePointer<UInt32>) -> V16 {
    let w = UnsafeRawPointer(p).loadUnaligned(as: SIMD8<UInt32>.self)
    let lo = unsafeBitCast(w &<< 16, to: SIMD8<Float>.self)
    let hi = unsafeBitCast(w & 0xFFFF_0000, to: SIMD8<Float>.self)
    return V16(lowHalf: lo, highHalf: hi)
}

/// out[0..<n] += Σ_j v[j] · row_j, rows of n bf16 weights stored as n/2 paired words; n is a multiple of 16.
@inline(__always)
func gemvBF16(_ out: UnsafeMutablePointer<Float>, _ n: Int, _ rows: UnsafePointer<UInt32>,
              _ v: UnsafePointer<Float>, _ k: Int) {
    let stride = n / 2
    var o = 0
    while o + 64 <= n {
        var a0 = load16(out + o), a1 = load16(out + o + 16), a2 = load16(out + o + 32), a3 = load16(out + o + 48)
        var r = rows + o / 2
        for j in 0..<k {
            let s = V16(repeating: v[j])
            a0 = a0.addingProduct(s, loadBF16Block(r))
            a1 = a1.addingProduct(s, loadBF16Block(r + 8))
            a2 = a2.addingProduct(s, loadBF16Block(r + 16))
            a3 = a3.addingProduct(s, loadBF16Block(r + 24))
            r += stride
        }
        store16(a0, out + o); store16(a1, out + o + 16); store16(a2, out + o + 32); store16(a3, out + o + 48)
        o += 64
    }
    while o + 16 <= n {
        var a0 = load16(out + o)
        var r = rows + o / 2
        for j in 0..<k {
            a0 = a0.addingProduct(V16(repeating: v[j]), loadBF16Block(r))
            r += stride
        }
        store16(a0, out + o)
        o += 16
    }
}
