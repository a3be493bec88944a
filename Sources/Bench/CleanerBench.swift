// `omen bench cleaner`: what `clean_window = "hindsight"` adds to a retraining. The detector's own retraining
// (default model and training configuration, warm start, early stopping on) is timed on one window with
// "episodes" and with "hindsight", interleaved, and the hindsight fit alone on the same window.

import Detection
import Recurrent

/// What one `omen bench cleaner` run measured (medians of thread CPU milliseconds).
public struct CleanerBenchResult: Sendable {
    /// One retraining with `clean_window = "episodes"`.
    public var msRetrain: Double
    /// One retraining with `clean_window = "hindsight"` (the hindsight fit included).
    public var msRetrainCleaned: Double
    /// The hindsight fit and marking alone.
    public var msHindsight: Double
    /// Training steps the cleaner left out of the window.
    public var cleaned: Int
    public var window: Int

    /// The hindsight fit as a fraction of a plain retraining.
    public var costFraction: Double { msRetrain > 0 ? msHindsight / msRetrain : .nan }

    /// One JSON line with every figure.
    public var json: String {
        "{\"ms_retrain\":\(msRetrain),\"ms_retrain_cleaned\":\(msRetrainCleaned),\"ms_hindsight\":\(msHindsight),"
            + "\"cost_fraction\":\(costFraction),\"cleaned\":\(cleaned),\"window\":\(window)}"
    }
}

/// Times the retraining of one series whose window (`window` points, a noisy daily-like wave with a spike every
/// 250 points) follows a first training, with each cleaning setting, `repetitions` times interleaved.
public func benchmarkCleaner(config base: DetectorConfig = DetectorConfig(), window: Int = 2000,
                             repetitions: Int = 5) -> CleanerBenchResult {
    var config = base
    config.learning.window = window
    config.learning.warmupPoints = min(config.learning.warmupPoints, window)
    func value(_ i: Int) -> Double {
        let noise = Double((i &* 7919) % 101) / 101 - 0.5
        var phase = Double(i % 48) / 48 * 2 * Double.pi - Double.pi
        phase = phase * (1 - phase * phase / 6 * (1 - phase * phase / 20 * (1 - phase * phase / 42)))
        return 10 + 3 * phase + noise + (i % 250 == 125 ? 6 : 0)
    }
    // A trained series with a full window, half a retraining cadence after its last training.
    let detector = SeriesDetector(key: "bench.cleaner", config: config)
    for i in 0..<(window + config.learning.retrainEvery) {
        _ = try? detector.process(timestamp: 1_700_000_000 + Double(i) * 60, value: value(i))
        if i == window - 1 { detector.install(detector.makeTrainingJob().run()) }
    }
    let plain = detector.makeTrainingJob()
    detector.cancelTraining()
    var cleanedConfig = config
    cleanedConfig.learning.cleanWindow = .hindsight
    let job = plain
    var times: [Double] = [], timesCleaned: [Double] = [], timesHindsight: [Double] = []
    var cleaned = 0
    for _ in 0..<max(1, repetitions) {
        var cpu = threadCPUSeconds()
        _ = job.run()
        times.append((threadCPUSeconds() - cpu) * 1e3)
        cpu = threadCPUSeconds()
        cleaned = job.with(config: cleanedConfig).run().cleaned
        timesCleaned.append((threadCPUSeconds() - cpu) * 1e3)
        cpu = threadCPUSeconds()
        _ = Hindsight.review(values: job.values, timestamps: job.timestamps, normaliser: Normaliser.fit(job.values),
                             calendar: Features.calendarApplies(config.model.calendar, timestamps: job.timestamps),
                             cell: config.model.cell, seed: 1).extremes()
        timesHindsight.append((threadCPUSeconds() - cpu) * 1e3)
    }
    return CleanerBenchResult(msRetrain: median(times), msRetrainCleaned: median(timesCleaned),
                              msHindsight: median(timesHindsight), cleaned: cleaned, window: job.count)
}
