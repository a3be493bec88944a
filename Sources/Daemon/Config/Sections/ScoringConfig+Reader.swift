import Detection

extension ScoringConfig {
    /// `[scoring]`: the scoring stage; one line per ScoringConfig field.
    static var configKeys: [ConfigKey<ScoringConfig>] {
        [
            .choice("kind", \.kind),
        ]
    }
}
