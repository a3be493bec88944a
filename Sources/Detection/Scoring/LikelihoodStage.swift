// HTM-style anomaly likelihood: the recent mean of a raw score in [0, 1] (|residual| in units of 4 running
// spreads, clipped) against the long-run distribution of that mean (LikelihoodState, in Stages.swift).

struct LikelihoodStage: Sendable {
    var state: LikelihoodState

    init(config: ScoringConfig, history h: Int) {
        state = LikelihoodState(shortWindow: config.likelihoodWindow, memory: h)
    }

    @inline(__always)
    mutating func surprise(residual r: Double, value v: Double, spread: inout SpreadTracker) -> Double {
        // HTM's raw score is 0 when predicted and 1 when not: |r| in units of 4 spreads, clipped at 1.
        let raw = min(1, abs(r) / (4 * spread.spread))
        spread.update(residual: r, value: v)
        return state.surprise(raw: raw)
    }
}
