// Truncated BPTT over a window: B contiguous streams in lockstep, chunks of `sequenceLength` steps with the
// state carried (detached) across chunks, Adam with bias correction, global-norm clipping, inverted dropout on
// the head input, decoupled weight decay, per-epoch validation on the held-back tail, early stopping that
// returns the best weights seen. Single-threaded and seeded: same seed + same data → bit-identical weights.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Adam's moment estimates for one training run (never serialised: a retrain starts them from zero).
struct AdamState {
    var m: [Float]
    var v: [Float]
    var t: Int = 0

    init(count: Int) {
        m = [Float](repeating: 0, count: count)
        v = [Float](repeating: 0, count: count)
    }
}

extension RecurrentModel {
    mutating func trainWindow(inputs: [Float], targets: [Float], weights: [Float]?, config: TrainingConfig) -> TrainingReport {
        let l = Layout(shape)
        let width = max(1, l.inputs)
        let total = min(inputs.count / width, targets.count, weights?.count ?? Int.max)
        let kind: LossKind = (config.loss == .gaussianNLL && l.outputs == 2) ? .gaussianNLL : .mse
        let valFraction = min(max(config.validationFraction.isFinite ? config.validationFraction : 0, 0), 0.9)
        let nVal = Int((Float(total) * valFraction).rounded(.down))
        let nTrain = total - nVal
        let valFrom = nVal > 0 ? nTrain : 0
        let window = Array(inputs.prefix(total * width))
        let ys = Array(targets.prefix(total))
        let ws = weights.map { Array($0.prefix(total)) }

        func validate(_ m: RecurrentModel) -> Float {
            m.evaluateWindow(inputs: window, targets: ys, weights: ws, loss: kind, from: valFrom)
        }
        var run = TrainingRun(config: config, parameters: parameters, biasRanges: l.biasRanges,
                              initialLoss: validate(self))
        guard nTrain > 0, l.hidden > 0, parameters.count == l.count, config.epochs > 0 else { return run.report }

        let batch = max(1, min(config.batchSize, nTrain))
        let streamLength = nTrain / batch
        // The few steps that do not divide evenly are dropped from the oldest end, so the streams end
        // right where validation begins.
        let offset = nTrain - batch * streamLength
        let seq = max(1, min(config.sequenceLength, streamLength))
        let starts = (0..<batch).map { offset + $0 * streamLength }
        let workspace = ChunkWorkspace<Float>(layout: l, batch: batch, capacity: seq)
        let dropout = min(max(config.dropout.isFinite ? config.dropout : 0, 0), 0.95)
        let keepScale = 1 / (1 - dropout)
        var rng = SeededGenerator(seed: config.seed)

        for epoch in 0..<config.epochs {
            workspace.resetState()
            var s = 0
            while s < streamLength {
                let n = min(seq, streamLength - s)
                let chunkStarts = starts.map { $0 + s }
                s += n
                if dropout > 0 {
                    let count = n * batch * l.hidden
                    for i in 0..<count {
                        workspace.mask[i] = rng.unit() >= Double(dropout) ? keepScale : 0
                    }
                }
                workspace.grad.update(repeating: 0, count: l.count)
                let (lossSum, weightSum) = window.withUnsafeBufferPointer { xb in
                    ys.withUnsafeBufferPointer { yb in
                        withOptionalPointer(ws) { wb in
                            parameters.withUnsafeBufferPointer { pb in
                                chunkGradient(workspace, params: pb.baseAddress.unsafelyUnwrappedOrTrap(),
                                              steps: n,
                                              data: WindowData(inputs: xb.baseAddress.unsafelyUnwrappedOrTrap(),
                                                               targets: yb.baseAddress.unsafelyUnwrappedOrTrap(),
                                                               weights: wb),
                                              starts: chunkStarts, loss: kind, useMask: dropout > 0)
                            }
                        }
                    }
                }
                workspace.carry(steps: n)
                run.update(&parameters, gradient: workspace.grad, lossSum: lossSum, weightSum: weightSum)
            }
            if run.endEpoch(epoch, parameters: parameters, validationLoss: validate(self)) { break }
        }
        return run.finish(&parameters)
    }
}

/// The bookkeeping every trainer in the module shares: the optimiser step per chunk (and its counts), the
/// per-epoch loss, learning-rate decay, and best-weights selection with early stopping by validation loss.
struct TrainingRun {
    private(set) var report: TrainingReport
    let config: TrainingConfig
    private var optimiser: Optimiser
    private var learningRate: Float
    private var best: [Float]
    /// Validation loss of `best` (infinite while no finite loss was seen).
    private var bestLoss: Float
    private var sinceBest = 0
    private var epochLoss: Double = 0
    private var epochWeight: Double = 0

    init(config: TrainingConfig, parameters: [Float], biasRanges: [Range<Int>], initialLoss: Float) {
        report = TrainingReport(initialValidationLoss: initialLoss, trainLoss: 0, validationLoss: initialLoss,
                                epochsRun: 0, updates: 0, skippedUpdates: 0, stoppedEarly: false)
        self.config = config
        optimiser = Optimiser(config: config, count: parameters.count, biasRanges: biasRanges)
        learningRate = config.learningRate
        best = parameters
        bestLoss = initialLoss.isFinite ? initialLoss : .infinity
    }

    /// One chunk's update from its gradient (a chunk whose steps all had weight 0 changes nothing).
    mutating func update(_ parameters: inout [Float], gradient: UnsafeMutablePointer<Float>, lossSum: Float,
                         weightSum: Float) {
        guard weightSum > 0 else { return }
        guard optimiser.update(&parameters, gradient: gradient, lossSum: lossSum, learningRate: learningRate) else {
            report.skippedUpdates += 1
            return
        }
        report.updates += 1
        epochLoss += Double(lossSum)
        epochWeight += Double(weightSum)
    }

    /// Closes `epoch` with the validation loss of the current weights; true when training should stop early
    /// (`patience` epochs without improvement, and epochs remain).
    mutating func endEpoch(_ epoch: Int, parameters: [Float], validationLoss val: Float) -> Bool {
        report.epochsRun = epoch + 1
        report.trainLoss = epochWeight > 0 ? Float(epochLoss / epochWeight) : 0
        epochLoss = 0
        epochWeight = 0
        learningRate *= config.learningRateDecay.isFinite ? max(0, config.learningRateDecay) : 1
        if val.isFinite && val < bestLoss {
            bestLoss = val
            best = parameters
            sinceBest = 0
        } else {
            sinceBest += 1
        }
        report.stoppedEarly = config.patience > 0 && sinceBest >= config.patience && epoch + 1 < config.epochs
        return report.stoppedEarly
    }

    /// The best weights seen (the starting ones included) and the report of the run.
    func finish(_ parameters: inout [Float]) -> TrainingReport {
        parameters = best
        var r = report
        r.validationLoss = bestLoss.isFinite ? bestLoss : r.initialValidationLoss
        return r
    }
}

/// One training run's optimiser: global-norm clipping, Adam with bias correction and decoupled weight decay,
/// and the rollback that keeps a non-finite step from ever being applied. Shared by every trainer in the module.
struct Optimiser {
    var adam: AdamState
    let config: TrainingConfig
    /// 1 for weights, 0 for biases: weight decay leaves biases alone.
    let decayMask: [Float]
    /// The weights before the last step, restored when the step made one non-finite.
    private var backup: [Float]

    init(config: TrainingConfig, count: Int, biasRanges: [Range<Int>]) {
        adam = AdamState(count: count)
        self.config = config
        var mask = [Float](repeating: 1, count: count)
        for r in biasRanges {
            for i in r { mask[i] = 0 }
        }
        decayMask = mask
        backup = [Float](repeating: 0, count: count)
    }

    /// Applies one update from `gradient` (count floats, the gradient of a chunk whose weighted loss sum was
    /// `lossSum`). Returns false, leaving `parameters` unchanged, when the loss or the gradient norm is not
    /// finite or the step made a weight non-finite.
    mutating func update(_ parameters: inout [Float], gradient g: UnsafeMutablePointer<Float>, lossSum: Float,
                         learningRate: Float) -> Bool {
        let count = parameters.count
        let norm = Float.dot(g, g, count).squareRoot()
        guard lossSum.isFinite, norm.isFinite else { return false }
        let clip: Float = (config.clipNorm > 0 && norm > config.clipNorm) ? config.clipNorm / norm : 1
        backup.withUnsafeMutableBufferPointer { bb in
            parameters.withUnsafeBufferPointer { pb in
                if let dst = bb.baseAddress, let src = pb.baseAddress { dst.update(from: src, count: count) }
            }
        }
        guard adamStep(&parameters, gradient: g, scale: clip, learningRate: learningRate) else {
            parameters = backup
            return false
        }
        return true
    }

    /// One Adam update with the gradient scaled by `scale` (clipping). Returns false, leaving the caller to
    /// restore the weights, if any weight became non-finite.
    private mutating func adamStep(_ parameters: inout [Float], gradient g: UnsafeMutablePointer<Float>, scale: Float,
                                   learningRate: Float) -> Bool {
        adam.t += 1
        let b1 = config.beta1, b2 = config.beta2
        let c1 = 1 - Float(pow(Double(b1), Double(adam.t)))
        let c2 = 1 - Float(pow(Double(b2), Double(adam.t)))
        let stepSize = learningRate / max(c1, Float.leastNormalMagnitude)
        let invC2 = 1 / max(c2, Float.leastNormalMagnitude)
        let decay = learningRate * config.weightDecay
        let eps = config.epsilon
        var finite = true
        let count = parameters.count
        parameters.withUnsafeMutableBufferPointer { pb in
            adam.m.withUnsafeMutableBufferPointer { mb in
                adam.v.withUnsafeMutableBufferPointer { vb in
                    decayMask.withUnsafeBufferPointer { db in
                        for i in 0..<count {
                            let gi = g[i] * scale
                            let m = b1 * mb[i] + (1 - b1) * gi
                            let v = b2 * vb[i] + (1 - b2) * gi * gi
                            mb[i] = m
                            vb[i] = v
                            var p = pb[i]
                            p -= decay * db[i] * p                          // decoupled (AdamW) decay
                            p -= stepSize * m / ((v * invC2).squareRoot() + eps)
                            pb[i] = p
                        }
                        var acc: Float = 0
                        for i in 0..<count { acc += pb[i] * 0 }             // NaN/Inf propagate through ·0
                        finite = acc == 0
                    }
                }
            }
        }
        return finite
    }
}

/// Calls `body` with the array's base address, or nil when there is no array.
@inline(__always)
func withOptionalPointer<R>(_ a: [Float]?, _ body: (UnsafePointer<Float>?) -> R) -> R {
    guard let a else { return body(nil) }
    return a.withUnsafeBufferPointer { body($0.baseAddress) }
}

extension Optional {
    /// The wrapped pointer of a non-empty buffer. Callers only use it on buffers they checked are non-empty;
    /// a nil here is an engine bug, reported with a message rather than a bare `!`.
    @inline(__always) func unsafelyUnwrappedOrTrap() -> Wrapped {
        guard let v = self else { preconditionFailure("empty buffer reached the training kernels") }
        return v
    }
}
