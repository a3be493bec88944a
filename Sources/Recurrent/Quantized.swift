// An int8 copy of a model's gate matrices for the online step: a quarter of the Float32 bytes. Stepping many
// series, each with its own weights, is bound by streaming the weights from memory, so bytes per step are
// what sets the rate.
//
// Quantisation: symmetric, one Float32 scale per gate column (output unit) and per block (Wx, Wh), so the
// scale factors out of the column-panel product: a = b + sx ⊙ Σ_j x_j q_j + sh ⊙ Σ_j h_j q_j.
//
// Storage: one allocation per model, its reference count included (so one contiguous stream to prefetch and no
// second object whose count a copy of the model would touch), holding
//   matrix  (I + H) rows × GH int8, each 32-weight block as 8 UInt32 words: byte b of word k is weight 8b + k
//   floats  sx (GH), sh (GH), then the Float32 tail of the parameter layout (bx, bh, head rows, head biases)
// One 32-byte load yields 32 weights; each byte is moved to the top of its 32-bit lane (a shift and a mask)
// and converted exactly to Float as q·2^24, the 2^-24 being folded into the stored scales. Swift's SIMD
// Int8→Int32 widening conversions compile to out-of-line calls here; shifts, masks and Int32→Float do not.

import COmenSupport
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A read-only inference copy of a model with int8 gate matrices (one scale per gate column and block);
/// predictions differ from the Float32 model by the quantisation (≤ 1/254 of a column's largest weight per
/// weight). Training stays Float32.
public struct QuantizedRecurrentModel: Sendable, Equatable {
    public let shape: ModelShape
    /// Written once in `init`, then only read, so sharing it across threads is safe.
    nonisolated(unsafe) private let storage: ManagedBuffer<Int, Float>
    private let byteCount: Int
    /// Byte offset of the Float section (scales, then the Float32 tail).
    private let floatsAt: Int

    /// Whether a shape can be quantised: the hidden size a multiple of 16 and the gate width a multiple of 32.
    public static func supports(_ shape: ModelShape) -> Bool {
        let l = Layout(shape)
        return l.hidden > 0 && l.hidden % 16 == 0 && l.gh % 32 == 0 && l.inputs > 0
    }

    /// Weight bytes one step reads (matrices, scales, biases and head).
    public var bytesPerStep: Int { byteCount }

    /// The int8 copy of `model`, or nil when its shape is not supported (`supports(_:)`) or a weight is not finite.
    public init?(_ model: RecurrentModel) {
        let l = Layout(model.shape)
        guard Self.supports(model.shape), model.parameters.count == l.count,
              model.parameters.allSatisfy({ $0.isFinite }) else { return nil }
        shape = model.shape
        let rows = l.inputs + l.hidden
        let matrixBytes = rows * l.gh
        let tail = l.count - l.bx
        floatsAt = matrixBytes
        byteCount = matrixBytes + 4 * (2 * l.gh + tail)
        let floats = (byteCount + 3) / 4, at = matrixBytes
        storage = ManagedBuffer<Int, Float>.create(minimumCapacity: floats) { _ in floats }
        let p = model.parameters
        storage.withUnsafeMutablePointerToElements { e in
            e.initialize(repeating: 0, count: floats)
            let out = UnsafeMutableRawPointer(e)
            // Scales per column and block; stored with the 2^-24 of the q·2^24 decoding folded in.
            var inverse = [Float](repeating: 0, count: 2 * l.gh)
            for block in 0..<2 {
                let first = block == 0 ? 0 : l.inputs, count = block == 0 ? l.inputs : l.hidden
                for o in 0..<l.gh {
                    var largest: Float = 0
                    for j in first..<(first + count) { largest = max(largest, abs(p[j * l.gh + o])) }
                    let scale = largest / 127
                    inverse[block * l.gh + o] = scale > 0 ? 1 / scale : 0
                    out.storeBytes(of: scale * 0x1p-24, toByteOffset: at + 4 * (block * l.gh + o), as: Float.self)
                }
            }
            for j in 0..<rows {
                let inv = j < l.inputs ? 0 : l.gh
                for o in 0..<l.gh {
                    let q = (p[j * l.gh + o] * inverse[inv + o]).rounded(.toNearestOrAwayFromZero)
                    let byte = Int8(max(-127, min(127, q)))
                    // Block of 32 columns; inside it weight w = 8b + k lives in byte b of word k.
                    let block = o / 32, w = o % 32
                    out.storeBytes(of: byte, toByteOffset: j * l.gh + block * 32 + 4 * (w % 8) + w / 8, as: Int8.self)
                }
            }
            for i in 0..<tail {
                out.storeBytes(of: p[l.bx + i], toByteOffset: at + 4 * (2 * l.gh + i), as: Float.self)
            }
        }
    }

    public static func == (a: Self, b: Self) -> Bool {
        a.shape == b.shape && a.byteCount == b.byteCount
            && a.storage.withUnsafeMutablePointerToElements { pa in
                b.storage.withUnsafeMutablePointerToElements { pb in memcmp(pa, pb, a.byteCount) == 0 }
            }
    }

    /// Asks the CPU to start loading this model's weights into cache: call it for the next series while
    /// stepping the current one, so the memory latency overlaps with work. The object's first line (its
    /// reference count, which a copy of the model writes) is fetched for writing.
    @inline(__always)
    public func prefetch() {
        omen_prefetch_write(Unmanaged.passUnretained(storage).toOpaque())
        storage.withUnsafeMutablePointerToElements { e in omen_prefetch_range(e, byteCount) }
    }

    /// The online step, as `RecurrentModel.step`: consume one input, advance `state`, predict the next value.
    /// Allocates nothing.
    public func step(input: UnsafeBufferPointer<Float>, state: inout RecurrentState) -> Prediction {
        stepCore(input: input, state: &state, next: nil)
    }

    /// The online step, fetching `next`'s weights into cache meanwhile: one line of `next` per line of this
    /// model's matrices as the product reads them, so the memory traffic is spread over the step instead of
    /// queued in one burst (`prefetch()`) ahead of this model's own loads.
    public func step(input: UnsafeBufferPointer<Float>, state: inout RecurrentState,
                     prefetching next: QuantizedRecurrentModel) -> Prediction {
        stepCore(input: input, state: &state, next: next)
    }

    @inline(__always)
    private func stepCore(input: UnsafeBufferPointer<Float>, state: inout RecurrentState,
                          next: QuantizedRecurrentModel?) -> Prediction {
        let l = Layout(shape)
        precondition(input.count >= l.inputs, "step input has fewer floats than shape.inputSize")
        precondition(state.h.count == l.hidden && (l.cell != .lstm || state.c.count == l.hidden),
                     "recurrent state does not match the model shape")
        guard let x = input.baseAddress else { return Prediction(mean: 0, logVariance: 0) }
        let h = l.hidden, gh = l.gh
        // Offsets into the Float32 tail (the layout shifted by bx).
        let bh = l.bh - l.bx, headW = l.headW - l.bx, headB = l.headB - l.bx
        let floatsAt = floatsAt
        // The next model's matrices at the same offsets: `delta` bytes away (0, a cache hit, when there is none).
        var delta = 0
        if let next, next.byteCount == byteCount {
            let nextBase = next.storage.withUnsafeMutablePointerToElements { UnsafeRawPointer($0) }
            omen_prefetch_write(Unmanaged.passUnretained(next.storage).toOpaque())
            omen_prefetch_range(nextBase + floatsAt, byteCount - floatsAt)
            delta = storage.withUnsafeMutablePointerToElements { nextBase - UnsafeRawPointer($0) }
        }
        return storage.withUnsafeMutablePointerToElements { e -> Prediction in
            let base = UnsafeRawPointer(e)
            let wx = base, wh = base + l.inputs * gh
            let f = UnsafePointer(e) + floatsAt / 4
            let sx = f, sh = f + gh, r = f + 2 * gh
            return withUnsafeTemporaryAllocation(of: Float.self, capacity: l.stashWidth) { sb -> Prediction in
                guard let a = sb.baseAddress else { return Prediction(mean: 0, logVariance: 0) }
                return state.h.withUnsafeMutableBufferPointer { hb -> Prediction in
                    guard let hp = hb.baseAddress else { return Prediction(mean: 0, logVariance: 0) }
                    switch l.cell {
                    case .lstm:
                        affineInt8(a, gh, bias: r, wx, x, l.inputs, sx, wh, hp, h, sh, prefetch: delta)
                        state.c.withUnsafeMutableBufferPointer { cb in
                            if let c = cb.baseAddress {
                                Float.lstmPointwise(a, cPrev: c, cOut: c, hOut: hp, h)
                            }
                        }
                    case .gru:
                        let ah = a + gh
                        affineInt8(a, gh, bias: r, wx, x, l.inputs, sx, wh, hp, 0, sh, prefetch: delta)
                        affineInt8(ah, gh, bias: r + bh, wx, x, 0, sx, wh, hp, h, sh, prefetch: delta)
                        Float.gruPointwise(a, ah: ah, hPrev: hp, hOut: hp, h)
                    case .rnn:
                        affineInt8(a, gh, bias: r, wx, x, l.inputs, sx, wh, hp, h, sh, prefetch: delta)
                        Float.tanh(a, h)
                        hp.update(from: a, count: h)
                    }
                    return headPrediction(rows: r + headW, biases: r + headB, hp, h, outputs: l.outputs)
                }
            }
        }
    }
}

/// 32 int8 weights of one block as two V16 (weights 0..<16, 16..<32), each exactly q·2^24.
@inline(__always) func loadInt8Block(_ p: UnsafeRawPointer) -> (V16, V16) {
    let w = p.loadUnaligned(as: SIMD8<UInt32>.self)
    let top = SIMD8<UInt32>(repeating: 0xFF00_0000)
    let b0 = SIMD8<Float>(unsafeBitCast(w &<< 24, to: SIMD8<Int32>.self))
    let b1 = SIMD8<Float>(unsafeBitCast((w &<< 16) & top, to: SIMD8<Int32>.self))
    let b2 = SIMD8<Float>(unsafeBitCast((w &<< 8) & top, to: SIMD8<Int32>.self))
    let b3 = SIMD8<Float>(unsafeBitCast(w & top, to: SIMD8<Int32>.self))
    return (V16(lowHalf: b0, highHalf: b1), V16(lowHalf: b2, highHalf: b3))
}

/// out[0..<n] = bias + su ⊙ Σ_j u[j]·Qu_j + sv ⊙ Σ_j v[j]·Qv_j, rows of n int8 weights (n a multiple of 32).
/// Four SIMD16 accumulators per 64-column panel stay in registers over each block's rows. Each 64-byte row
/// segment read also prefetches the line `prefetch` bytes away (the next model's same line).
@inline(__always)
func affineInt8(_ out: UnsafeMutablePointer<Float>, _ n: Int, bias: UnsafePointer<Float>,
                _ qu: UnsafeRawPointer, _ u: UnsafePointer<Float>, _ ku: Int, _ su: UnsafePointer<Float>,
                _ qv: UnsafeRawPointer, _ v: UnsafePointer<Float>, _ kv: Int, _ sv: UnsafePointer<Float>,
                prefetch delta: Int = 0) {
    var o = 0
    while o + 64 <= n {
        var a0 = V16(), a1 = V16(), a2 = V16(), a3 = V16()
        var r = qu + o
        for j in 0..<ku {
            omen_prefetch(r + delta)
            let s = V16(repeating: u[j])
            let (w0, w1) = loadInt8Block(r), (w2, w3) = loadInt8Block(r + 32)
            a0 = a0.addingProduct(s, w0); a1 = a1.addingProduct(s, w1)
            a2 = a2.addingProduct(s, w2); a3 = a3.addingProduct(s, w3)
            r += n
        }
        store16(load16(bias + o).addingProduct(a0, load16(su + o)), out + o)
        store16(load16(bias + o + 16).addingProduct(a1, load16(su + o + 16)), out + o + 16)
        store16(load16(bias + o + 32).addingProduct(a2, load16(su + o + 32)), out + o + 32)
        store16(load16(bias + o + 48).addingProduct(a3, load16(su + o + 48)), out + o + 48)
        a0 = V16(); a1 = V16(); a2 = V16(); a3 = V16()
        r = qv + o
        for j in 0..<kv {
            omen_prefetch(r + delta)
            let s = V16(repeating: v[j])
            let (w0, w1) = loadInt8Block(r), (w2, w3) = loadInt8Block(r + 32)
            a0 = a0.addingProduct(s, w0); a1 = a1.addingProduct(s, w1)
            a2 = a2.addingProduct(s, w2); a3 = a3.addingProduct(s, w3)
            r += n
        }
        store16(load16(out + o).addingProduct(a0, load16(sv + o)), out + o)
        store16(load16(out + o + 16).addingProduct(a1, load16(sv + o + 16)), out + o + 16)
        store16(load16(out + o + 32).addingProduct(a2, load16(sv + o + 32)), out + o + 32)
        store16(load16(out + o + 48).addingProduct(a3, load16(sv + o + 48)), out + o + 48)
        o += 64
    }
    while o + 32 <= n {
        var a0 = V16(), a1 = V16()
        var r = qu + o
        for j in 0..<ku {
            omen_prefetch(r + delta)
            let s = V16(repeating: u[j])
            let (w0, w1) = loadInt8Block(r)
            a0 = a0.addingProduct(s, w0); a1 = a1.addingProduct(s, w1)
            r += n
        }
        var c0 = V16(), c1 = V16()
        r = qv + o
        for j in 0..<kv {
            omen_prefetch(r + delta)
            let s = V16(repeating: v[j])
            let (w0, w1) = loadInt8Block(r)
            c0 = c0.addingProduct(s, w0); c1 = c1.addingProduct(s, w1)
            r += n
        }
        store16(load16(bias + o).addingProduct(a0, load16(su + o)).addingProduct(c0, load16(sv + o)), out + o)
        store16(load16(bias + o + 16).addingProduct(a1, load16(su + o + 16)).addingProduct(c1, load16(sv + o + 16)),
                out + o + 16)
        o += 32
    }
}
