// An int8 copy of a model's gate matrices for the online step: a quarter of the Float32 bytes. Stepping many
// series, each with its own weights, is bound by streaming the weights from memory, so bytes per step are
// what sets the rate.
//
// Quantisation: symmetric, one scale per gate column (output unit) and per block (Wx, Wh), so the
// scale factors out of the column-panel product: a = b + sx ⊙ Σ_j x_j q_j + sh ⊙ Σ_j h_j q_j. Each step also
// quantises x and h to int16 (one scale each, max|·|/32767: a relative step of 3e-5, far below the weights'
// 1/254), so both sums are exact int32 dot products (`omen_i8_gates` in COmenSupport: AVX2 `vpmaddwd`, 16
// weights per instruction, instead of widening every weight to a Float).
//
// Storage: one allocation per model, its reference count included (so one contiguous stream to prefetch and no
// second object whose count a copy of the model would touch), holding
//   panels  the (I + H) × GH int8 weights in the panel order `omen_i8_panel_offset` defines: 64 gate columns
//           at a time, rows in pairs, so the kernel reads one contiguous stream
//   halves  sx (GH), sh (GH), bx (GH), bh (GH, GRU only) as IEEE half precision: the scales multiplied by a
//           power of two (`unit` undoes it) so the largest sits near 2^14, far from the half range's ends; a
//           half's relative error (2^-11) is a tenth of the int8 weights' own
//   floats  head rows, head biases (Float32: the prediction itself is read from them)

import COmenSupport
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A read-only inference copy of a model with int8 gate matrices (one scale per gate column and block);
/// predictions differ from the Float32 model by the quantisation (≤ 1/254 of a column's largest weight per
/// weight, 2^-11 relative per scale and bias, 1/65534 of the largest input per step) and by the LSTM's rational
/// sigmoid/tanh (absolute error ~1e-7). Training stays Float32.
public struct QuantizedRecurrentModel: Sendable, Equatable {
    public let shape: ModelShape
    /// Written once in `init`, then only read, so sharing it across threads is safe.
    nonisolated(unsafe) private let storage: ManagedBuffer<Int, Float>
    private let byteCount: Int
    /// Byte offset of the half-precision section (scales, biases); the Float32 head follows at `headAt`.
    private let halvesAt: Int
    private let headAt: Int
    /// The power of two the stored half-precision scales are multiplied by to give the true scales.
    private let unit: Float
    /// The shape's sizes, kept so the step does not recompute a `Layout`.
    private let inputs: Int, hidden: Int, gh: Int, outputs: Int, stashWidth: Int

    /// Whether a shape can be quantised: the hidden size a multiple of 16, and at most 512 inputs and hidden
    /// units (so the kernel's int32 sums cannot overflow).
    public static func supports(_ shape: ModelShape) -> Bool {
        let l = Layout(shape)
        return l.hidden > 0 && l.hidden % 16 == 0 && l.inputs > 0
            && l.inputs <= Int(OMEN_I8_MAX_INPUTS) && l.hidden <= Int(OMEN_I8_MAX_INPUTS)
    }

    /// Weight bytes one step reads (matrices, scales, biases and head).
    public var bytesPerStep: Int { byteCount }

    /// The int8 copy of `model`, or nil when its shape is not supported (`supports(_:)`) or a weight is not finite.
    public init?(_ model: RecurrentModel) {
        let l = Layout(model.shape)
        guard Self.supports(model.shape), model.parameters.count == l.count,
              model.parameters.allSatisfy({ $0.isFinite }) else { return nil }
        shape = model.shape
        inputs = l.inputs
        hidden = l.hidden
        gh = l.gh
        outputs = l.outputs
        stashWidth = l.stashWidth
        let pairs = (l.inputs + 1) / 2 + (l.hidden + 1) / 2
        let matrixBytes = 2 * pairs * l.gh  // a multiple of 32: gh is a multiple of 16
        let halves = (l.cell == .gru ? 4 : 3) * l.gh
        let head = l.outputs * l.hidden + l.outputs
        halvesAt = matrixBytes
        headAt = matrixBytes + 2 * halves
        byteCount = headAt + 4 * head
        let p = model.parameters
        // Scales per column and block, and the power of two that puts the largest near 2^14 in half precision.
        var scales = [Float](repeating: 0, count: 2 * l.gh)
        for block in 0..<2 {
            let first = block == 0 ? 0 : l.inputs, count = block == 0 ? l.inputs : l.hidden
            for o in 0..<l.gh {
                var largest: Float = 0
                for j in first..<(first + count) { largest = max(largest, abs(p[j * l.gh + o])) }
                scales[block * l.gh + o] = largest / 127
            }
        }
        let largestScale = scales.max() ?? 0
        let shift = largestScale > 0 ? max(-100, min(100, 14 - Int(largestScale.exponent))) : 0
        let up = Float(sign: .plus, exponent: shift, significand: 1)
        unit = Float(sign: .plus, exponent: -shift, significand: 1)
        let floats = (byteCount + 3) / 4, halvesAt = matrixBytes, headAt = headAt
        storage = ManagedBuffer<Int, Float>.create(minimumCapacity: floats) { _ in floats }
        storage.withUnsafeMutablePointerToElements { e in
            e.initialize(repeating: 0, count: floats)
            let out = UnsafeMutableRawPointer(e)
            // Quantise against the scale as stored (rounded to half precision), so each weight is the nearest
            // multiple of the scale the step will use.
            var inverse = [Float](repeating: 0, count: 2 * l.gh)
            for i in 0..<(2 * l.gh) {
                let bits = omen_f16_bits(scales[i] * up)
                out.storeBytes(of: bits, toByteOffset: halvesAt + 2 * i, as: UInt16.self)
                let stored = halfToFloat(bits) * unit
                inverse[i] = stored > 0 ? 1 / stored : 0
            }
            for j in 0..<(l.inputs + l.hidden) {
                let inv = j < l.inputs ? 0 : l.gh
                for o in 0..<l.gh {
                    let q = (p[j * l.gh + o] * inverse[inv + o]).rounded(.toNearestOrAwayFromZero)
                    let byte = Int8(max(-127, min(127, q)))
                    let offset = omen_i8_panel_offset(Int32(l.gh), Int32(l.inputs), Int32(l.hidden), Int32(j), Int32(o))
                    out.storeBytes(of: byte, toByteOffset: offset, as: Int8.self)
                }
            }
            // Biases bx (and bh), then the head rows and biases.
            for i in 0..<(halves - 2 * l.gh) {
                let bias = max(-65504, min(65504, p[l.bx + i])) // the half range; a sigmoid there is saturated anyway
                out.storeBytes(of: omen_f16_bits(bias), toByteOffset: halvesAt + 2 * (2 * l.gh + i), as: UInt16.self)
            }
            for i in 0..<head {
                out.storeBytes(of: p[l.headW + i], toByteOffset: headAt + 4 * i, as: Float.self)
            }
        }
    }

    /// A copy rebuilt from the bytes `storageBytes` returned (checkpoints: the stepping weights exactly as they
    /// were, rather than re-quantised from rounded master weights). Nil when the shape is not supported or the
    /// byte count does not match it.
    init?(shape: ModelShape, unit: Float, storageBytes bytes: [UInt8]) {
        let l = Layout(shape)
        guard Self.supports(shape), unit.isFinite, unit > 0 else { return nil }
        self.shape = shape
        inputs = l.inputs
        hidden = l.hidden
        gh = l.gh
        outputs = l.outputs
        stashWidth = l.stashWidth
        let pairs = (l.inputs + 1) / 2 + (l.hidden + 1) / 2
        let matrixBytes = 2 * pairs * l.gh
        let halves = (l.cell == .gru ? 4 : 3) * l.gh
        let head = l.outputs * l.hidden + l.outputs
        halvesAt = matrixBytes
        headAt = matrixBytes + 2 * halves
        byteCount = headAt + 4 * head
        guard bytes.count == byteCount else { return nil }
        self.unit = unit
        let floats = (byteCount + 3) / 4, count = byteCount
        storage = ManagedBuffer<Int, Float>.create(minimumCapacity: floats) { _ in floats }
        storage.withUnsafeMutablePointerToElements { e in
            e.initialize(repeating: 0, count: floats)
            bytes.withUnsafeBytes { src in
                if let base = src.baseAddress { UnsafeMutableRawPointer(e).copyMemory(from: base, byteCount: count) }
            }
        }
    }

    /// The stepping weights' bytes and the power of two their scales are stored against (see `init(shape:unit:storageBytes:)`).
    var storageBytes: (unit: Float, bytes: [UInt8]) {
        let count = byteCount
        let bytes = storage.withUnsafeMutablePointerToElements { e in
            [UInt8](UnsafeRawBufferPointer(start: UnsafeRawPointer(e), count: count))
        }
        return (unit, bytes)
    }

    /// The Float32 model these int8 weights stand for: each gate weight its int8 code (plus its `residual` code
    /// /254, when given) times its column's scale, biases from their half-precision copies, the head as stored.
    /// Without a residual, re-quantising it gives these weights back (every column's largest code is ±127, so its
    /// scale comes out the same).
    public func dequantized(residual: QuantizationResidual? = nil) -> RecurrentModel {
        let l = Layout(shape)
        let fine = residual.flatMap { $0.shape == shape ? $0.codes : nil }
        var p = [Float](repeating: 0, count: l.count)
        forEachGateWeight { index, code, scale in
            let q = Float(code) + (fine.map { Float($0[index]) / QuantizationResidual.steps } ?? 0)
            p[index] = q * scale
        }
        let halves = (l.cell == .gru ? 4 : 3) * l.gh, head = l.outputs * l.hidden + l.outputs
        let halvesAt = halvesAt, headAt = headAt
        storage.withUnsafeMutablePointerToElements { e in
            let raw = UnsafeRawPointer(e)
            for i in 0..<(halves - 2 * l.gh) {
                let bits = raw.loadUnaligned(fromByteOffset: halvesAt + 2 * (2 * l.gh + i), as: UInt16.self)
                p[l.bx + i] = halfToFloat(bits)
            }
            for i in 0..<head {
                p[l.headW + i] = raw.loadUnaligned(fromByteOffset: headAt + 4 * i, as: Float.self)
            }
        }
        return RecurrentModel(shape: shape, parameters: p)
    }

    /// Calls `body(index, code, scale)` for every gate weight (wx then wh, `index` in `RecurrentModel.parameters`
    /// order): its int8 code and its column's scale as the step uses it.
    func forEachGateWeight(_ body: (Int, Int8, Float) -> Void) {
        let l = Layout(shape)
        let halvesAt = halvesAt, unit = unit
        storage.withUnsafeMutablePointerToElements { e in
            let raw = UnsafeRawPointer(e)
            var scales = [Float](repeating: 0, count: 2 * l.gh)
            for i in 0..<(2 * l.gh) {
                scales[i] = halfToFloat(raw.loadUnaligned(fromByteOffset: halvesAt + 2 * i, as: UInt16.self)) * unit
            }
            for j in 0..<(l.inputs + l.hidden) {
                let block = j < l.inputs ? 0 : l.gh
                for o in 0..<l.gh {
                    let offset = omen_i8_panel_offset(Int32(l.gh), Int32(l.inputs), Int32(l.hidden), Int32(j), Int32(o))
                    body(j * l.gh + o, raw.load(fromByteOffset: offset, as: Int8.self), scales[block + o])
                }
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
        omen_prefetch_write(Unmanaged.passUnretained(next.storage).toOpaque())
        return stepCore(input: input, state: &state, next: next.byteCount == byteCount ? next.weightBase : nil)
    }

    /// As `step(input:state:prefetching:)` with the next model given by its footprint's address only (no copy of
    /// it, so no write to its cold reference count); a footprint of another size is prefetched in one burst.
    public func step(input: UnsafeBufferPointer<Float>, state: inout RecurrentState,
                     prefetching next: StepFootprint) -> Prediction {
        guard next.weightBytes == byteCount, let base = next.weights else {
            next.prefetchWeights()
            return stepCore(input: input, state: &state, next: nil)
        }
        return stepCore(input: input, state: &state, next: base)
    }

    /// The address of the weights the step reads (for footprints; valid while this model's storage lives).
    var weightBase: UnsafeRawPointer {
        storage.withUnsafeMutablePointerToElements { UnsafeRawPointer($0) }
    }

    @inline(__always)
    private func stepCore(input: UnsafeBufferPointer<Float>, state: inout RecurrentState,
                          next nextBase: UnsafeRawPointer?) -> Prediction {
        let h = hidden, gh = gh, inputs = inputs
        precondition(input.count >= inputs, "step input has fewer floats than shape.inputSize")
        precondition(state.h.count == h && (shape.cell != .lstm || state.c.count == h),
                     "recurrent state does not match the model shape")
        guard let x = input.baseAddress else { return Prediction(mean: 0, logVariance: 0) }
        let halvesAt = halvesAt, headAt = headAt, outputs = outputs, unit = unit
        // The next model's panels at the same offsets: `delta` bytes away (0: no prefetch).
        var delta = 0
        if let nextBase {
            // The fused LSTM step fetches the rest after its products; the other cells take it in one burst.
            if shape.cell != .lstm { omen_prefetch_range(nextBase + halvesAt, byteCount - halvesAt) }
            delta = storage.withUnsafeMutablePointerToElements { nextBase - UnsafeRawPointer($0) }
        }
        let cell = shape.cell
        return storage.withUnsafeMutablePointerToElements { e -> Prediction in
            let panels = UnsafeRawPointer(e).assumingMemoryBound(to: Int8.self)
            let halves = (UnsafeRawPointer(e) + halvesAt).assumingMemoryBound(to: UInt16.self)
            let sx = halves, sh = halves + gh, bx = halves + 2 * gh, bh = halves + 3 * gh
            let head = (UnsafeRawPointer(e) + headAt).assumingMemoryBound(to: Float.self)
            let headW = head, headB = head + outputs * h
            if cell == .lstm {
                // One fused C call: gates, pointwise, head (the hot path: no stash, no Swift loops).
                return state.h.withUnsafeMutableBufferPointer { hb -> Prediction in
                    state.c.withUnsafeMutableBufferPointer { cb -> Prediction in
                        guard let hp = hb.baseAddress, let c = cb.baseAddress else {
                            return Prediction(mean: 0, logVariance: 0)
                        }
                        var raw: Float = 0
                        let mean = omen_i8_lstm_step(Int32(h), panels, sx, sh, unit, bx, headW, headB,
                                                     Int32(outputs), x, Int32(inputs), hp, c, &raw, delta)
                        return Prediction(mean: mean, logVariance: outputs == 2 ? clampLogVariance(raw) : 0)
                    }
                }
            }
            return withUnsafeTemporaryAllocation(of: Float.self, capacity: stashWidth) { sb -> Prediction in
                guard let a = sb.baseAddress else { return Prediction(mean: 0, logVariance: 0) }
                return state.h.withUnsafeMutableBufferPointer { hb -> Prediction in
                    guard let hp = hb.baseAddress else { return Prediction(mean: 0, logVariance: 0) }
                    if cell == .gru {
                        let ah = a + gh
                        omen_i8_gates(a, ah, Int32(gh), bx, bh, panels, sx, sh, unit, x, Int32(inputs), hp, Int32(h),
                                      delta)
                        Float.gruPointwise(a, ah: ah, hPrev: hp, hOut: hp, h)
                    } else {
                        omen_i8_gates(a, nil, Int32(gh), bx, nil, panels, sx, sh, unit, x, Int32(inputs), hp, Int32(h),
                                      delta)
                        Float.tanh(a, h)
                        hp.update(from: a, count: h)
                    }
                    return headPrediction(rows: headW, biases: headB, hp, h, outputs: outputs)
                }
            }
        }
    }
}

/// IEEE half-precision bits to Float (exact), as the kernels read them.
func halfToFloat(_ bits: UInt16) -> Float {
    let sign: Float = bits & 0x8000 != 0 ? -1 : 1
    let exponent = Int((bits >> 10) & 0x1F), mantissa = Float(bits & 0x3FF)
    if exponent == 0 { return sign * mantissa * 0x1p-24 }
    if exponent == 31 { return mantissa == 0 ? sign * .infinity : .nan }
    return sign * Float(sign: .plus, exponent: exponent - 15, significand: 1 + mantissa / 1024)
}
