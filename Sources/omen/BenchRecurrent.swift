import ArgumentParser
import Bench
import Detection
import Recurrent

/// Flags shared by the recurrent-engine benchmarks.
struct RecurrentBenchOptions: ParsableArguments {
    @Option(help: "Cell: lstm, gru or rnn.")
    var cell: String = "lstm"

    @Option(name: .customLong("hidden"), help: "Hidden units.")
    var hiddenSize: Int = 32

    @Option(name: .customLong("input"), help: "Input width (features per step).")
    var inputSize: Int = 5

    @Flag(name: .customLong("no-variance"), help: "Use a mean-only head instead of the Gaussian (mean, log-variance) head.")
    var meanOnly = false

    @Option(help: "Repetitions; the median is reported.")
    var repetitions: Int = 7

    @Flag(help: "Print one JSON line of figures instead of text.")
    var json = false

    func validate() throws {
        guard CellKind(rawValue: cell) != nil else {
            throw ValidationError("--cell must be one of lstm, gru, rnn (got \(cell))")
        }
        guard (1...1024).contains(hiddenSize), (1...1024).contains(inputSize) else {
            throw ValidationError("--hidden and --input must be between 1 and 1024")
        }
        guard repetitions >= 1 else { throw ValidationError("--repetitions must be at least 1") }
    }

    var shape: ModelShape {
        ModelShape(cell: CellKind(rawValue: cell) ?? .lstm, inputSize: inputSize, hiddenSize: hiddenSize,
                   gaussianHead: !meanOnly)
    }
}

/// `omen bench step`: online step speed, one hot series and many series with their own weights.
struct BenchStep: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "step",
        abstract: "Measure the recurrent model's online step (single thread, release build).")

    @OptionGroup var options: RecurrentBenchOptions

    @Option(help: "Series stepped round-robin, each with its own weights (the memory-bound case).")
    var series: Int = 10_000

    @Option(name: .customLong("steps"), help: "Steps of the hot series per repetition.")
    var hotSteps: Int = 200_000

    @Option(help: "Rounds over all series per repetition.")
    var rounds: Int = 10

    @Option(help: "Precision of the headline figures: float32, bf16 or int8 (default: the detector's, \(SeriesDetector.defaultInference.rawValue)).")
    var inference: String = SeriesDetector.defaultInference.rawValue

    @Option(name: .customLong("prefetch-ahead"), help: "In the prefetching variant, prefetch the weights of the series this many places ahead.")
    var prefetchAhead: Int = 1

    @Flag(help: "Step the series in a fixed random order instead of allocation order.")
    var shuffled = false

    func validate() throws {
        guard series >= 1, hotSteps >= 1, rounds >= 1, prefetchAhead >= 1 else {
            throw ValidationError("--series, --steps, --rounds and --prefetch-ahead must be at least 1")
        }
        guard InferencePrecision(rawValue: inference) != nil else {
            throw ValidationError("--inference must be one of float32, bf16, int8 (got \(inference))")
        }
    }

    func run() throws {
        let r = benchmarkStep(shape: options.shape, series: series, hotSteps: hotSteps, rounds: rounds,
                              repetitions: options.repetitions,
                              inference: InferencePrecision(rawValue: inference) ?? SeriesDetector.defaultInference,
                              prefetchAhead: prefetchAhead, shuffled: shuffled)
        if options.json {
            print(r.json)
        } else {
            let s = options.shape
            print("step \(s.cell.rawValue) hidden \(s.hiddenSize) input \(s.inputSize), \(r.inference.rawValue) weights: "
                + "\(Int(r.nsPerStep.rounded())) ns/step (one hot series, \(Int(r.flopsPerStep)) FLOP, "
                + "\(format2(r.gflops)) GFLOP/s); "
                + "\(format2(r.seriesStepsPerSecond / 1e6)) M series-steps/s over \(series) series, prefetching "
                + "\(r.prefetchAhead) ahead (the detector prefetches 1) "
                + "(\(r.bytesPerSeries) weight bytes each); medians of \(options.repetitions); "
                + "thread CPU time: \(Int(r.nsPerStepCPU.rounded())) ns/step, "
                + "\(format2(r.seriesStepsPerSecondCPU / 1e6)) M series-steps/s")
            for p in r.byPrecision {
                print("  \(p.precision.rawValue): \(Int(p.nsPerStep.rounded())) ns/step hot; "
                    + "\(format2(p.seriesStepsPerSecond / 1e6)) M series-steps/s with prefetch, "
                    + "\(format2(p.seriesStepsPerSecondNoPrefetch / 1e6)) M without; \(p.bytesPerSeries) bytes/series; "
                    + "thread CPU: \(Int(p.nsPerStepCPU.rounded())) ns, \(format2(p.seriesStepsPerSecondCPU / 1e6)) M, "
                    + "\(format2(p.seriesStepsPerSecondNoPrefetchCPU / 1e6)) M")
            }
        }
    }
}

/// `omen bench train`: one retrain with truncated BPTT.
struct BenchTrain: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Measure one retrain (truncated BPTT, Adam) of a model on a synthetic window.")

    @OptionGroup var options: RecurrentBenchOptions

    @Option(help: "Window length in points.")
    var window: Int = 2000

    @Option(name: .customLong("sequence-length"), help: "TBPTT chunk length in steps.")
    var sequenceLength: Int = 64

    @Option(name: .customLong("batch-size"), help: "Streams processed in lockstep.")
    var batchSize: Int = 8

    @Option(help: "Epochs (early stopping is off in the bench).")
    var epochs: Int = 5

    @Option(help: "Loss: mse or gaussian_nll.")
    var loss: String = "gaussian_nll"

    func validate() throws {
        guard window >= 2, sequenceLength >= 1, batchSize >= 1, epochs >= 1 else {
            throw ValidationError("--window must be at least 2, --sequence-length, --batch-size and --epochs at least 1")
        }
        guard LossKind(rawValue: loss) != nil else { throw ValidationError("--loss must be mse or gaussian_nll") }
    }

    func run() throws {
        var config = TrainingConfig()
        config.sequenceLength = sequenceLength
        config.batchSize = batchSize
        config.epochs = epochs
        config.loss = LossKind(rawValue: loss) ?? .gaussianNLL
        let r = benchmarkTrain(shape: options.shape, window: window, config: config, repetitions: options.repetitions)
        if options.json {
            print(r.json)
        } else {
            print("train \(options.shape.cell.rawValue) hidden \(options.hiddenSize) input \(options.inputSize), "
                + "window \(window), seq \(sequenceLength), batch \(batchSize), \(epochs) epochs: "
                + "\(format2(r.msPerRetrain)) ms/retrain (\(r.updates) updates; validation loss "
                + "\(format2(Double(r.initialValidationLoss))) → \(format2(Double(r.validationLoss)))); "
                + "median of \(options.repetitions); thread CPU \(format2(r.msPerRetrainCPU)) ms")
        }
    }
}

private func format2(_ x: Double) -> String {
    guard x.isFinite else { return "nan" }
    return String((x * 100).rounded() / 100)
}
