import Recurrent

/// When calendar features (sin/cos of time of day and day of week) are fed to the model.
public enum CalendarFeatures: String, Sendable, CaseIterable, Codable {
    /// On when the timestamps' median spacing is between 1 second and 6 hours (so a day has several points).
    case auto
    case on
    case off
}

/// The per-series model: cell, size, inputs and how it is trained.
public struct ModelConfig: Sendable, Equatable {
    public var cell: CellKind = .lstm
    /// Hidden units.
    public var hiddenSize: Int = 32
    public var calendar: CalendarFeatures = .auto
    /// Truncated-BPTT hyper-parameters (sequence length, batch size, epochs, Adam, clipping, dropout, loss).
    public var training = TrainingConfig()
    /// Seed for weight initialisation and training randomness; combined with a hash of the series key.
    public var seed: UInt64 = 42

    public init() {}

    /// Width of the model input for a given calendar decision: value + 4 calendar encodings.
    public static let inputSize = 5
}

/// The learning lifecycle of a series: warm-up, rolling window, retraining cadence, acceptance.
public struct LearningConfig: Sendable, Equatable {
    /// Points collected before the first training; no model-based alerts before it.
    public var warmupPoints: Int = 300
    /// Rolling window of recent points that retraining uses.
    public var window: Int = 2000
    /// Retrain after this many new points (0 = off).
    public var retrainEvery: Int = 500
    /// Retrain after this much wall time in seconds (0 = off); whichever of the two comes first.
    public var retrainInterval: Double = 0
    /// Retrain early once this many points since the last training lay beyond the range the model's input covers
    /// (more than `Normaliser.inputClip` scales from the center its normaliser was fitted on, where the input is
    /// clipped and the prediction is blind), and at least a training sequence of new points has arrived; 0 = off.
    public var retrainOutOfRange: Int = 16
    /// New weights are accepted only if their validation loss <= old loss × (1 + margin).
    public var acceptMargin: Double = 0.0
    /// Points of the window run through new weights to re-prime the recurrent state after a swap.
    public var reprimePoints: Int = 256
    /// Leave points inside anomaly episodes out of training (loss weight 0).
    public var excludeAnomalies: Bool = true
    /// Score points while the series is learning. A learning series raises no alert (unless
    /// `episodes.alertWhileLearning`), so the daemon leaves this off and a learning series holds only its points;
    /// its scorer is built from them when the first model arrives, with the same statistics. Replay turns it on so
    /// that its output scores the warm-up rows too (not a file key).
    public var scoreWhileLearning: Bool = false
    /// What else is left out of training: `.hindsight` also drops the points a bidirectional model fitted on the
    /// window cannot explain from both sides (see `Hindsight`).
    public var cleanWindow: CleanWindow = .episodes

    public init() {}
}

/// The episode state machine and alerting discipline.
public struct EpisodeConfig: Sendable, Equatable {
    /// A score at or above this opens an episode. Scores are s / (s + 4) with s = −log10 p, p the probability that
    /// a day of this series' points holds one this extreme (`ScoringConfig.dailyRate`), so for a new maximum or
    /// minimum 0.25 is at most an expected 5e-2 false alarms per series per day (one per ~20 series-days; fewer in
    /// practice, since the terms' averaged surprise is conservative), and a point inside the series' range, which
    /// keeps half its surprise (`ScoringConfig.inRangeFactor`), needs that rate squared. NAB's sweep picks
    /// 0.03–0.15: its profiles forgive false positives far more than a pager's reader does.
    public var threshold: Double = 0.25
    /// Normal points in a row that close an episode.
    public var closeAfter: Int = 10
    /// Points after a close during which no new episode opens.
    public var refractory: Int = 0
    /// Open episodes before the first model is trained (value-level evidence only). Off by default: a series
    /// raises no alerts while it is learning.
    public var alertWhileLearning: Bool = false

    public init() {}
}

/// Everything one series' detector needs.
public struct DetectorConfig: Sendable, Equatable {
    public var model = ModelConfig()
    public var learning = LearningConfig()
    public var scoring = ScoringConfig()
    public var episodes = EpisodeConfig()
    /// How operator labels change scores (SeriesDetector+Feedback.swift).
    public var feedback = FeedbackConfig()

    public init() {}
}
