import Recurrent

/// The result of a training job, to be installed by the detector that made the job.
public struct TrainingOutcome: Sendable {
    public var key: String
    /// Whether the new weights replace the old ones (validation loss not worse by more than the margin).
    public var accepted: Bool
    /// The trained model (nil when training could not run at all, e.g. a window without finite values).
    public var model: RecurrentModel?
    /// The model version the new weights get if accepted.
    public var version: Int
    public var normaliser: Normaliser
    public var calendar: Bool
    public var report: TrainingReport?
    /// Why the weights were rejected, if they were.
    public var rejection: String?
    /// Training steps the window cleaner left out beyond the episodes (`clean_window = "hindsight"`).
    public var cleaned: Int = 0
}

/// A snapshot of one series' window and weights, trained on any thread (pure: no I/O, deterministic).
public struct TrainingJob: Sendable {
    public let key: String
    public let config: DetectorConfig
    /// Current weights (warm start); nil for the first training.
    public let baseModel: RecurrentModel?
    public let baseVersion: Int
    public let values: [Double]
    public let timestamps: [Double]
    /// 1 where the point was inside an anomaly episode.
    public let excluded: [UInt8]
    public let seed: UInt64

    /// Points in the snapshot.
    public var count: Int { values.count }

    /// Fits the normaliser, builds inputs and targets from the window, trains with truncated BPTT (warm start),
    /// and decides acceptance on the held-back tail.
    ///
    /// Points inside anomaly episodes get loss weight 0 (they still feed the recurrent state, because the
    /// sequence must stay contiguous), so a long incident does not teach the model that it is normal.
    public func run() -> TrainingOutcome {
        let normaliser = Normaliser.fit(values)
        let calendar = Features.calendarApplies(config.model.calendar, timestamps: timestamps)
        let n = values.count
        guard n >= 3 else {
            return TrainingOutcome(key: key, accepted: false, model: nil, version: baseVersion, normaliser: normaliser,
                                   calendar: calendar, report: nil, rejection: "window too short (\(n) points)")
        }
        let steps = n - 1
        let width = Features.width
        var inputs = [Float](repeating: 0, count: steps * width)
        var targets = [Float](repeating: 0, count: steps)
        var weights = [Float](repeating: 1, count: steps)
        inputs.withUnsafeMutableBufferPointer { buffer in
            guard let base = buffer.baseAddress else { return }
            for t in 0..<steps {
                Features.write(value: values[t], timestamp: timestamps[t], normaliser: normaliser, calendar: calendar,
                               into: base + t * width)
            }
        }
        var excludedCount = 0
        for t in 0..<steps {
            targets[t] = normaliser.normalise(values[t + 1])
            if config.learning.excludeAnomalies && excluded[t + 1] != 0 {
                weights[t] = 0
                excludedCount += 1
            }
        }
        let cleaned = config.learning.cleanWindow == .hindsight
            ? cleanWithHindsight(&weights, normaliser: normaliser, calendar: calendar) : 0
        excludedCount += cleaned
        let shape = SeriesDetector.shape(config)
        var model = baseModel.flatMap { $0.shape == shape ? $0 : nil } ?? RecurrentModel(shape: shape, seed: seed)
        var training = config.model.training
        training.seed = seed
        let report = model.train(inputs: inputs, targets: targets,
                                 weights: excludedCount > 0 ? weights : nil, config: training)
        let version = baseVersion + 1
        guard report.validationLoss.isFinite else {
            return TrainingOutcome(key: key, accepted: false, model: model, version: version, normaliser: normaliser,
                                   calendar: calendar, report: report, rejection: "validation loss is not finite",
                                   cleaned: cleaned)
        }
        if baseModel != nil {
            // The margin is relative to |old| because a Gaussian NLL can be negative.
            let old = report.initialValidationLoss
            let limit = old + Float(config.learning.acceptMargin) * abs(old)
            if old.isFinite && report.validationLoss > limit {
                return TrainingOutcome(
                    key: key, accepted: false, model: model, version: version, normaliser: normaliser,
                    calendar: calendar, report: report,
                    rejection: "validation loss \(report.validationLoss) worse than the current model's \(old)",
                    cleaned: cleaned)
            }
        }
        return TrainingOutcome(key: key, accepted: true, model: model, version: version, normaliser: normaliser,
                               calendar: calendar, report: report, rejection: nil, cleaned: cleaned)
    }
}
