import Testing
@testable import Recurrent

/// Everything one bidirectional gradient check needs, in Double.
struct BidirectionalGradientCase {
    let layout: BidirectionalLayout
    var params: [Double]
    let inputs: [Double]
    let targets: [Double]
    let weights: [Double]
    let batch: Int
    let steps: Int
    let starts: [Int]

    init(shape: BidirectionalShape, batch: Int = 2, steps: Int = 5, seed: UInt64 = 7) {
        layout = BidirectionalLayout(shape)
        var rng = SeededGenerator(seed: seed)
        // The real initialiser, jittered so no term is trivially zero (the log-variance row starts at 0).
        params = BidirectionalModel(shape: shape, seed: seed).parameters.map { Double($0) + rng.symmetric(0.3) }
        let total = batch * steps
        inputs = (0..<(total * shape.inputSize)).map { _ in rng.symmetric(1.5) }
        targets = (0..<total).map { _ in rng.symmetric(1.0) }
        // One excluded step checks that a zero weight removes the step from loss and gradient.
        weights = (0..<total).map { $0 == 3 ? 0 : 0.5 + rng.unit() }
        self.batch = batch
        self.steps = steps
        starts = (0..<batch).map { $0 * steps }
    }

    /// Loss (Σ w·l / Σ w) and its gradient at `p`, through the engine's generic chunk code.
    func lossAndGradient<F: EngineScalar>(_ p: [F], loss: LossKind, as: F.Type) -> (F, [F]) {
        let ws = BidirectionalWorkspace<F>(layout: layout, batch: batch, capacity: steps)
        let xs = inputs.map { F($0) }, ys = targets.map { F($0) }, wts = weights.map { F($0) }
        let (sum, wsum) = xs.withUnsafeBufferPointer { xb in
            ys.withUnsafeBufferPointer { yb in
                wts.withUnsafeBufferPointer { wb in
                    p.withUnsafeBufferPointer { pb in
                        bidirectionalChunkGradient(ws, params: pb.baseAddress.unsafelyUnwrappedOrTrap(), steps: steps,
                                                   data: WindowData(inputs: xb.baseAddress.unsafelyUnwrappedOrTrap(),
                                                                    targets: yb.baseAddress.unsafelyUnwrappedOrTrap(),
                                                                    weights: wb.baseAddress),
                                                   starts: starts, loss: loss)
                    }
                }
            }
        }
        return (sum / wsum, (0..<layout.count).map { ws.grad[$0] })
    }

    /// Largest per-parameter relative error between the analytic gradient and central differences.
    func maxRelativeError(loss: LossKind) -> (error: Double, worst: Int) {
        finiteDifferenceError(params, analytic: lossAndGradient(params, loss: loss, as: Double.self).1) {
            lossAndGradient($0, loss: loss, as: Double.self).0
        }
    }
}

/// Input ±1 at random; the target at t is the input at t + `lead` (0 past the end): only the future explains it.
func futureCopy(count: Int, lead: Int, seed: UInt64) -> (inputs: [Float], targets: [Float]) {
    var rng = SeededGenerator(seed: seed)
    let x = (0..<count).map { _ in Float(rng.unit() < 0.5 ? -1 : 1) }
    return (x, (0..<count).map { $0 + lead < count ? x[$0 + lead] : 0 })
}

@Suite struct BidirectionalTests {
    /// Each cell, with the head reading states that include x_t or stop on either side of it, over a whole
    /// chunk (2 streams × 5 steps), has analytic gradients equal to finite differences, for MSE and Gaussian NLL.
    @Test(arguments: CellKind.allCases, LossKind.allCases)
    func chunkGradientMatchesFiniteDifferences(cell: CellKind, loss: LossKind) {
        for context in HeadContext.allCases {
            let c = BidirectionalGradientCase(shape: BidirectionalShape(cell: cell, inputSize: 3, hiddenSize: 4,
                                                                        context: context))
            let (err, worst) = c.maxRelativeError(loss: loss)
            #expect(err <= gradientTolerance, "\(context): worst parameter \(worst), relative error \(err)")
        }
    }

    /// A mean-only head over both directions is differentiated correctly too.
    @Test(arguments: CellKind.allCases)
    func meanOnlyHeadGradient(cell: CellKind) {
        let c = BidirectionalGradientCase(shape: BidirectionalShape(cell: cell, inputSize: 2, hiddenSize: 3,
                                                                    gaussianHead: false, context: .exclusive))
        #expect(c.maxRelativeError(loss: .mse).error <= gradientTolerance)
    }

    /// The Float path (SIMD kernels, approximate exp) computes the Double reference's loss and gradient to
    /// Float accuracy, at a SIMD-only size and at one with scalar tails.
    @Test(arguments: CellKind.allCases, [32, 7])
    func floatGradientMatchesDouble(cell: CellKind, hidden: Int) {
        let c = BidirectionalGradientCase(shape: BidirectionalShape(cell: cell, inputSize: 5, hiddenSize: hidden,
                                                                    context: .exclusive), batch: 3, steps: 8)
        let (lossD, gd) = c.lossAndGradient(c.params, loss: .gaussianNLL, as: Double.self)
        let (lossF, gf) = c.lossAndGradient(c.params.map { Float($0) }, loss: .gaussianNLL, as: Float.self)
        var diff = 0.0, norm = 0.0
        for i in 0..<gd.count {
            diff += (Double(gf[i]) - gd[i]) * (Double(gf[i]) - gd[i])
            norm += gd[i] * gd[i]
        }
        #expect(abs(Double(lossF) - lossD) <= 1e-4 * max(1, abs(lossD)))
        #expect(diff.squareRoot() <= 1e-4 * norm.squareRoot())
    }

    /// With exclusive context the estimate at t does not depend on input t; with inclusive context it does.
    @Test func exclusiveEstimateIgnoresItsOwnInput() {
        var rng = SeededGenerator(seed: 3)
        let xs = (0..<40).map { _ in Float(rng.symmetric(1)) }
        var changed = xs
        changed[17] += 5
        for context in HeadContext.allCases {
            let m = BidirectionalModel(shape: BidirectionalShape(cell: .gru, inputSize: 1, hiddenSize: 6,
                                                                 context: context), seed: 2)
            let a = m.estimate(inputs: xs), b = m.estimate(inputs: changed)
            #expect(a.count == 40 && b.count == 40)
            #expect((a[17] == b[17]) == (context == .exclusive))
            #expect(a[16] != b[16] && a[18] != b[18])
        }
    }

    /// A target at t that is the input at t + 3 is learned by a bidirectional model of each cell (validation MSE
    /// < 0.1) and cannot be learned by a unidirectional one of the same cell and budget (MSE > 0.8: the target's
    /// variance is 1 and the past says nothing about it).
    @Test(arguments: CellKind.allCases)
    func futureIsLearnedOnlyBidirectionally(cell: CellKind) {
        let data = futureCopy(count: 2000, lead: 3, seed: 5)
        var config = TrainingConfig()
        config.loss = .mse
        config.epochs = 30
        config.learningRate = 1e-2
        config.sequenceLength = 32
        config.patience = 0
        var bi = BidirectionalModel(shape: BidirectionalShape(cell: cell, inputSize: 1, hiddenSize: 8), seed: 2)
        let rb = bi.train(inputs: data.inputs, targets: data.targets, config: config)
        var uni = RecurrentModel(shape: ModelShape(cell: cell, inputSize: 1, hiddenSize: 8), seed: 2)
        let ru = uni.train(inputs: data.inputs, targets: data.targets, config: config)
        #expect(rb.validationLoss < 0.1, "bidirectional validation MSE \(rb.validationLoss)")
        #expect(ru.validationLoss > 0.8, "unidirectional validation MSE \(ru.validationLoss)")
        #expect(rb.updates > 0 && rb.skippedUpdates == 0)
    }

    /// Same seed and data give bit-identical weights; another seed gives other weights.
    @Test func trainingIsDeterministic() {
        let (w, _) = noisySine(count: 400, period: 30, noise: 0.2, seed: 2)
        var config = TrainingConfig()
        config.epochs = 3
        config.seed = 42
        let shape = BidirectionalShape(cell: .lstm, inputSize: 1, hiddenSize: 6, context: .exclusive)
        var a = BidirectionalModel(shape: shape, seed: 5), b = BidirectionalModel(shape: shape, seed: 5)
        let ra = a.train(inputs: w.inputs, targets: w.targets, config: config)
        let rb = b.train(inputs: w.inputs, targets: w.targets, config: config)
        #expect(a.parameters == b.parameters && ra == rb)
        #expect(BidirectionalModel(shape: shape, seed: 5) != BidirectionalModel(shape: shape, seed: 6))
    }
}
