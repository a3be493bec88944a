import Detection

extension DaemonConfig {
    /// The detector configuration of one series: the defaults with the first matching `[[override]]` applied.
    public func detectorConfig(for key: String) -> DetectorConfig {
        var result = detector
        result.episodes = episodeConfig(for: key)
        return result
    }
}
