// With thousands of series a point's scorer state is cold: every history it ranks against and inserts into
// costs cache misses, and in program order each miss waits for the code before it. Issuing the loads of every
// line the point will touch at once, before any of that code, lets them overlap. (`omen bench detect`, 10,000
// series: CPU time per point 5.0-5.6 µs without, 4.3-4.8 µs with. Issuing them one point ahead from the shard
// instead, or as well, measured no better.)

extension Scorer {
    /// Starts loading the cache lines that scoring `input` will read and write (a hint: no effect on results).
    /// `mutating` only so that the scorer is passed by address: called non-mutating from `score`, the whole
    /// scorer (1.6 KB, cold) was copied first.
    @inline(__always)
    mutating func prefetch(_ input: ScoreInput) {
        let v = input.value
        guard v.isFinite else { return }
        values.history.prefetch(forValue: v)
        if let p = input.predicted, p.isFinite {
            if histories.residuals.history.isUsed { histories.residuals.history.prefetch(forValue: v - p) }
            histories.gaussian.prefetch()
        }
        if context.bins > 0 && context.applies { context.prefetch(at: input.timestamp) }
        if changes.history.isUsed && previousValue.isFinite { changes.history.prefetch(forValue: v - previousValue) }
        // The combined surprise is not known yet; its tail (refitted every point) is where the scan reads.
        if selfScores.history.isUsed { selfScores.history.prefetch(bin: selfScores.upper.bin) }
        shift.prefetch()
    }
}
