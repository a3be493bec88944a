// Telemanom-style dynamic threshold on exponentially smoothed errors (DynamicThreshold, in Stages.swift).

struct DynamicStage: Sendable {
    var threshold: DynamicThreshold

    init(config: ScoringConfig) {
        threshold = DynamicThreshold(window: config.dynamicWindow, smoothing: config.dynamicSmoothing,
                                     refresh: config.dynamicRefresh)
    }

    @inline(__always)
    mutating func surprise(residual r: Double) -> Double {
        threshold.surprise(error: r)
    }
}
