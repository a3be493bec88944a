import Detection

extension ScoringConfig {
    /// `[scoring]`: the scoring stage; one line per ScoringConfig field.
    static var configKeys: [ConfigKey<ScoringConfig>] {
        [
            .choice("kind", \.kind),
            .integer("history", \.history, 16...65_535),
            .integer("tail_size", \.tailSize, 2...1_000),
            .number("value_weight", \.valueWeight, .closed(0, 1)),
            .number("gaussian_weight", \.gaussianWeight, .closed(0, 1)),
            .flag("gaussian_calibration", \.gaussianCalibration),
            .integer("gaussian_tail", \.gaussianTail, 2...255),
            .flag("gaussian_calibration_lag", \.gaussianCalibrationLag),
            .integer("gaussian_dof", \.gaussianDof, 0...1_000),
            .number("change_weight", \.changeWeight, .closed(0, 1)),
            .integer("min_history", \.minHistory, 0...65_535),
            .duration("min_history_span", \.minHistorySpan, .closed(0, 365 * 86_400)),
            .integer("onset_window", \.onsetWindow, 0...100_000),
            .number("onset_factor", \.onsetFactor, .closed(1, 100)),
            .number("repeat_factor", \.repeatFactor, .closed(0, 1)),
            .number("in_range_factor", \.inRangeFactor, .closed(0, 1)),
            .flag("new_extreme_onsets", \.newExtremeOnsets),
            .flag("frozen_detection", \.frozenDetection),
            .flag("standardise", \.standardise),
            .integer("drift_span", \.driftSpan, 0...100_000),
            .number("self_weight", \.selfWeight, .closed(0, 1)),
            .integer("self_min_history", \.selfMinHistory, 0...65_535),
            .number("context_weight", \.contextWeight, .closed(0, 1)),
            .integer("context_bins", \.contextBins, 1...1_440),
            .integer("context_history", \.contextHistory, 2...10_000),
            .integer("context_min_history", \.contextMinHistory, 0...10_000),
            .number("context_min_days", \.contextMinDays, .closed(0, 3_650)),
            .flag("predictive_tail", \.predictiveTail),
            .flag("daily_rate", \.dailyRate),
            .integer("value_delay", \.valueDelay, 0...65_535),
            .number("shift_weight", \.shiftWeight, .closed(0, 1)),
        ]
    }
}
