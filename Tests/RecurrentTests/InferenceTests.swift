import COmenSupport
import Testing
@testable import Recurrent

#if canImport(Glibc)
import Glibc
#endif

/// The largest difference in prediction (mean, log-variance) or hidden state between the Float32 `model` and its
/// inference `copy`, stepped side by side over `steps` random inputs drawn from `rng`.
func worstTrackingError(_ model: RecurrentModel, _ copy: InferenceModel, steps: Int,
                        rng: inout SeededGenerator) -> Float {
    let shape = model.shape
    var s32 = RecurrentState(shape: shape), sCopy = RecurrentState(shape: shape)
    var worst: Float = 0
    for _ in 0..<steps {
        let x = (0..<shape.inputSize).map { _ in Float(rng.symmetric(1.5)) }
        let p32 = x.withUnsafeBufferPointer { model.step(input: $0, state: &s32) }
        let pc = x.withUnsafeBufferPointer { copy.step(input: $0, state: &sCopy) }
        worst = max(worst, abs(p32.mean - pc.mean), abs(p32.logVariance - pc.logVariance))
        for k in 0..<shape.hiddenSize { worst = max(worst, abs(s32.h[k] - sCopy.h[k])) }
    }
    return worst
}

@Suite struct QuantizedModelTests {
    /// The int8 copy of weights that are exact multiples of each column's scale (a scale and biases that half
    /// precision holds exactly) steps like the Float32 model to 1e-4 over 200 steps: the packing, the panel
    /// order and the stored scales lose nothing; what is left is the per-step int16 rounding of x and h.
    @Test(arguments: CellKind.allCases)
    func exactWeightsStepExactly(cell: CellKind) throws {
        let shape = ModelShape(cell: cell, inputSize: 5, hiddenSize: 32)
        let l = Layout(shape)
        var rng = SeededGenerator(seed: 9)
        var p = RecurrentModel(shape: shape, seed: 3).parameters
        // Every gate column of each block: weights q·m/127 with |q| ≤ 127 and one weight exactly ±m, where the
        // scale m/127 = k·2^-18 has at most 11 significant bits (so half precision holds it).
        for block in 0..<2 {
            let first = block == 0 ? 0 : l.inputs, count = block == 0 ? l.inputs : l.hidden
            for o in 0..<l.gh {
                let k = Float(Int(100 + rng.unit() * (block == 0 ? 1500 : 600)))
                let m = 127 * k * 0x1p-18
                for j in first..<(first + count) {
                    p[j * l.gh + o] = Float(Int(rng.symmetric(127.99))) * m / 127
                }
                p[(first + o % count) * l.gh + o] = o % 2 == 0 ? m : -m
            }
        }
        for i in l.bx..<l.headW { p[i] = halfToFloat(omen_f16_bits(p[i])) }
        let model = RecurrentModel(shape: shape, parameters: p)
        let int8 = try #require(QuantizedRecurrentModel(model))
        let worst = worstTrackingError(model, .int8(int8), steps: 200, rng: &rng)
        #expect(worst < 1e-4)
    }

    /// The int8 copy of a random model tracks the Float32 model (state and predictions within 0.05 over 300
    /// steps) for every cell, is a different model (not an alias), and refuses unsupported shapes.
    @Test(arguments: CellKind.allCases)
    func int8TracksFloat32(cell: CellKind) throws {
        let shape = ModelShape(cell: cell, inputSize: 5, hiddenSize: 32)
        let model = RecurrentModel(shape: shape, seed: 21)
        let int8 = try #require(QuantizedRecurrentModel(model))
        var rng = SeededGenerator(seed: 4)
        let worst = worstTrackingError(model, .int8(int8), steps: 300, rng: &rng)
        #expect(worst < 0.05)
        #expect(worst > 0)
        #expect(QuantizedRecurrentModel(RecurrentModel(shape: ModelShape(cell: cell, inputSize: 5, hiddenSize: 20), seed: 1)) == nil)
        #expect(int8.bytesPerStep < 4 * model.parameters.count / 2)
    }

    /// On a trained model (LSTM 32 on a noisy sine), the compact copies' predictions over 1000 steps stay within
    /// 3% (int8) and 1% (bf16) of the signal's standard deviation of the Float32 predictions, and their
    /// prediction error is within 5% (int8) and 2% (bf16) of the Float32 model's.
    @Test func trainedSinePredictionsAgree() throws {
        let count = 3000
        let (w, variance) = noisySine(count: count, period: 37, noise: 0.1, seed: 5)
        let shape = ModelShape(cell: .lstm, inputSize: 5, hiddenSize: 32)
        // Five features as the detector feeds them: the value and four slow encodings.
        var inputs = [Float](repeating: 0, count: count * 5)
        for t in 0..<count {
            inputs[t * 5] = w.inputs[t]
            for f in 1..<5 { inputs[t * 5 + f] = Float(sin(Double(t * f) / 300)) }
        }
        var model = RecurrentModel(shape: shape, seed: 2)
        var config = TrainingConfig()
        config.epochs = 6
        config.learningRate = 1e-2
        config.patience = 0
        let trainT = 2000
        let report = model.train(inputs: Array(inputs[0..<(trainT * 5)]), targets: Array(w.targets[0..<trainT]),
                                 config: config)
        #expect(report.validationLoss < report.initialValidationLoss)
        let sd = Float(variance.squareRoot())
        for precision in [InferencePrecision.int8, .bfloat16] {
            let copy = InferenceModel(model, precision: precision)
            #expect(copy.precision == precision)
            var s32 = RecurrentState(shape: shape), sc = RecurrentState(shape: shape)
            var worst: Float = 0, se32: Double = 0, seCopy: Double = 0
            inputs.withUnsafeBufferPointer { all in
                for t in trainT..<(trainT + 1000) {
                    let row = UnsafeBufferPointer(rebasing: all[(t * 5)..<(t * 5 + 5)])
                    let p32 = model.step(input: row, state: &s32)
                    let pc = copy.step(input: row, state: &sc)
                    worst = max(worst, abs(p32.mean - pc.mean))
                    se32 += Double((p32.mean - w.targets[t]) * (p32.mean - w.targets[t]))
                    seCopy += Double((pc.mean - w.targets[t]) * (pc.mean - w.targets[t]))
                }
            }
            let bound: Float = precision == .int8 ? 0.03 : 0.01
            #expect(worst / sd < bound, "\(precision): worst |Δ prediction| / sd = \(worst / sd)")
            let ratio = seCopy / se32
            #expect(abs(ratio - 1) < (precision == .int8 ? 0.05 : 0.02), "\(precision): MSE ratio \(ratio)")
        }
    }

    /// Stepping while prefetching another series' weights (by model or by footprint, of the same or another
    /// size) gives bit-identical predictions and states.
    @Test(arguments: InferencePrecision.allCases)
    func prefetchingStepIsTheSameStep(precision: InferencePrecision) {
        let shape = ModelShape(cell: .lstm, inputSize: 5, hiddenSize: 32)
        let model = InferenceModel(RecurrentModel(shape: shape, seed: 5), precision: precision)
        let other = InferenceModel(RecurrentModel(shape: shape, seed: 6), precision: precision)
        let wider = ModelShape(cell: .lstm, inputSize: 5, hiddenSize: 48)
        let otherState = RecurrentState(shape: shape)
        let footprints = [StepFootprint(model: other, state: otherState),
                          StepFootprint(model: InferenceModel(RecurrentModel(shape: wider, seed: 7), precision: precision),
                                        state: RecurrentState(shape: wider)),
                          StepFootprint()]
        var rng = SeededGenerator(seed: 8)
        var a = RecurrentState(shape: shape), b = RecurrentState(shape: shape)
        var viaFootprint = Array(repeating: RecurrentState(shape: shape), count: footprints.count)
        var same = true
        for _ in 0..<50 {
            let x = (0..<5).map { _ in Float(rng.symmetric(1.5)) }
            let pa = x.withUnsafeBufferPointer { model.step(input: $0, state: &a) }
            let pb = x.withUnsafeBufferPointer { model.step(input: $0, state: &b, prefetching: other) }
            same = same && pa == pb && a == b
            for (i, footprint) in footprints.enumerated() {
                footprint.prefetchState()
                let pf = x.withUnsafeBufferPointer { model.step(input: $0, state: &viaFootprint[i], prefetching: footprint) }
                same = same && pf == pa && viaFootprint[i] == a
            }
        }
        #expect(same)
        #expect(model.precision == precision)
    }

    /// `InferenceModel` keeps the Float32 model for shapes without a compact form and reports the precision in use.
    @Test func fallsBackToFloat32() {
        let odd = RecurrentModel(shape: ModelShape(cell: .lstm, inputSize: 5, hiddenSize: 20), seed: 1)
        for precision in InferencePrecision.allCases {
            let m = InferenceModel(odd, precision: precision)
            #expect(m.precision == .float32)
            #expect(m.bytesPerStep == 4 * odd.parameters.count)
        }
        let even = RecurrentModel(shape: ModelShape(cell: .lstm, inputSize: 5, hiddenSize: 32), seed: 1)
        #expect(InferenceModel(even, precision: .int8).precision == .int8)
        #expect(InferenceModel(even, precision: .bfloat16).precision == .bfloat16)
    }
}
