import Detection

extension LearningConfig {
    /// `[learning]`: warm-up, rolling window, retraining cadence and acceptance.
    static var configKeys: [ConfigKey<LearningConfig>] {
        [
            .integer("warmup_points", \.warmupPoints, 2...1_000_000),
            .integer("window", \.window, 64...1_000_000),
            .integer("retrain_every", \.retrainEvery, 0...100_000_000),
            .duration("retrain_interval", \.retrainInterval, .closed(0, 30 * 86_400)),
            .integer("retrain_out_of_range", \.retrainOutOfRange, 0...100_000_000),
            .number("accept_margin", \.acceptMargin, .closed(-0.5, 1)),
            .integer("reprime_points", \.reprimePoints, 0...1_000_000),
            .flag("exclude_anomalies", \.excludeAnomalies),
            .choice("clean_window", \.cleanWindow),
        ]
    }
}
