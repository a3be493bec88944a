// Benchmarks of the recurrent engine (`omen bench step`, `omen bench train`). Single thread, medians of
// several repetitions; the figures are what issue 2's targets are stated in.

import Recurrent

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// CPU time of the calling thread in seconds: on a shared, loaded machine wall time counts the time other
/// processes held the core, so the benches report both.
private func threadCPUSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
}

/// What one `omen bench step` run measured.
public struct StepBenchResult: Sendable {
    /// Median nanoseconds per step of one hot series (weights and state in cache).
    public var nsPerStep: Double
    /// Median series-steps per second when stepping `series` series, each with its own weights, round-robin.
    public var seriesStepsPerSecond: Double
    /// Floating-point operations of one step (LSTM: 2·4H(H+I+1) + 2H, plus the variance row when present).
    public var flopsPerStep: Double
    /// GFLOP/s of the hot series.
    public var gflops: Double
    /// GFLOP/s of the many-series case.
    public var gflopsManySeries: Double
    /// Weight bytes streamed per step in the many-series case.
    public var bytesPerSeries: Int
    /// The same two figures from thread CPU time (excludes time the core was taken by other processes).
    public var nsPerStepCPU: Double
    public var seriesStepsPerSecondCPU: Double
    /// The same figures for the bfloat16 inference copy (`CompactRecurrentModel`); nil when the shape is unsupported.
    public var nsPerStepBF16: Double?
    public var seriesStepsPerSecondBF16: Double?
    public var seriesStepsPerSecondBF16CPU: Double?

    /// One JSON line with every figure.
    public var json: String {
        "{\"ns_per_step\":\(fmt(nsPerStep)),\"series_steps_per_s\":\(fmt(seriesStepsPerSecond)),"
            + "\"flops_per_step\":\(fmt(flopsPerStep)),\"gflops\":\(fmt(gflops)),"
            + "\"gflops_many_series\":\(fmt(gflopsManySeries)),\"bytes_per_series\":\(bytesPerSeries),"
            + "\"ns_per_step_cpu\":\(fmt(nsPerStepCPU)),\"series_steps_per_s_cpu\":\(fmt(seriesStepsPerSecondCPU)),"
            + "\"ns_per_step_bf16\":\(fmt(nsPerStepBF16 ?? .nan)),"
            + "\"series_steps_per_s_bf16\":\(fmt(seriesStepsPerSecondBF16 ?? .nan)),"
            + "\"series_steps_per_s_bf16_cpu\":\(fmt(seriesStepsPerSecondBF16CPU ?? .nan))}"
    }
}

/// What one `omen bench train` run measured.
public struct TrainBenchResult: Sendable {
    /// Median milliseconds of one full retrain (validation passes included).
    public var msPerRetrain: Double
    /// Optimizer updates per retrain.
    public var updates: Int
    /// Epochs run per retrain (early stopping may cut them; the bench disables it).
    public var epochsRun: Int
    /// Validation loss before and after, so a run that learned nothing is visible.
    public var initialValidationLoss: Float
    public var validationLoss: Float
    /// Median thread CPU milliseconds of one retrain.
    public var msPerRetrainCPU: Double

    /// One JSON line with every figure.
    public var json: String {
        "{\"ms_per_retrain\":\(fmt(msPerRetrain)),\"ms_per_retrain_cpu\":\(fmt(msPerRetrainCPU)),\"updates\":\(updates),\"epochs_run\":\(epochsRun),"
            + "\"initial_validation_loss\":\(fmt(Double(initialValidationLoss))),"
            + "\"validation_loss\":\(fmt(Double(validationLoss)))}"
    }
}

private func fmt(_ x: Double) -> String {
    guard x.isFinite else { return "null" }
    return String((x * 1000).rounded() / 1000)
}

private func median(_ xs: [Double]) -> Double {
    let s = xs.sorted()
    guard !s.isEmpty else { return 0 }
    return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
}

private func seconds(_ d: Duration) -> Double {
    let c = d.components
    return Double(c.seconds) + Double(c.attoseconds) * 1e-18
}

/// FLOPs of one step for a shape: the gate products, the GRU's extra hidden-side bias, and the head rows.
public func stepFlops(_ shape: ModelShape) -> Double {
    let h = Double(shape.hiddenSize), i = Double(shape.inputSize)
    let gates: Double = shape.cell == .lstm ? 4 : (shape.cell == .gru ? 3 : 1)
    let outputs: Double = shape.gaussianHead ? 2 : 1
    return 2 * gates * h * (h + i + 1) + 2 * h * outputs
}

/// Deterministic pseudo-random inputs in [-1, 1).
private func benchInputs(_ count: Int, seed: UInt64) -> [Float] {
    var x = seed
    return (0..<count).map { _ in
        x = x &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        return Float(Int64(bitPattern: x >> 11) % 2_000_000) / 1_000_000 - 1
    }
}

/// Measures the online step: one hot series (`hotSteps` steps per repetition), then `series` series with their
/// own weights stepped round-robin (`rounds` rounds per repetition).
public func benchmarkStep(shape: ModelShape, series: Int = 10_000, hotSteps: Int = 200_000, rounds: Int = 10,
                          repetitions: Int = 7) -> StepBenchResult {
    let clock = ContinuousClock()
    let width = max(1, shape.inputSize)
    let inputs = benchInputs(1024 * width, seed: 1)
    let flops = stepFlops(shape)

    let model = RecurrentModel(shape: shape, seed: 1)
    var state = RecurrentState(shape: shape)
    var sink: Float = 0
    var hot = [Double](), hotCPU = [Double]()
    inputs.withUnsafeBufferPointer { all in
        for _ in 0..<max(1, repetitions) {
            let cpu = threadCPUSeconds()
            let start = clock.now
            for s in 0..<hotSteps {
                let row = UnsafeBufferPointer(rebasing: all[((s & 1023) * width)..<((s & 1023) * width + width)])
                sink += model.step(input: row, state: &state).mean
            }
            hot.append(seconds(clock.now - start) * 1e9 / Double(hotSteps))
            hotCPU.append((threadCPUSeconds() - cpu) * 1e9 / Double(hotSteps))
        }
    }

    let count = max(1, series)
    var models = (0..<count).map { RecurrentModel(shape: shape, seed: UInt64($0 + 1)) }
    var states = [RecurrentState](repeating: RecurrentState(shape: shape), count: count)
    var many = [Double](), manyCPU = [Double]()
    inputs.withUnsafeBufferPointer { all in
        for _ in 0..<max(1, repetitions) {
            let cpu = threadCPUSeconds()
            let start = clock.now
            for r in 0..<max(1, rounds) {
                for i in 0..<count {
                    let k = (i + r) & 1023
                    let row = UnsafeBufferPointer(rebasing: all[(k * width)..<(k * width + width)])
                    sink += models[i].step(input: row, state: &states[i]).mean
                }
            }
            many.append(Double(count * max(1, rounds)) / seconds(clock.now - start))
            manyCPU.append(Double(count * max(1, rounds)) / (threadCPUSeconds() - cpu))
        }
    }
    // The same two cases with the bfloat16 inference copies.
    var hotBF16: Double?, manyBF16: Double?, manyBF16CPU: Double?
    if let compact = CompactRecurrentModel(model) {
        var times = [Double]()
        var st = RecurrentState(shape: shape)
        inputs.withUnsafeBufferPointer { all in
            for _ in 0..<max(1, repetitions) {
                let start = clock.now
                for s in 0..<hotSteps {
                    let row = UnsafeBufferPointer(rebasing: all[((s & 1023) * width)..<((s & 1023) * width + width)])
                    sink += compact.step(input: row, state: &st).mean
                }
                times.append(seconds(clock.now - start) * 1e9 / Double(hotSteps))
            }
        }
        hotBF16 = median(times)
        let compacts = models.compactMap { CompactRecurrentModel($0) }
        models.removeAll()
        var rates = [Double](), ratesCPU = [Double]()
        inputs.withUnsafeBufferPointer { all in
            for _ in 0..<max(1, repetitions) {
                let cpu = threadCPUSeconds()
                let start = clock.now
                for r in 0..<max(1, rounds) {
                    for i in 0..<compacts.count {
                        let k = (i + r) & 1023
                        let row = UnsafeBufferPointer(rebasing: all[(k * width)..<(k * width + width)])
                        sink += compacts[i].step(input: row, state: &states[i]).mean
                    }
                }
                rates.append(Double(compacts.count * max(1, rounds)) / seconds(clock.now - start))
                ratesCPU.append(Double(compacts.count * max(1, rounds)) / (threadCPUSeconds() - cpu))
            }
        }
        manyBF16 = median(rates)
        manyBF16CPU = median(ratesCPU)
    }
    models.removeAll()
    if sink == .infinity { print("") } // keeps the work observable to the optimiser

    let ns = median(hot)
    let perSecond = median(many)
    return StepBenchResult(nsPerStep: ns, seriesStepsPerSecond: perSecond, flopsPerStep: flops,
                           gflops: flops / ns, gflopsManySeries: flops * perSecond / 1e9,
                           bytesPerSeries: 4 * RecurrentModel.parameterCount(for: shape),
                           nsPerStepCPU: median(hotCPU), seriesStepsPerSecondCPU: median(manyCPU),
                           nsPerStepBF16: hotBF16, seriesStepsPerSecondBF16: manyBF16,
                           seriesStepsPerSecondBF16CPU: manyBF16CPU)
}

/// Measures one retrain of a fresh model on a noisy sine window (early stopping off, so every epoch runs).
public func benchmarkTrain(shape: ModelShape, window: Int = 2000, config: TrainingConfig,
                           repetitions: Int = 5) -> TrainBenchResult {
    let clock = ContinuousClock()
    let width = max(1, shape.inputSize)
    let noise = benchInputs(window + 1, seed: 7)
    var series = [Float](repeating: 0, count: window + 1)
    var phase: Float = 0
    for t in 0...window {
        phase += 2 * Float.pi / 48
        if phase > Float.pi { phase -= 2 * Float.pi }
        // A cheap odd polynomial keeps the bench free of libm: sin on [-π, π] to ~1e-3.
        let p = phase, p2 = p * p
        series[t] = p * (1 - p2 / 6 * (1 - p2 / 20 * (1 - p2 / 42 * (1 - p2 / 72)))) + 0.1 * noise[t]
    }
    var inputs = [Float](repeating: 0, count: window * width)
    for t in 0..<window {
        inputs[t * width] = series[t]
        for f in 1..<width { inputs[t * width + f] = Float(f) * 0.01 * Float(t % 24) }
    }
    let targets = Array(series[1...window])
    var cfg = config
    cfg.patience = 0
    var times = [Double](), timesCPU = [Double]()
    var last: TrainingReport?
    for _ in 0..<max(1, repetitions) {
        var model = RecurrentModel(shape: shape, seed: 3)
        let cpu = threadCPUSeconds()
        let start = clock.now
        last = model.train(inputs: inputs, targets: targets, config: cfg)
        times.append(seconds(clock.now - start) * 1e3)
        timesCPU.append((threadCPUSeconds() - cpu) * 1e3)
    }
    return TrainBenchResult(msPerRetrain: median(times), updates: last?.updates ?? 0, epochsRun: last?.epochsRun ?? 0,
                            initialValidationLoss: last?.initialValidationLoss ?? .nan,
                            validationLoss: last?.validationLoss ?? .nan, msPerRetrainCPU: median(timesCPU))
}
