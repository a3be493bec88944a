// v1: |residual| over a running mean |residual| (the scorer's spread), as an exponential tail.

struct ResidualStage: Sendable {
    init(config: ScoringConfig) {}

    @inline(__always)
    static func surprise(residual r: Double, spread: SpreadTracker) -> Double {
        abs(r) / spread.spread * Surprise.log10e
    }
}
