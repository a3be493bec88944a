extension SeriesDetector {
    /// Runs the window through a fresh detector that holds this detector's current model, normaliser and
    /// calendar decision, without retraining (`omen plot`: the points around an episode with a prediction, a
    /// band and a score trace). The scorer starts from nothing, so the first `min_history` points score 0 (the window needs no day) and
    /// later ones are calibrated against the window alone: the trace shows the shape, not the daemon's exact
    /// scores (the episode's stored peak carries those). Returns nil when the series has no trained model.
    public func rescoreWindow() -> [(timestamp: Double, value: Double, outcome: PointOutcome)]? {
        guard let model else { return nil }
        var quiet = config
        quiet.learning.retrainEvery = 0
        quiet.learning.retrainInterval = 0
        quiet.learning.retrainOutOfRange = 0
        // A window is a trace, not a new series: it scores from `min_history` points, whatever time it spans.
        quiet.scoring.minHistorySpan = 0
        let replica = SeriesDetector(key: key, config: quiet)
        replica.inferencePrecision = inferencePrecision
        replica.install(TrainingOutcome(key: key, accepted: true, model: model, version: modelVersion,
                                        normaliser: normaliser, calendar: calendar, report: nil, rejection: nil))
        var out: [(timestamp: Double, value: Double, outcome: PointOutcome)] = []
        out.reserveCapacity(window.count)
        window.forEach { timestamp, value, _ in
            guard let o = try? replica.process(timestamp: timestamp, value: value) else { return }
            out.append((timestamp, value, o))
        }
        return out
    }
}
