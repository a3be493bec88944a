// A micro-benchmark of the scoring stage, for `omen bench score`.

import Detection

/// Measures the cost of `Scorer.score` per point, for each stage, on one series and on many interleaved series.
public enum ScorerBenchmark {
    /// One measured configuration.
    public struct Result: Sendable, CustomStringConvertible {
        public var kind: ScorerKind
        public var series: Int
        /// Median over `repeats` runs, in nanoseconds per scored point.
        public var nanosecondsPerPoint: Double
        public var bytesPerSeries: Int

        public var description: String {
            "score \(kind.rawValue) series=\(series): \(Int(nanosecondsPerPoint.rounded())) ns/point, \(bytesPerSeries) bytes/series"
        }
    }

    /// Scores `points` points per configuration (spread over `series` scorers), `repeats` times; reports medians.
    public static func run(kinds: [ScorerKind] = ScorerKind.allCases, seriesCounts: [Int] = [1, 1000],
                           points: Int = 1_000_000, repeats: Int = 3) -> [Result] {
        var values = [Double](repeating: 0, count: 4096)
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        for i in values.indices {
            // Sum of uniforms: a cheap, deterministic, roughly Gaussian noise.
            var u = 0.0
            for _ in 0..<4 {
                state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                u += Double(state >> 11) / Double(1 << 53)
            }
            values[i] = 50 + (u - 2)
        }
        var results: [Result] = []
        let clock = ContinuousClock()
        for kind in kinds {
            for n in seriesCounts where n > 0 {
                let config = ScoringConfig(kind: kind)
                var scorers = [Scorer](repeating: Scorer(config: config), count: n)
                let perSeries = max(1, points / n)
                var sink = 0.0
                var times: [Double] = []
                for rep in 0..<max(1, repeats) {
                    let start = clock.now
                    for step in 0..<perSeries {
                        for s in 0..<n {
                            let v = values[(step &+ s &* 7 &+ rep) & 4095]
                            sink += scorers[s].score(ScoreInput(timestamp: Double(step), value: v, predicted: 50,
                                                                predictedSpread: 0.6)).score
                        }
                    }
                    let d = clock.now - start
                    let seconds = Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18
                    times.append(seconds / Double(perSeries * n) * 1e9)
                }
                times.sort()
                // The sink keeps the optimiser from dropping the work.
                let median = times[times.count / 2] + (sink.isNaN ? 1 : 0)
                results.append(Result(kind: kind, series: n, nanosecondsPerPoint: median, bytesPerSeries: config.bytesPerSeries))
            }
        }
        return results
    }
}
