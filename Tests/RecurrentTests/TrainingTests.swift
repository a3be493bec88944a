import Testing
@testable import Recurrent

/// A window where input t is the series value (plus optional extras) and target t is value t+1.
struct Window {
    var inputs: [Float]
    var targets: [Float]
}

/// Noisy sine of the given period, value-only inputs.
func noisySine(count: Int, period: Double, noise: Double, seed: UInt64) -> (window: Window, variance: Double) {
    var rng = SeededGenerator(seed: seed)
    let series = (0...count).map { i in Float(sin(2 * Double.pi * Double(i) / period) + noise * rng.gaussian()) }
    let mean = series.reduce(0, +) / Float(series.count)
    let variance = series.map { Double(($0 - mean) * ($0 - mean)) }.reduce(0, +) / Double(series.count)
    return (Window(inputs: Array(series[0..<count]), targets: Array(series[1...count])), variance)
}

/// Delayed copy: input random ±1, target the input `delay` steps earlier (needs memory, not prediction).
func delayedCopy(count: Int, delay: Int, seed: UInt64) -> Window {
    var rng = SeededGenerator(seed: seed)
    let x = (0..<count).map { _ in Float(rng.unit() < 0.5 ? -1 : 1) }
    let y = (0..<count).map { $0 >= delay ? x[$0 - delay] : 0 }
    return Window(inputs: x, targets: y)
}

#if canImport(Glibc)
import Glibc
#endif

@Suite struct TrainingTests {
    /// An LSTM learns a noisy sine to a validation MSE far below the signal's variance.
    @Test func lstmLearnsNoisySine() {
        let (w, variance) = noisySine(count: 1500, period: 37, noise: 0.1, seed: 1)
        var model = RecurrentModel(shape: ModelShape(cell: .lstm, inputSize: 1, hiddenSize: 16), seed: 1)
        var config = TrainingConfig()
        config.loss = .mse
        config.epochs = 15
        config.learningRate = 1e-2
        config.sequenceLength = 32
        config.patience = 0
        let r = model.train(inputs: w.inputs, targets: w.targets, config: config)
        #expect(r.validationLoss < Float(0.1 * variance))
        #expect(r.validationLoss < r.initialValidationLoss)
        #expect(r.updates > 0 && r.skippedUpdates == 0)
    }

    /// LSTM and GRU learn a delayed copy (memory of 4 steps across chunk boundaries); a plain RNN is not required to.
    @Test(arguments: [CellKind.lstm, .gru])
    func learnsDelayedCopy(cell: CellKind) {
        let w = delayedCopy(count: 2000, delay: 4, seed: 5)
        var model = RecurrentModel(shape: ModelShape(cell: cell, inputSize: 1, hiddenSize: 16), seed: 2)
        var config = TrainingConfig()
        config.loss = .mse
        config.epochs = 30
        config.learningRate = 1e-2
        config.sequenceLength = 16
        config.patience = 0
        let r = model.train(inputs: w.inputs, targets: w.targets, config: config)
        // The target's variance is 1: guessing gives ~1, remembering gives ~0.
        #expect(r.validationLoss < 0.1, "validation MSE \(r.validationLoss)")
    }

    /// Gaussian NLL training learns a variance: on noise of σ = 0.5 the predicted log-variance approaches log 0.25.
    @Test func gaussianHeadLearnsNoiseLevel() {
        var rng = SeededGenerator(seed: 9)
        let noise = (0...1200).map { _ in Float(0.5 * rng.gaussian()) }
        var model = RecurrentModel(shape: ModelShape(cell: .lstm, inputSize: 1, hiddenSize: 8), seed: 4)
        var config = TrainingConfig()
        config.epochs = 20
        config.learningRate = 1e-2
        config.patience = 0
        _ = model.train(inputs: Array(noise[0..<1200]), targets: Array(noise[1...1200]), config: config)
        var state = RecurrentState(shape: model.shape)
        let preds = model.run(inputs: Array(noise[0..<300]), state: &state)
        let meanLogVar = preds[100...].map(\.logVariance).reduce(0, +) / Float(preds.count - 100)
        #expect(abs(meanLogVar - Float(log(0.25))) < 0.3, "mean log-variance \(meanLogVar)")
    }

    /// An absurd learning rate keeps every weight and loss finite, and the returned weights are never worse on
    /// validation than the starting ones (best-weights selection).
    @Test(arguments: CellKind.allCases)
    func absurdLearningRateStaysFinite(cell: CellKind) {
        let (w, _) = noisySine(count: 600, period: 20, noise: 0.1, seed: 3)
        var model = RecurrentModel(shape: ModelShape(cell: cell, inputSize: 1, hiddenSize: 8), seed: 1)
        var config = TrainingConfig()
        config.learningRate = 50
        config.epochs = 4
        config.clipNorm = 1
        let r = model.train(inputs: w.inputs, targets: w.targets, config: config)
        #expect(model.parameters.allSatisfy { $0.isFinite })
        #expect(r.validationLoss.isFinite)
        #expect(r.validationLoss <= r.initialValidationLoss)
    }

    /// The reported validation loss is the loss of the returned weights on the held-back tail, and early
    /// stopping stops before the epoch budget when validation stops improving.
    @Test func earlyStoppingReturnsBestWeights() {
        let (w, _) = noisySine(count: 800, period: 25, noise: 0.3, seed: 8)
        var model = RecurrentModel(shape: ModelShape(cell: .gru, inputSize: 1, hiddenSize: 8), seed: 6)
        var config = TrainingConfig()
        config.learningRate = 0.2
        config.epochs = 40
        config.patience = 1
        config.validationFraction = 0.25
        let r = model.train(inputs: w.inputs, targets: w.targets, config: config)
        let from = 800 - Int((Float(800) * 0.25).rounded(.down))
        let recomputed = model.evaluate(inputs: w.inputs, targets: w.targets, loss: .gaussianNLL, from: from)
        #expect(r.validationLoss == recomputed)
        #expect(r.stoppedEarly && r.epochsRun < 40)
    }

    /// Same seed and same data give bit-identical weights (with dropout on); another seed gives other weights.
    @Test func trainingIsDeterministic() {
        let (w, _) = noisySine(count: 500, period: 30, noise: 0.2, seed: 2)
        var config = TrainingConfig()
        config.dropout = 0.2
        config.epochs = 3
        config.seed = 42
        let shape = ModelShape(cell: .lstm, inputSize: 1, hiddenSize: 12)
        var a = RecurrentModel(shape: shape, seed: 5)
        var b = RecurrentModel(shape: shape, seed: 5)
        let ra = a.train(inputs: w.inputs, targets: w.targets, config: config)
        let rb = b.train(inputs: w.inputs, targets: w.targets, config: config)
        #expect(a.parameters == b.parameters)
        #expect(ra == rb)
        #expect(RecurrentModel(shape: shape, seed: 5) != RecurrentModel(shape: shape, seed: 6))
    }

    /// A NaN input skips the updates whose loss it reaches, counts them, and leaves every weight finite.
    @Test func nanInputIsSkippedAndCounted() {
        let (w, _) = noisySine(count: 600, period: 30, noise: 0.1, seed: 4)
        var inputs = w.inputs
        inputs[100] = .nan
        inputs[101] = .infinity
        var model = RecurrentModel(shape: ModelShape(cell: .lstm, inputSize: 1, hiddenSize: 8), seed: 1)
        var config = TrainingConfig()
        config.epochs = 2
        config.batchSize = 2
        let r = model.train(inputs: inputs, targets: w.targets, config: config)
        #expect(r.skippedUpdates >= 2)
        #expect(r.updates > 0)
        #expect(model.parameters.allSatisfy { $0.isFinite })
        #expect(r.validationLoss.isFinite)
    }

    /// A step with loss weight 0 is excluded entirely: even a NaN target there skips nothing and changes nothing.
    @Test func zeroWeightExcludesStep() {
        let (w, _) = noisySine(count: 400, period: 30, noise: 0.1, seed: 6)
        var weights = [Float](repeating: 1, count: 400)
        var targets = w.targets
        for i in 50..<60 {
            weights[i] = 0
            targets[i] = .nan
        }
        var config = TrainingConfig()
        config.epochs = 2
        var a = RecurrentModel(shape: ModelShape(cell: .lstm, inputSize: 1, hiddenSize: 8), seed: 1)
        var b = a
        let ra = a.train(inputs: w.inputs, targets: targets, weights: weights, config: config)
        let rb = b.train(inputs: w.inputs, targets: w.targets, weights: weights, config: config)
        #expect(ra.skippedUpdates == 0)
        #expect(a.parameters == b.parameters)
        #expect(rb.updates == ra.updates)
    }

    /// `run` gives the same predictions and final state as stepping one input at a time.
    @Test func runMatchesStep() {
        let shape = ModelShape(cell: .lstm, inputSize: 3, hiddenSize: 10)
        let model = RecurrentModel(shape: shape, seed: 9)
        var rng = SeededGenerator(seed: 1)
        let inputs = (0..<(3 * 50)).map { _ in Float(rng.symmetric(1)) }
        var s1 = RecurrentState(shape: shape), s2 = RecurrentState(shape: shape)
        let preds = model.run(inputs: inputs, state: &s1)
        var stepped = [Prediction]()
        for t in 0..<50 {
            let row = Array(inputs[(3 * t)..<(3 * t + 3)])
            stepped.append(row.withUnsafeBufferPointer { model.step(input: $0, state: &s2) })
        }
        #expect(preds == stepped)
        #expect(s1 == s2)
        #expect(preds.allSatisfy { $0.logVariance == 0 }) // fresh Gaussian head: variance 1
    }
}
