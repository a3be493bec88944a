import Detection

extension SeriesOverride {
    /// `[[override]]`: per-series alerting sensitivity, first matching glob wins.
    static var configKeys: [ConfigKey<SeriesOverride>] {
        [
            .string("series", \.pattern),
            .optionalNumber("threshold", \.threshold, EpisodeConfig.thresholdRange),
            .optionalInteger("close_after", \.closeAfter, EpisodeConfig.closeAfterRange),
            .optionalInteger("refractory", \.refractory, EpisodeConfig.refractoryRange),
        ]
    }
}
