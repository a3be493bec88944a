import Recurrent

extension TrainingJob {
    /// `clean_window = "hindsight"`: fits a bidirectional model on the window and gives loss weight 0 to every
    /// step whose target is a point it marks extreme (`Hindsight.extremes`). The points stay in the input
    /// sequence. Returns how many steps it newly excluded.
    func cleanWithHindsight(_ weights: inout [Float], normaliser: Normaliser, calendar: Bool) -> Int {
        let review = Hindsight.review(values: values, timestamps: timestamps, normaliser: normaliser,
                                      calendar: calendar, cell: config.model.cell, seed: seed ^ 0x6869_6E64)
        let marked = review.extremes()
        var newly = 0
        // Step t's target is point t + 1.
        for t in 0..<weights.count where t + 1 < marked.count && marked[t + 1] && weights[t] != 0 {
            weights[t] = 0
            newly += 1
        }
        return newly
    }
}

extension TrainingJob {
    /// The same snapshot under another configuration (benchmarks compare cleaning settings on one window).
    public func with(config other: DetectorConfig) -> TrainingJob {
        TrainingJob(key: key, config: other, baseModel: baseModel, baseVersion: baseVersion, values: values,
                    timestamps: timestamps, excluded: excluded, seed: seed)
    }
}
