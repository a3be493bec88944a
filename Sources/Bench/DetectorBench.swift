import Configuration
import Daemon
import Detection
import Foundation
import Recurrent

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `omen bench detect`: the per-point work of a shard, alone on one thread: many series with trained models,
/// each point scored, episode-checked and stepped (`SeriesDetector.process`), round-robin over the series as a
/// busy daemon sees them, fetching the next series' weights meanwhile as a shard does (`prefetch: false` to
/// compare). No sockets, no threads: the figure the ingest pipeline's shards are built from.
public enum DetectorBench {
    /// What was measured: nanoseconds per processed point, one value per repetition.
    public struct Result: Sendable {
        public var series: Int
        public var pointsPerRepeat: Int
        public var nanosecondsPerPoint: [Double]
        /// The same in CPU time of the bench thread: on a loaded machine wall time also counts the time other
        /// processes held the core, so A/B comparisons read this one.
        public var cpuNanosecondsPerPoint: [Double]
        public var setupSeconds: Double
        /// Sum of every score computed (returned so the optimiser cannot drop the work; also a cheap check that
        /// two builds scored the same points alike).
        public var scoreSum: Double
    }

    /// `quantum` > 0 rounds every timed value to a multiple of it, so that runs of exact repeats start often (the
    /// frozen-run tracker's work at a run's start); the models are trained on the unrounded signal as before.
    public static func run(series: Int, pointsPerSeries: Int, repeats: Int, cell: CellKind, hidden: Int,
                           scorer: ScorerKind = .calibrated, prefetch: Bool = true, quantum: Double = 0) throws -> Result {
        let setupStart = monotonicSeconds()
        var config = DaemonConfig()
        config.detector.model.cell = cell
        config.detector.model.hiddenSize = hidden
        // Retraining is the trainer pool's job, not the shard's: none here, so the figure is the per-point path.
        config.detector.learning.retrainEvery = 0
        config.detector.scoring.kind = scorer
        // Its series are hours old: measured as series past their first day (`min_history_span`), every term scores.
        config.detector.scoring.minHistorySpan = 0
        let warm = config.detector.learning.warmupPoints + 150
        let detectors = try IngestBench.trainedDetectors(series: series, warm: warm, config: config)
        let setupSeconds = monotonicSeconds() - setupStart
        // By address, as a shard passes them (`process(timestamp:value:prefetching:)`): no retain per point.
        let detectorsRef = detectors.map { Unmanaged.passUnretained($0) }

        var perPoint: [Double] = []
        var cpuPerPoint: [Double] = []
        var i = warm
        var scoreSum = 0.0
        for _ in 0..<max(1, repeats) {
            let t0 = monotonicSeconds()
            let c0 = benchThreadCPUSeconds()
            for _ in 0..<pointsPerSeries {
                let ts = 1_700_000_000 + Double(i) * 60
                for (s, d) in detectors.enumerated() {
                    // As a shard does: the next point's detector is fetched while this one is processed.
                    let next = prefetch && s + 1 < detectors.count ? detectorsRef[s + 1] : nil
                    let x = IngestBench.signal(series: s, i: i)
                    let value = quantum > 0 ? (x / quantum).rounded() * quantum : x
                    if let outcome = try? d.process(timestamp: ts, value: value, prefetching: next) {
                        scoreSum += outcome.score
                    }
                }
                i += 1
            }
            let seconds = monotonicSeconds() - t0
            let cpu = benchThreadCPUSeconds() - c0
            perPoint.append(seconds * 1e9 / Double(series * pointsPerSeries))
            cpuPerPoint.append(cpu * 1e9 / Double(series * pointsPerSeries))
        }
        return Result(series: series, pointsPerRepeat: series * pointsPerSeries, nanosecondsPerPoint: perPoint,
                      cpuNanosecondsPerPoint: cpuPerPoint,
                      setupSeconds: setupSeconds, scoreSum: scoreSum)
    }
}

/// CPU time of the calling thread in seconds.
func benchThreadCPUSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
}
