// The public face of the bidirectional layer (Bidirectional.swift has the maths): a model that reads a
// finished stretch both ways, its training on whole chunks with the module's Adam, clipping and best-weights
// selection (Training.swift), and its estimates over a whole sequence.

/// Which states the head of a bidirectional model reads at step t.
public enum HeadContext: String, Sendable, CaseIterable, Codable {
    /// Both directions' states after reading x_t (the textbook bidirectional layer).
    case inclusive
    /// The forward state before x_t and the backward state after it: step t is estimated from both sides
    /// without seeing its own input (a two-sided residual).
    case exclusive
}

/// The shape of a bidirectional model: one cell shape for each direction (hidden units per direction), and
/// what the head reads.
public struct BidirectionalShape: Sendable, Equatable, Hashable {
    public var cell: CellKind
    public var inputSize: Int
    /// Hidden units of each direction (the head reads twice as many).
    public var hiddenSize: Int
    public var gaussianHead: Bool
    public var context: HeadContext

    public init(cell: CellKind = .lstm, inputSize: Int, hiddenSize: Int, gaussianHead: Bool = true,
                context: HeadContext = .inclusive) {
        self.cell = cell
        self.inputSize = inputSize
        self.hiddenSize = hiddenSize
        self.gaussianHead = gaussianHead
        self.context = context
    }

    /// One direction's cell, as a unidirectional shape.
    var cellShape: ModelShape {
        ModelShape(cell: cell, inputSize: inputSize, hiddenSize: hiddenSize, gaussianHead: gaussianHead)
    }
}

/// A bidirectional recurrent network (a forward and a backward cell layer + one linear head over both states).
/// It reads whole sequences, so it is for finished stretches (training windows, closed episodes), never for
/// the online step.
public struct BidirectionalModel: Sendable, Equatable {
    public let shape: BidirectionalShape
    /// All weights and biases in one contiguous buffer (see `BidirectionalLayout`).
    public var parameters: [Float]

    /// A freshly initialised model: each direction as a fresh unidirectional cell (Glorot input weights,
    /// orthogonal recurrent weights, forget bias 1) from its own seed, the head's mean row Glorot over 2H.
    public init(shape: BidirectionalShape, seed: UInt64) {
        self.shape = shape
        let l = BidirectionalLayout(shape)
        var p = [Float](repeating: 0, count: l.count)
        let forward = RecurrentModel.initialParameters(shape: shape.cellShape, seed: seed)
        let backward = RecurrentModel.initialParameters(shape: shape.cellShape, seed: seed ^ 0x5DEE_CE66_D1CE_5EED)
        for i in 0..<l.block {
            p[i] = forward[i]
            p[l.block + i] = backward[i]
        }
        var rng = SeededGenerator(seed: seed &+ 0x2545_F491)
        let headScale = (6.0 / Double(2 * l.hidden + 1)).squareRoot()
        for k in 0..<(2 * l.hidden) { p[l.headW + k] = Float(rng.symmetric(headScale)) }
        parameters = p
    }

    /// Number of parameters for a shape.
    public static func parameterCount(for shape: BidirectionalShape) -> Int {
        BidirectionalLayout(shape).count
    }

    /// The head's estimate at every step of `inputs` (T × inputSize, row-major), read as one whole sequence in
    /// both directions. With `.exclusive` context, estimate t has not seen input t.
    public func estimate(inputs: [Float]) -> [Prediction] {
        let l = BidirectionalLayout(shape)
        let t = inputs.count / max(1, l.cell.inputs)
        guard t > 0, l.hidden > 0, parameters.count == l.count else { return [] }
        let ws = BidirectionalWorkspace<Float>(layout: l, batch: 1, capacity: t)
        let zeros = [Float](repeating: 0, count: t)
        _ = forward(ws, inputs: inputs, targets: zeros, weights: nil, from: 0, steps: t, loss: .mse)
        return (0..<t).map { i in
            Prediction(mean: ws.means[i], logVariance: l.outputs == 2 ? clampLogVariance(ws.raws[i]) : 0)
        }
    }

    /// Mean loss over steps [from, from + steps) of the window, read as one whole sequence.
    public func evaluate(inputs: [Float], targets: [Float], weights: [Float]? = nil, loss: LossKind,
                         from: Int = 0) -> Float {
        let l = BidirectionalLayout(shape)
        let total = min(inputs.count / max(1, l.cell.inputs), targets.count)
        guard from < total, l.hidden > 0 else { return 0 }
        let kind: LossKind = (loss == .gaussianNLL && l.outputs == 2) ? .gaussianNLL : .mse
        let ws = BidirectionalWorkspace<Float>(layout: l, batch: 1, capacity: total - from)
        let (sum, weight) = forward(ws, inputs: inputs, targets: targets, weights: weights, from: from,
                                    steps: total - from, loss: kind)
        return weight > 0 ? sum / weight : 0
    }

    private func forward(_ ws: BidirectionalWorkspace<Float>, inputs: [Float], targets: [Float], weights: [Float]?,
                         from: Int, steps: Int, loss: LossKind) -> (Float, Float) {
        inputs.withUnsafeBufferPointer { xb in
            targets.withUnsafeBufferPointer { yb in
                withOptionalPointer(weights) { wb in
                    parameters.withUnsafeBufferPointer { pb in
                        bidirectionalChunkForward(ws, params: pb.baseAddress.unsafelyUnwrappedOrTrap(), steps: steps,
                                                  data: WindowData(inputs: xb.baseAddress.unsafelyUnwrappedOrTrap(),
                                                                   targets: yb.baseAddress.unsafelyUnwrappedOrTrap(),
                                                                   weights: wb),
                                                  starts: [from], loss: loss)
                    }
                }
            }
        }
    }

    /// Trains in place on a window: inputs T × inputSize (row-major), targets T (targets[t] is what the head's
    /// estimate at step t should match), optional per-step loss weights (0 excludes a step). The window is cut
    /// into whole chunks of `sequenceLength` steps (no state crosses a chunk: each is a whole sequence to both
    /// directions), shuffled and taken `batchSize` at a time; the chunk boundaries move by a seeded offset every
    /// epoch so no step always sits at an edge. The last `validationFraction` of the window is held back and read
    /// as one sequence to select the best weights. Adam, clipping, decay and early stopping as `RecurrentModel`;
    /// dropout is not applied.
    public mutating func train(inputs: [Float], targets: [Float], weights: [Float]? = nil,
                               config: TrainingConfig) -> TrainingReport {
        let l = BidirectionalLayout(shape)
        let width = max(1, l.cell.inputs)
        let total = min(inputs.count / width, targets.count, weights?.count ?? Int.max)
        let kind: LossKind = (config.loss == .gaussianNLL && l.outputs == 2) ? .gaussianNLL : .mse
        let valFraction = min(max(config.validationFraction.isFinite ? config.validationFraction : 0, 0), 0.9)
        let nVal = Int((Float(total) * valFraction).rounded(.down))
        let nTrain = total - nVal
        let window = Array(inputs.prefix(total * width))
        let ys = Array(targets.prefix(total))
        let ws = weights.map { Array($0.prefix(total)) }
        func validate(_ m: BidirectionalModel) -> Float {
            m.evaluate(inputs: window, targets: ys, weights: ws, loss: kind, from: nVal > 0 ? nTrain : 0)
        }
        var run = TrainingRun(config: config, parameters: parameters, biasRanges: l.biasRanges,
                              initialLoss: validate(self))
        guard nTrain > 0, l.hidden > 0, parameters.count == l.count, config.epochs > 0 else { return run.report }

        let seq = max(1, min(config.sequenceLength, nTrain))
        let batch = max(1, min(config.batchSize, nTrain / seq))
        let workspace = BidirectionalWorkspace<Float>(layout: l, batch: batch, capacity: seq)
        var rng = SeededGenerator(seed: config.seed)

        for epoch in 0..<config.epochs {
            // Whole chunks from a seeded offset (0 in the first epoch), in a seeded order.
            let offset = epoch == 0 || nTrain == seq ? 0 : Int(rng.next() % UInt64(min(seq, nTrain - seq + 1)))
            var chunks = Array(stride(from: offset, through: nTrain - seq, by: seq))
            for i in stride(from: chunks.count - 1, to: 0, by: -1) {
                chunks.swapAt(i, Int(rng.next() % UInt64(i + 1)))
            }
            var c = 0
            while c < chunks.count {
                let starts = Array(chunks[c..<min(c + batch, chunks.count)])
                c += starts.count
                workspace.grad.update(repeating: 0, count: l.count)
                let (lossSum, weightSum) = window.withUnsafeBufferPointer { xb in
                    ys.withUnsafeBufferPointer { yb in
                        withOptionalPointer(ws) { wb in
                            parameters.withUnsafeBufferPointer { pb in
                                bidirectionalChunkGradient(
                                    workspace, params: pb.baseAddress.unsafelyUnwrappedOrTrap(), steps: seq,
                                    data: WindowData(inputs: xb.baseAddress.unsafelyUnwrappedOrTrap(),
                                                     targets: yb.baseAddress.unsafelyUnwrappedOrTrap(), weights: wb),
                                    starts: starts, loss: kind)
                            }
                        }
                    }
                }
                run.update(&parameters, gradient: workspace.grad, lossSum: lossSum, weightSum: weightSum)
            }
            if run.endEpoch(epoch, parameters: parameters, validationLoss: validate(self)) { break }
        }
        return run.finish(&parameters)
    }
}
