// Benchmarks of the recurrent engine (`omen bench step`, `omen bench train`). Single thread, medians of
// several repetitions; the figures are what issue 2's targets are stated in.

import Detection
import Recurrent

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// CPU time of the calling thread in seconds: on a shared, loaded machine wall time counts the time other
/// processes held the core, so the benches report both.
func threadCPUSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
}

/// What one `omen bench step` run measured.
public struct StepBenchResult: Sendable {
    /// The precision of the headline figures (the detector's default unless `--inference` chose another).
    public var inference: InferencePrecision
    /// Median nanoseconds per step of one hot series (weights and state in cache).
    public var nsPerStep: Double
    /// Median series-steps per second when stepping `series` series, each with its own weights, round-robin, as
    /// the daemon's shards do: each step prefetches the next series' weights and state, as
    /// `SeriesDetector.process(timestamp:value:prefetching:)` does (`byPrecision` also has the rate without).
    public var seriesStepsPerSecond: Double
    /// How many places ahead the many-series case prefetches (1: the next series, as the detector).
    public var prefetchAhead: Int
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
    /// Every precision's figures (hot ns/step, many-series rate with and without prefetch, bytes per series);
    /// a precision the shape cannot use is left out.
    public var byPrecision: [(precision: InferencePrecision, nsPerStep: Double, seriesStepsPerSecond: Double,
                              seriesStepsPerSecondNoPrefetch: Double, bytesPerSeries: Int,
                              nsPerStepCPU: Double, seriesStepsPerSecondCPU: Double, seriesStepsPerSecondNoPrefetchCPU: Double)]

    /// One JSON line with every figure.
    public var json: String {
        var s = "{\"inference\":\"\(inference.rawValue)\",\"ns_per_step\":\(fmt(nsPerStep)),"
            + "\"series_steps_per_s\":\(fmt(seriesStepsPerSecond)),\"prefetch_ahead\":\(prefetchAhead),"
            + "\"flops_per_step\":\(fmt(flopsPerStep)),\"gflops\":\(fmt(gflops)),"
            + "\"gflops_many_series\":\(fmt(gflopsManySeries)),\"bytes_per_series\":\(bytesPerSeries),"
            + "\"ns_per_step_cpu\":\(fmt(nsPerStepCPU)),\"series_steps_per_s_cpu\":\(fmt(seriesStepsPerSecondCPU))"
        for p in byPrecision {
            let n = p.precision.rawValue
            s += ",\"ns_per_step_\(n)\":\(fmt(p.nsPerStep)),\"series_steps_per_s_\(n)\":\(fmt(p.seriesStepsPerSecond)),"
                + "\"series_steps_per_s_\(n)_no_prefetch\":\(fmt(p.seriesStepsPerSecondNoPrefetch)),"
                + "\"bytes_per_series_\(n)\":\(p.bytesPerSeries),\"ns_per_step_\(n)_cpu\":\(fmt(p.nsPerStepCPU)),"
                + "\"series_steps_per_s_\(n)_cpu\":\(fmt(p.seriesStepsPerSecondCPU)),"
                + "\"series_steps_per_s_\(n)_no_prefetch_cpu\":\(fmt(p.seriesStepsPerSecondNoPrefetchCPU))"
        }
        return s + "}"
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

func median(_ xs: [Double]) -> Double {
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

/// Measures the online step at every precision: one hot series (`hotSteps` steps per repetition), then
/// `series` series with their own weights (distinct allocations, distinct seeds) stepped round-robin
/// (`rounds` rounds per repetition), with and without prefetching the series `prefetchAhead` places ahead.
/// The headline figures are those of `inference`. `shuffled` steps the series in a fixed random order
/// instead of allocation order (where the hardware prefetcher can run ahead across series).
public func benchmarkStep(shape: ModelShape, series: Int = 10_000, hotSteps: Int = 200_000, rounds: Int = 10,
                          repetitions: Int = 7, inference: InferencePrecision = SeriesDetector.defaultInference,
                          prefetchAhead: Int = 1, shuffled: Bool = false)
    -> StepBenchResult {
    let clock = ContinuousClock()
    let width = max(1, shape.inputSize)
    let inputs = benchInputs(1024 * width, seed: 1)
    let flops = stepFlops(shape)
    var sink: Float = 0
    let reps = max(1, repetitions)
    let ahead = max(1, prefetchAhead)

    /// (wall, cpu) medians of ns per step of one hot series.
    func hot(_ model: InferenceModel) -> (Double, Double) {
        var state = RecurrentState(shape: shape)
        var wall = [Double](), cpu = [Double]()
        inputs.withUnsafeBufferPointer { all in
            for _ in 0..<reps {
                let c0 = threadCPUSeconds()
                let start = clock.now
                for s in 0..<hotSteps {
                    let row = UnsafeBufferPointer(rebasing: all[((s & 1023) * width)..<((s & 1023) * width + width)])
                    sink += model.step(input: row, state: &state).mean
                }
                wall.append(seconds(clock.now - start) * 1e9 / Double(hotSteps))
                cpu.append((threadCPUSeconds() - c0) * 1e9 / Double(hotSteps))
            }
        }
        return (median(wall), median(cpu))
    }

    /// (wall, cpu) medians of series-steps per second over all series, round-robin.
    func many(_ models: [InferenceModel], prefetch: Bool) -> (Double, Double) {
        let count = models.count
        var states = (0..<count).map { _ in RecurrentState(shape: shape) }
        var wall = [Double](), cpu = [Double]()
        let steps = Double(count * max(1, rounds))
        inputs.withUnsafeBufferPointer { all in
            for _ in 0..<reps {
                let c0 = threadCPUSeconds()
                let start = clock.now
                for r in 0..<max(1, rounds) {
                    for position in 0..<count {
                        let i = order[position]
                        let k = (i + r) & 1023
                        let row = UnsafeBufferPointer(rebasing: all[(k * width)..<(k * width + width)])
                        if prefetch {
                            let next = order[(position + ahead) % count]
                            states[next].prefetch()
                            sink += models[i].step(input: row, state: &states[i], prefetching: models[next]).mean
                        } else {
                            sink += models[i].step(input: row, state: &states[i]).mean
                        }
                    }
                }
                wall.append(steps / seconds(clock.now - start))
                cpu.append(steps / (threadCPUSeconds() - c0))
            }
        }
        return (median(wall), median(cpu))
    }

    let count = max(1, series)
    // Allocation order, or a fixed random permutation (series scattered in memory, as a long-running daemon's are).
    var order = Array(0..<count)
    if shuffled {
        var x: UInt64 = 99
        for i in stride(from: count - 1, to: 0, by: -1) {
            x = x &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            order.swapAt(i, Int((x >> 33) % UInt64(i + 1)))
        }
    }
    let trained = (0..<count).map { RecurrentModel(shape: shape, seed: UInt64($0 + 1)) }
    var rows: [(precision: InferencePrecision, nsPerStep: Double, seriesStepsPerSecond: Double,
                seriesStepsPerSecondNoPrefetch: Double, bytesPerSeries: Int,
                nsPerStepCPU: Double, seriesStepsPerSecondCPU: Double, seriesStepsPerSecondNoPrefetchCPU: Double)] = []
    var headline = (hot: 0.0, hotCPU: 0.0, many: 0.0, manyCPU: 0.0, bytes: 0)
    for precision in InferencePrecision.allCases {
        let models = trained.map { InferenceModel($0, precision: precision) }
        guard let first = models.first, first.precision == precision else { continue }
        let (ns, nsCPU) = hot(first)
        let (rate, rateCPU) = many(models, prefetch: true)
        let (plain, plainCPU) = many(models, prefetch: false)
        rows.append((precision, ns, rate, plain, first.bytesPerStep, nsCPU, rateCPU, plainCPU))
        if precision == inference || (rows.count == 1 && headline.hot == 0) {
            headline = (ns, nsCPU, rate, rateCPU, first.bytesPerStep)
        }
    }
    if sink == .infinity { print("") } // keeps the work observable to the optimiser

    let used = rows.contains { $0.precision == inference } ? inference : .float32
    return StepBenchResult(inference: used, nsPerStep: headline.hot, seriesStepsPerSecond: headline.many,
                           prefetchAhead: ahead,
                           flopsPerStep: flops, gflops: flops / headline.hot,
                           gflopsManySeries: flops * headline.many / 1e9, bytesPerSeries: headline.bytes,
                           nsPerStepCPU: headline.hotCPU, seriesStepsPerSecondCPU: headline.manyCPU, byPrecision: rows)
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
