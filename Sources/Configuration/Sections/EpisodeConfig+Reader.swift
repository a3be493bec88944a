import Detection

extension EpisodeConfig {
    /// `[episodes]`: when an episode opens and closes.
    static var configKeys: [ConfigKey<EpisodeConfig>] {
        [
            .number("threshold", \.threshold, thresholdRange),
            .integer("close_after", \.closeAfter, closeAfterRange),
            .integer("refractory", \.refractory, refractoryRange),
        ]
    }

    // Shared with [[override]], which must accept exactly what [episodes] accepts.
    static let thresholdRange = NumberRange.above(0, atMost: 1)
    static let closeAfterRange = 1...1_000_000
    static let refractoryRange = 0...100_000_000
}
