// `omen replay`: parses options, calls the Replay module, prints. The work lives in Replay.

import ArgumentParser
import Configuration
import Detection
import Recurrent
import Replay

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension ScorerKind: ExpressibleByArgument {}
extension CellKind: ExpressibleByArgument {}

/// Backtests a CSV through the daemon's per-series detector.
struct ReplayCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replay",
        abstract: "Replay a CSV series through the same per-series detector the daemon runs.",
        discussion: """
        Reads `timestamp,value` (NAB layout, UTC; ISO-8601 and Unix seconds also accepted) or a named value \
        column, retrains synchronously at the daemon's point counts with a fixed seed (two runs give identical \
        output), and writes one row per input row: timestamp,value,prediction,lower,upper,anomaly_score,flag. \
        Flags override the configuration.
        """)

    @Argument(help: "CSV file with a header row.")
    var file: String

    @Option(help: "Series key the detector sees (it also seeds the model). Default: the file name.")
    var series: String?

    @Option(help: "Name of the value column. Default: 'value', else the first non-timestamp column.")
    var column: String?

    @Option(help: "Daemon configuration file (TOML) whose model, training, learning, episodes, scoring and overrides apply.")
    var config: String?

    @Option(help: "Write the scores CSV here (default: standard output).")
    var output: String?

    @Option(help: "Write an SVG plot of the series, prediction, band, episodes and retrains here.")
    var plot: String?

    @Option(help: "Seed for weight initialisation and training (default 42).")
    var seed: UInt64?

    @Option(help: "Scoring stage (default calibrated).")
    var scorer: ScorerKind?

    @Option(help: "Recurrent cell (default lstm).")
    var cell: CellKind?

    @Option(help: "Hidden units of the model.")
    var hidden: Int?

    @Flag(help: "Do not feed calendar features (time of day, day of week) to the model.")
    var noCalendar = false

    @Option(help: "Score at or above which an episode opens, in [0, 1].")
    var threshold: Double?

    @Option(help: "Weight of the value's own surprise in the score, in [0, 1] (0 = residual only).")
    var valueWeight: Double?

    @Option(help: "Onset discipline: a point keeps its score only if it beats the previous N points (0 = off).")
    var onsetWindow: Int?

    @Option(help: "Past residuals and values each point is ranked against.")
    var history: Int?

    @Flag(help: "Flag runs of exactly repeated values longer than any before (frozen sensors).")
    var frozen = false

    @Option(help: "Fraction of its score a point keeps when it is not an onset, in [0, 1].")
    var repeatFactor: Double?

    @Option(help: "Most extreme past values the exponential tail is fitted to.")
    var tailSize: Int?

    @Option(help: "Calibrated stage: weight of the Gaussian-head surprise in [0, 1] (0 = off).")
    var gaussianWeight: Double?

    @Option(help: "Weight in [0, 1] of the calibrated surprise of the step change (a persistence residual).")
    var changeWeight: Double?

    @Flag(help: "Calibrated stage: rank residuals in units of the model's predicted spread.")
    var standardise = false

    @Option(help: "Span in points of the smoothed residual whose surprise also counts (0 = off).")
    var driftSpan: Int?

    func validate() throws {
        if let threshold, !(0...1).contains(threshold) { throw ValidationError("--threshold must be in [0, 1]") }
        if let valueWeight, !(0...1).contains(valueWeight) { throw ValidationError("--value-weight must be in [0, 1]") }
        if let history, !(16...65535).contains(history) { throw ValidationError("--history must be in 16...65535") }
        if let hidden, !(1...1024).contains(hidden) { throw ValidationError("--hidden must be in 1...1024") }
        if let onsetWindow, onsetWindow < 0 { throw ValidationError("--onset-window must be 0 or more") }
        if let repeatFactor, !(0...1).contains(repeatFactor) { throw ValidationError("--repeat-factor must be in [0, 1]") }
        if let tailSize, !(2...1000).contains(tailSize) { throw ValidationError("--tail-size must be in 2...1000") }
    }

    /// The detector configuration: defaults (or the file's, for this series), then flags.
    func detectorConfig(series name: String) throws -> DetectorConfig {
        var c = DetectorConfig()
        if let config {
            do {
                c = try ConfigLoader.load(path: config).detectorConfig(for: name)
            } catch {
                throw ValidationError("configuration error: \(error)")
            }
        }
        if let seed { c.model.seed = seed }
        if let scorer { c.scoring.kind = scorer }
        if let cell { c.model.cell = cell }
        if let hidden { c.model.hiddenSize = hidden }
        if noCalendar { c.model.calendar = .off }
        if let threshold { c.episodes.threshold = threshold }
        if let valueWeight { c.scoring.valueWeight = valueWeight }
        if let onsetWindow { c.scoring.onsetWindow = onsetWindow }
        if let history { c.scoring.history = history }
        if frozen { c.scoring.frozenDetection = true }
        if let repeatFactor { c.scoring.repeatFactor = repeatFactor }
        if let tailSize { c.scoring.tailSize = tailSize }
        if standardise { c.scoring.standardise = true }
        if let changeWeight { c.scoring.changeWeight = min(max(changeWeight, 0), 1) }
        if let gaussianWeight { c.scoring.gaussianWeight = min(max(gaussianWeight, 0), 1) }
        if let driftSpan { c.scoring.driftSpan = max(0, driftSpan) }
        return c
    }

    func run() throws {
        let rows = try CSVSeriesReader(column: column).read(path: file)
        let name = series ?? String(file.split(separator: "/").last ?? Substring(file))
        let runner = ReplayRunner(config: try detectorConfig(series: name), series: name)
        let tty = isatty(STDERR_FILENO) == 1
        let result = runner.run(rows, progress: tty ? { done, total in Self.progress(done, total) } : nil)
        if tty { Self.stderr("\r\u{1B}[K") }
        if let output {
            try ReplayRunner.write(result.csv(), to: output)
        } else {
            print(result.csv(), terminator: "")
        }
        if let plot {
            try ReplayRunner.write(SVGPlot(title: name).render(result.rows), to: plot)
        }
        let summary = result.summary.paragraph
        if output != nil { print(summary) } else { Self.stderr(summary + "\n") }
    }

    static func progress(_ done: Int, _ total: Int) {
        let width = 40
        let filled = total > 0 ? done * width / total : width
        let bar = String(repeating: "#", count: filled) + String(repeating: "-", count: width - filled)
        stderr("\r[\(bar)] \(done)/\(total)")
    }

    static func stderr(_ s: String) {
        var bytes = Array(s.utf8)
        _ = bytes.withUnsafeMutableBytes { write(STDERR_FILENO, $0.baseAddress, $0.count) }
    }
}
