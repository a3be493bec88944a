// PUBLIC API CONTRACT of the scoring seam. The detector calls exactly these names; the scoring work
// replaces the PLACEHOLDER bodies (and may add files and ScoringConfig fields with defaults).

/// What a scorer sees for one point of one series.
public struct ScoreInput: Sendable, Equatable {
    public var timestamp: Double
    public var value: Double
    /// The model's prediction of this value in raw units, made after the previous point; nil while learning.
    public var predicted: Double?
    /// The model's predicted standard deviation in raw units (Gaussian head), nil when unavailable.
    public var predictedSpread: Double?

    public init(timestamp: Double, value: Double, predicted: Double?, predictedSpread: Double?) {
        self.timestamp = timestamp
        self.value = value
        self.predicted = predicted
        self.predictedSpread = predictedSpread
    }
}

/// A scorer's verdict on one point.
public struct ScoreOutput: Sendable, Equatable {
    /// Anomaly score in [0, 1]; continuous, so a threshold can be swept over it.
    public var score: Double
    /// Expected band for the value, in raw units.
    public var lower: Double
    public var upper: Double

    public init(score: Double, lower: Double, upper: Double) {
        self.score = score
        self.lower = lower
        self.upper = upper
    }
}

/// Which scoring stage turns predictions and values into a score.
public enum ScorerKind: String, Sendable, CaseIterable, Codable {
    /// v1: |residual| over a running spread of residuals.
    case residual
    /// Calibrated surprise of the residual (and of the value) against the series' own history.
    case calibrated
    /// HTM-style anomaly likelihood.
    case likelihood
    /// Telemanom-style dynamic threshold on smoothed errors.
    case dynamic
}

/// Configuration of the scoring stage.
public struct ScoringConfig: Sendable, Equatable {
    public var kind: ScorerKind = .calibrated
    public init() {}
}

/// Why a scorer checkpoint could not be restored.
public struct ScorerRestoreError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// The scoring stage of one series: stateful, deterministic, no I/O.
public struct Scorer: Sendable {
    public let config: ScoringConfig

    public init(config: ScoringConfig) {
        self.config = config
    }

    /// Scores one point. Called once per point in order, also while the model is learning (predicted == nil).
    public mutating func score(_ input: ScoreInput) -> ScoreOutput {
        ScoreOutput(score: 0, lower: input.value, upper: input.value) // PLACEHOLDER
    }

    /// The scorer's state (history, statistics) as bytes, for checkpoints.
    public func checkpoint() -> [UInt8] {
        [] // PLACEHOLDER
    }

    /// Restores a scorer from `checkpoint()` bytes written with the same config kind.
    public init(config: ScoringConfig, checkpoint: [UInt8]) throws(ScorerRestoreError) {
        self.config = config // PLACEHOLDER
    }
}
