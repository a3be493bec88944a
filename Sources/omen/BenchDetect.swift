import ArgumentParser
import Bench
import Detection
import Foundation
import Recurrent

/// `omen bench detect`: a shard's per-point work on one thread.
struct BenchDetect: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "detect",
        abstract: "Process points round-robin over many series with trained models on one thread; print ns per point.",
        discussion: "Each point is scored, checked by the episode machine and stepped through the series' own model, as a shard does (no sockets, no retraining). Setup is not timed. Use a release build.")

    @Option(help: "Series, each with its own weights.") var series = 10_000
    @Option(help: "Points per series per repetition.") var points = 50
    @Option(help: "Cell: lstm, gru or rnn.") var cell = "lstm"
    @Option(help: "Hidden units.") var hidden = 32
    @Option(help: "Scoring stage: calibrated, residual, gaussian, likelihood or dynamic.") var scorer = "calibrated"
    @Flag(help: "Do not fetch the next series' weights while processing a point (the shards do).") var noPrefetch = false
    @Option(name: .customLong("repeat"), help: "Repetitions; the figure is their median.") var repeats = 5
    @Option(help: "Round every timed value to a multiple of this (0: off), so that runs of exact repeats start often.")
    var quantum = 0.0
    @Flag(help: "Print one JSON line.") var json = false

    func run() async throws {
        guard let kind = CellKind(rawValue: cell) else { throw ValidationError("--cell must be lstm, gru or rnn") }
        guard quantum >= 0 && quantum.isFinite else { throw ValidationError("--quantum must be 0 or a positive number") }
        guard let scorerKind = ScorerKind(rawValue: scorer) else {
            throw ValidationError("--scorer must be calibrated, residual, gaussian, likelihood or dynamic")
        }
        let r = try DetectorBench.run(series: series, pointsPerSeries: points, repeats: repeats, cell: kind, hidden: hidden,
                                      scorer: scorerKind, prefetch: !noPrefetch, quantum: quantum)
        let sorted = r.nanosecondsPerPoint.sorted()
        let median = sorted[sorted.count / 2]
        let perSecond = 1e9 / median
        let cpuSorted = r.cpuNanosecondsPerPoint.sorted()
        let cpuMedian = cpuSorted[cpuSorted.count / 2]
        if json {
            let runs = r.nanosecondsPerPoint.map { String(Int($0.rounded())) }.joined(separator: ",")
            print("{\"bench\":\"detect\",\"series\":\(series),\"cell\":\"\(cell)\",\"scorer\":\"\(scorer)\",\"prefetch\":\(!noPrefetch),\"hidden\":\(hidden),\"quantum\":\(quantum),\"ns_per_point\":\(Int(median.rounded())),\"cpu_ns_per_point\":\(Int(cpuMedian.rounded())),\"points_per_s\":\(Int(perSecond)),\"runs_ns\":[\(runs)],\"score_sum\":\(r.scoreSum)}")
        } else {
            print("detect: \(series) series × \(points) points per repetition, \(sorted.count) repetitions (setup \(String(format: "%.1f", r.setupSeconds)) s, not timed)")
            print("  ns per point (median): \(Int(median.rounded()))  → \(Int(perSecond)) points/s on one thread")
            print("  CPU ns per point (median): \(Int(cpuMedian.rounded()))")
            print("  runs: \(r.nanosecondsPerPoint.map { String(Int($0.rounded())) }.joined(separator: " "))")
        }
    }
}
