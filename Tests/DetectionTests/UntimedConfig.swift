@testable import Detection

extension ScoringConfig {
    /// The defaults without a new series' first day of silence (`minHistorySpan` 0), for tests of other behaviour
    /// on synthetic series that span less than a day (`ScoringRateTests` and `DetectorTests` pin the silence itself).
    static func untimed(_ kind: ScorerKind = .calibrated) -> ScoringConfig {
        var config = ScoringConfig(kind: kind)
        config.minHistorySpan = 0
        return config
    }
}
