extension LimitsConfig {
    /// `[limits]`: bounded cardinality and idle eviction.
    static var configKeys: [ConfigKey<LimitsConfig>] {
        [
            .integer("max_series", \.maxSeries, 0...100_000_000),
            .duration("idle_after", \.idleAfter, .closed(0, 365 * 86_400)),
            .duration("idle_delete_after", \.idleDeleteAfter, .closed(0, 36_500 * 86_400)),
        ]
    }
}
