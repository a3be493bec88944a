// PUBLIC API CONTRACT of the Recurrent module. Other modules code against exactly these names; keep every
// public name and signature (adding is fine).
//
// Where things are:
//   Layout.swift         the flat parameter layout (input-major gate panels, head rows)
//   Kernels.swift        SIMD16 kernels (panel gemv, axpy, dot, vectorised exp/sigmoid/tanh); Double reference loops
//   Cells.swift          LSTM / GRU / RNN forward and backward side by side, head, losses — generic over the scalar
//   Chunk.swift          one TBPTT chunk: B streams in lockstep, forward, weighted loss, backward
//   Training.swift       the training loop: chunks, Adam, clipping, dropout, validation, early stopping
//   Bidirectional.swift  the bidirectional layer: forward and backward cells over a whole chunk, head over both
//   BidirectionalModel.swift  its public model: whole-chunk training with the same Adam, estimates of a sequence
//   Step.swift           the online step (hot path) and whole-window evaluation
//   Init.swift           seeded RNG, Glorot / orthogonal initialisation
//   Serialization.swift  the versioned weights blob
//
// Numerics: Float32 everywhere at run time; sigmoid/tanh use a polynomial exp (relative error ~1e-7), so
// `step` agrees with a Double reference to ~1e-6 after hundreds of steps. Build with
// `-Xswiftc -target-cpu -Xswiftc haswell` (the Makefile does): on the default SSE2 target the FMAs in the
// kernels become library calls and everything is 20-30x slower.

/// The kind of recurrent cell a model uses.
public enum CellKind: String, Sendable, CaseIterable, Codable {
    case lstm, gru, rnn
}

/// The shape of a model: cell, input width, hidden units, and whether the head also outputs a log-variance.
public struct ModelShape: Sendable, Equatable, Hashable {
    public var cell: CellKind
    /// Features per step (normalised value plus optional calendar encodings).
    public var inputSize: Int
    /// Hidden units.
    public var hiddenSize: Int
    /// When true the head outputs (mean, log-variance) and can be trained with Gaussian NLL.
    public var gaussianHead: Bool

    public init(cell: CellKind = .lstm, inputSize: Int, hiddenSize: Int, gaussianHead: Bool = true) {
        self.cell = cell
        self.inputSize = inputSize
        self.hiddenSize = hiddenSize
        self.gaussianHead = gaussianHead
    }
}

/// The recurrent state of one series: h (hiddenSize) and, for the LSTM, c (hiddenSize; empty otherwise).
public struct RecurrentState: Sendable, Equatable {
    public var h: [Float]
    public var c: [Float]

    /// The zero state for a shape.
    public init(shape: ModelShape) {
        h = [Float](repeating: 0, count: shape.hiddenSize)
        c = shape.cell == .lstm ? [Float](repeating: 0, count: shape.hiddenSize) : []
    }

    public init(h: [Float], c: [Float]) {
        self.h = h
        self.c = c
    }
}

/// One prediction of the next (normalised) value; `logVariance` is 0 when the head has no variance output.
/// `logVariance` is clamped to [-12, 8]. A model trained only with MSE leaves its variance row untrained:
/// a fresh model then reports 0 (variance 1 in normalised units), a warm-started one what earlier NLL training left.
public struct Prediction: Sendable, Equatable {
    public var mean: Float
    public var logVariance: Float

    public init(mean: Float, logVariance: Float) {
        self.mean = mean
        self.logVariance = logVariance
    }
}

/// Why a serialized model blob was rejected.
public enum RecurrentError: Error, Equatable, CustomStringConvertible {
    case badVersion(found: UInt8, expected: UInt8)
    case badShape(String)
    case truncated(expected: Int, found: Int)

    public var description: String {
        switch self {
        case .badVersion(let found, let expected):
            return "model blob has format version \(found), this build reads version \(expected); the series will relearn"
        case .badShape(let why):
            return "model blob has an invalid shape: \(why)"
        case .truncated(let expected, let found):
            return "model blob is truncated: expected \(expected) bytes, found \(found)"
        }
    }
}

/// The loss a model is trained with.
public enum LossKind: String, Sendable, CaseIterable, Codable {
    /// Mean squared error of the mean output.
    case mse
    /// Gaussian negative log-likelihood of (mean, log-variance); needs a Gaussian head.
    case gaussianNLL = "gaussian_nll"
}

/// Hyper-parameters of one training run (truncated BPTT, Adam, clipping, dropout).
public struct TrainingConfig: Sendable, Equatable {
    /// TBPTT chunk length in steps.
    public var sequenceLength: Int = 64
    /// Contiguous streams processed in lockstep (mini-batch size).
    public var batchSize: Int = 8
    /// Passes over the training part of the window.
    public var epochs: Int = 5
    /// Adam step size.
    public var learningRate: Float = 3e-3
    public var beta1: Float = 0.9
    public var beta2: Float = 0.999
    public var epsilon: Float = 1e-8
    /// Multiplier applied to the learning rate after each epoch (1 = constant).
    public var learningRateDecay: Float = 1.0
    /// Clip the global gradient norm to this value (0 = no clipping).
    public var clipNorm: Float = 1.0
    /// Inverted dropout probability on the head input during training (0 = off).
    public var dropout: Float = 0.0
    /// Decoupled weight decay (AdamW style) per step, 0 = off.
    public var weightDecay: Float = 0.0
    /// Fraction of the window's tail held back for validation.
    public var validationFraction: Float = 0.1
    /// Stop after this many epochs without validation improvement (0 = never stop early).
    public var patience: Int = 2
    public var loss: LossKind = .gaussianNLL
    /// Seed for dropout masks and any other randomness in training.
    public var seed: UInt64 = 1

    public init() {}
}

/// What a training run did.
public struct TrainingReport: Sendable, Equatable {
    /// Validation loss of the starting weights (before any update).
    public var initialValidationLoss: Float
    /// Mean training loss of the last epoch run.
    public var trainLoss: Float
    /// Validation loss of the returned weights.
    public var validationLoss: Float
    /// Epochs actually run (early stopping may cut them).
    public var epochsRun: Int
    /// Optimizer updates applied.
    public var updates: Int
    /// Updates skipped because the loss or gradient was NaN or infinite.
    public var skippedUpdates: Int
    public var stoppedEarly: Bool

    public init(initialValidationLoss: Float, trainLoss: Float, validationLoss: Float, epochsRun: Int,
                updates: Int, skippedUpdates: Int, stoppedEarly: Bool) {
        self.initialValidationLoss = initialValidationLoss
        self.trainLoss = trainLoss
        self.validationLoss = validationLoss
        self.epochsRun = epochsRun
        self.updates = updates
        self.skippedUpdates = skippedUpdates
        self.stoppedEarly = stoppedEarly
    }
}

/// A recurrent network (one cell layer + linear head) with its weights, stored contiguously.
public struct RecurrentModel: Sendable, Equatable {
    public let shape: ModelShape
    /// All weights and biases in one contiguous buffer (layout is the engine's business: see Layout.swift).
    public var parameters: [Float]

    /// A freshly initialised model: Glorot input weights, orthogonal recurrent weights, forget bias 1; deterministic in `seed`.
    public init(shape: ModelShape, seed: UInt64) {
        self.shape = shape
        self.parameters = Self.initialParameters(shape: shape, seed: seed)
    }

    /// A model with the given weights (count must be `parameterCount(for: shape)`).
    public init(shape: ModelShape, parameters: [Float]) {
        precondition(parameters.count == Self.parameterCount(for: shape), "parameter count does not match the shape")
        self.shape = shape
        self.parameters = parameters
    }

    /// Hot path: consume one input vector (`shape.inputSize` floats), advance `state`, predict the next value.
    /// Allocates nothing.
    public func step(input: UnsafeBufferPointer<Float>, state: inout RecurrentState) -> Prediction {
        stepInPlace(input: input, state: &state)
    }

    /// Runs the model over `inputs` (T × inputSize, row-major) from `state`, returning the T predictions and
    /// leaving `state` after the last step (used to re-prime a state after new weights are installed).
    public func run(inputs: [Float], state: inout RecurrentState) -> [Prediction] {
        let width = max(1, shape.inputSize)
        let t = inputs.count / width
        var out = [Prediction]()
        out.reserveCapacity(t)
        inputs.withUnsafeBufferPointer { all in
            for i in 0..<t {
                let row = UnsafeBufferPointer(rebasing: all[(i * width)..<((i + 1) * width)])
                out.append(stepInPlace(input: row, state: &state))
            }
        }
        return out
    }

    /// Mean loss of the predictions against `targets` (prediction after input t is compared with targets[t]),
    /// running from the zero state, counting only steps t >= `from` (earlier steps only warm the state up).
    /// `weights` (optional, count T) scales each step's loss; 0 excludes a step.
    /// Gaussian NLL on a model without a Gaussian head is computed as MSE. A non-finite input resets the
    /// state to zero rather than poisoning every later step; 0 when no step counts.
    public func evaluate(inputs: [Float], targets: [Float], weights: [Float]? = nil, loss: LossKind, from: Int = 0) -> Float {
        evaluateWindow(inputs: inputs, targets: targets, weights: weights, loss: loss, from: from)
    }

    /// Trains in place with truncated BPTT on a window: inputs T × inputSize (row-major), targets T
    /// (targets[t] is the value the prediction made after inputs[t] should match), optional per-step loss
    /// weights (0 excludes a step, e.g. points inside an anomaly episode). The last `validationFraction`
    /// of the steps is held back for validation. Warm start: training starts from the current weights.
    /// NaN/Inf losses or gradients skip the update and are counted, never applied.
    /// Returns the best weights seen by validation loss (the starting weights included).
    public mutating func train(inputs: [Float], targets: [Float], weights: [Float]? = nil, config: TrainingConfig) -> TrainingReport {
        trainWindow(inputs: inputs, targets: targets, weights: weights, config: config)
    }

    /// Weights (no optimizer state) as a compact blob: version byte, shape, parameters.
    public func serialized() -> [UInt8] {
        encodeBlob()
    }

    /// Reads a blob written by `serialized()`; rejects a wrong version, shape or length.
    public init(serialized: [UInt8]) throws(RecurrentError) {
        let (shape, parameters) = try Self.decodeBlob(serialized)
        self.shape = shape
        self.parameters = parameters
    }

    /// Number of parameters for a shape.
    public static func parameterCount(for shape: ModelShape) -> Int {
        Layout(shape).count
    }
}
