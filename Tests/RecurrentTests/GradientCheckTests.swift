import Testing
@testable import Recurrent

/// Everything one gradient check needs, in Double.
struct GradientCase {
    let layout: Layout
    var params: [Double]
    let inputs: [Double]
    let targets: [Double]
    let weights: [Double]
    let h0: [Double]
    let c0: [Double]
    let batch: Int
    let steps: Int
    let starts: [Int]
    let mask: [Double]?

    init(shape: ModelShape, batch: Int = 2, steps: Int = 5, dropout: Bool = false, seed: UInt64 = 7) {
        layout = Layout(shape)
        var rng = SeededGenerator(seed: seed)
        // Start from the real initialiser, then jitter every weight so no term is trivially zero
        // (the log-variance row starts at 0).
        params = RecurrentModel(shape: shape, seed: seed).parameters.map { Double($0) + rng.symmetric(0.3) }
        let total = batch * steps
        inputs = (0..<(total * shape.inputSize)).map { _ in rng.symmetric(1.5) }
        targets = (0..<total).map { _ in rng.symmetric(1.0) }
        // One excluded step checks that a zero weight removes the step from loss and gradient.
        weights = (0..<total).map { $0 == 3 ? 0 : 0.5 + rng.unit() }
        h0 = (0..<(batch * shape.hiddenSize)).map { _ in rng.symmetric(0.8) }
        c0 = (0..<(batch * shape.hiddenSize)).map { _ in rng.symmetric(0.8) }
        self.batch = batch
        self.steps = steps
        starts = (0..<batch).map { $0 * steps }
        mask = dropout ? (0..<(total * shape.hiddenSize)).map { _ in rng.unit() < 0.3 ? 0 : 1 / 0.7 } : nil
    }

    /// Loss (Σ w·l / Σ w) and its gradient at `p`, through the engine's generic chunk code.
    func lossAndGradient<F: EngineScalar>(_ p: [F], loss: LossKind, as: F.Type) -> (F, [F]) {
        let ws = ChunkWorkspace<F>(layout: layout, batch: batch, capacity: steps)
        let h = layout.hidden
        for i in 0..<(batch * h) {
            ws.hs[i] = F(h0[i])
            ws.cs[i] = F(c0[i])
        }
        if let mask {
            for i in 0..<mask.count { ws.mask[i] = F(mask[i]) }
        }
        let xs = inputs.map { F($0) }, ys = targets.map { F($0) }, wts = weights.map { F($0) }
        let (sum, wsum) = xs.withUnsafeBufferPointer { xb in
            ys.withUnsafeBufferPointer { yb in
                wts.withUnsafeBufferPointer { wb in
                    p.withUnsafeBufferPointer { pb in
                        chunkGradient(ws, params: pb.baseAddress.unsafelyUnwrappedOrTrap(), steps: steps,
                                      data: WindowData(inputs: xb.baseAddress.unsafelyUnwrappedOrTrap(),
                                                       targets: yb.baseAddress.unsafelyUnwrappedOrTrap(),
                                                       weights: wb.baseAddress),
                                      starts: starts, loss: loss, useMask: mask != nil)
                    }
                }
            }
        }
        let grad = (0..<layout.count).map { ws.grad[$0] }
        return (sum / wsum, grad)
    }

    /// Largest per-parameter relative error between the analytic gradient and central differences.
    func maxRelativeError(loss: LossKind) -> (error: Double, worst: Int) {
        finiteDifferenceError(params, analytic: lossAndGradient(params, loss: loss, as: Double.self).1) {
            lossAndGradient($0, loss: loss, as: Double.self).0
        }
    }
}

/// Largest per-parameter relative error between `analytic` and central differences (step 1e-6) of `loss` at
/// `params`, and the index of the worst parameter.
func finiteDifferenceError(_ params: [Double], analytic: [Double],
                           loss: ([Double]) -> Double) -> (error: Double, worst: Int) {
    let eps = 1e-6
    var worst = 0.0, worstIndex = -1
    for i in 0..<params.count {
        var plus = params, minus = params
        plus[i] += eps
        minus[i] -= eps
        let numeric = (loss(plus) - loss(minus)) / (2 * eps)
        let rel = abs(numeric - analytic[i]) / max(abs(numeric), abs(analytic[i]), 1e-4)
        if rel > worst { worst = rel; worstIndex = i }
    }
    return (worst, worstIndex)
}

/// Tolerance of every finite-difference check: per parameter |analytic − numeric| / max(|a|, |n|, 1e-4) ≤ 1e-5,
/// central differences with step 1e-6, all in Double.
let gradientTolerance = 1e-5

@Suite struct GradientCheckTests {
    /// Each cell and the two-output head, through a whole TBPTT chunk (2 streams × 5 steps, carried-in state),
    /// have analytic gradients equal to finite differences, for MSE and Gaussian NLL.
    @Test(arguments: CellKind.allCases, LossKind.allCases)
    func chunkGradientMatchesFiniteDifferences(cell: CellKind, loss: LossKind) {
        let c = GradientCase(shape: ModelShape(cell: cell, inputSize: 3, hiddenSize: 4, gaussianHead: true))
        let (err, worst) = c.maxRelativeError(loss: loss)
        #expect(err <= gradientTolerance, "worst parameter \(worst)")
    }

    /// A mean-only head (no log-variance output) is differentiated correctly too.
    @Test(arguments: CellKind.allCases)
    func meanOnlyHeadGradient(cell: CellKind) {
        let c = GradientCase(shape: ModelShape(cell: cell, inputSize: 2, hiddenSize: 3, gaussianHead: false))
        #expect(c.maxRelativeError(loss: .mse).error <= gradientTolerance)
    }

    /// With a fixed dropout mask on the head input the gradient is still exact.
    @Test func dropoutMaskGradient() {
        let c = GradientCase(shape: ModelShape(cell: .lstm, inputSize: 3, hiddenSize: 4), dropout: true)
        #expect(c.maxRelativeError(loss: .gaussianNLL).error <= gradientTolerance)
    }

    /// The Float training path (SIMD kernels, approximate exp) computes the same gradient as the Double
    /// reference to Float accuracy, at sizes that use the 128-wide panels and the scalar tails.
    @Test(arguments: [(CellKind.lstm, 32), (.gru, 32), (.rnn, 32), (.lstm, 5), (.lstm, 20), (.gru, 7)])
    func floatGradientMatchesDouble(cell: CellKind, hidden: Int) {
        let c = GradientCase(shape: ModelShape(cell: cell, inputSize: 5, hiddenSize: hidden), batch: 3, steps: 8)
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

    /// The hot-path `step` computes the same predictions and state as the Double reference forward, over
    /// 200 steps, at a SIMD-only size and at one with scalar tails.
    @Test(arguments: CellKind.allCases, [32, 20])
    func stepMatchesDoubleForward(cell: CellKind, hidden: Int) {
        let shape = ModelShape(cell: cell, inputSize: 5, hiddenSize: hidden)
        let model = RecurrentModel(shape: shape, seed: 3)
        let l = Layout(shape)
        let p = model.parameters.map { Double($0) }
        var rng = SeededGenerator(seed: 11)
        var state = RecurrentState(shape: shape)
        var h = [Double](repeating: 0, count: l.hidden), cst = h
        var stash = [Double](repeating: 0, count: l.stashWidth)
        var worst: Double = 0
        for _ in 0..<200 {
            let x = (0..<5).map { _ in rng.symmetric(2) }
            let xf = x.map { Float($0) }
            let pred = xf.withUnsafeBufferPointer { model.step(input: $0, state: &state) }
            let mean = p.withUnsafeBufferPointer { pb in
                x.withUnsafeBufferPointer { xb in
                    stash.withUnsafeMutableBufferPointer { sb in
                        h.withUnsafeMutableBufferPointer { hb in
                            cst.withUnsafeMutableBufferPointer { cb in
                                let pp = pb.baseAddress.unsafelyUnwrappedOrTrap()
                                let hp = hb.baseAddress.unsafelyUnwrappedOrTrap()
                                let cp = cb.baseAddress.unsafelyUnwrappedOrTrap()
                                cellForward(l, pp, x: xb.baseAddress.unsafelyUnwrappedOrTrap(), hPrev: hp, cPrev: cp,
                                            stash: sb.baseAddress.unsafelyUnwrappedOrTrap(), hOut: hp, cOut: cp)
                                return headForward(l, pp, hp).mean
                            }
                        }
                    }
                }
            }
            worst = max(worst, abs(Double(pred.mean) - mean))
            for k in 0..<l.hidden { worst = max(worst, abs(Double(state.h[k]) - h[k])) }
        }
        #expect(worst <= 1e-4)
    }
}
