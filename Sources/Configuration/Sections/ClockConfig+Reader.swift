extension ClockConfig {
    /// `[clock]`: future timestamps and re-anchoring.
    static var configKeys: [ConfigKey<ClockConfig>] {
        [
            .duration("max_future", \.maxFuture, .closed(1, 86_400)),
            .integer("reanchor_after", \.reanchorAfter, 1...1_000_000),
        ]
    }
}
