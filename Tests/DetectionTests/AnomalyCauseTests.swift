import Testing
@testable import Detection

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What made a point anomalous (`AnomalyCause`): the scorer names the term that carried a scored point, the
/// episode keeps its peak's cause, and a checkpoint keeps an open episode's.
struct AnomalyCauseTests {
    /// Scores `values` with the default scorer (one point every 5 minutes) and returns every output.
    func outputs(_ values: [Double], predicted: (Int) -> Double?) -> [ScoreOutput] {
        var scorer = Scorer(config: ScoringConfig())
        return values.indices.map { t in
            let p = predicted(t)
            return scorer.score(ScoreInput(timestamp: 1_700_000_000 + Double(t) * 300, value: values[t], predicted: p,
                                           predictedSpread: p == nil ? nil : 1))
        }
    }

    /// A spike above everything the series has shown is a new high, a dip below it a new low; points that score 0
    /// have no cause.
    @Test func extremesAreNewHighsAndNewLows() {
        var noise = Noise(seed: 71)
        var values = (0..<2000).map { _ in 50 + noise.gaussian() }
        values[1500] = 70
        values[1800] = 30
        let out = outputs(values, predicted: { $0 < 300 ? nil : 50 })
        #expect(out[1500].score >= EpisodeConfig().threshold && out[1500].cause == .newHigh, "\(out[1500])")
        #expect(out[1800].score >= EpisodeConfig().threshold && out[1800].cause == .newLow, "\(out[1800])")
        #expect(out.allSatisfy { ($0.score > 0) == ($0.cause != nil) })
    }

    /// A value inside the range, common for the series, but far from a prediction that has been right to within
    /// its noise: the prediction carries it.
    @Test func aMissedPredictionInsideTheRange() {
        var noise = Noise(seed: 73)
        let clean: [Double] = (0..<2000).map { t in 50 + 10 * sin(Double(t) * 2 * Double.pi / 100) }
        var values = clean.map { $0 + 0.1 * noise.gaussian() }
        // At the crest (60) the value is the series' middle (50), 100 noise widths from the prediction.
        values[1525] = 50
        let out = outputs(values, predicted: { $0 < 300 ? nil : clean[$0] })
        #expect(out[1525].score > 0 && out[1525].cause == .prediction, "\(out[1525])")
    }

    /// A model that foresaw a step (its prediction is the new value) leaves the step itself as the evidence.
    @Test func aForeseenStepIsAJump() {
        var noise = Noise(seed: 79)
        var values: [Double] = (0..<2000).map { t in
            50 + 10 * sin(Double(t) * 2 * Double.pi / 100) + 0.1 * noise.gaussian()
        }
        values[1525] = 45
        var jitter = Noise(seed: 83)
        let out = outputs(values, predicted: { $0 < 300 ? nil : values[$0] + 0.1 * jitter.gaussian() })
        #expect(out[1525].score > 0 && out[1525].cause == .jump, "\(out[1525])")
    }

    /// A noisy sensor that freezes: the run is the cause, not the (ordinary) value it froze at.
    @Test func aFrozenRunIsFrozen() {
        var noise = Noise(seed: 59)
        var values = (0..<3000).map { _ in 50 + noise.gaussian() }
        for t in 2500..<2700 { values[t] = 50.25 }
        let out = outputs(values, predicted: { $0 < 300 ? nil : 50 })
        #expect(out[2502].score >= EpisodeConfig().threshold && out[2502].cause == .frozen, "\(out[2502])")
    }

    /// The largest share names the cause; ties go to the prediction.
    @Test func theLargestShareNamesTheCause() {
        #expect(CauseShares(rareValue: 1, hour: 3, prediction: 2, jump: 0.5).largest == .hour)
        #expect(CauseShares(rareValue: 1, hour: 0, prediction: 1, jump: 1).largest == .prediction)
        #expect(CauseShares(rareValue: 4, hour: 0, prediction: 1, jump: 3).largest == .rareValue)
        #expect(CauseShares(rareValue: 0, hour: 0, prediction: 1, jump: 3).largest == .jump)
    }

    /// The episode carries its peak's cause: set at the open, replaced at a higher peak, kept through the close.
    @Test func theEpisodeKeepsItsPeaksCause() throws {
        var c = EpisodeConfig()
        c.threshold = 0.5
        c.closeAfter = 2
        var m = EpisodeMachine(config: c, series: "s")
        let steps: [(Double, AnomalyCause?)] = [(0.6, .jump), (0.55, .frozen), (0.8, .newHigh), (0.1, nil), (0.1, nil)]
        let events = steps.enumerated().map { i, step in
            m.observe(timestamp: Double(i), value: 1, predicted: 0, lower: -1, upper: 1, score: step.0, modelVersion: 1,
                      cause: step.1)
        }
        #expect(events[0]?.kind == .open && events[0]?.cause == .jump)
        #expect(events[1] == nil, "a lower score is not a new peak, and its cause is not the episode's")
        #expect(events[2]?.kind == .update && events[2]?.cause == .newHigh)
        #expect(events[4]?.kind == .close && events[4]?.cause == .newHigh)
    }

    /// An open episode's cause survives a checkpoint; one written before version 7 (no cause byte) restores with
    /// none, and everything else intact.
    @Test func anOpenEpisodesCauseSurvivesACheckpoint() throws {
        var m = EpisodeMachine(config: EpisodeConfig(), series: "s")
        _ = m.observe(timestamp: 10, value: 9, predicted: 1, lower: 0, upper: 2, score: 0.9, modelVersion: 3,
                      cause: .hour)
        var w = ByteWriter()
        m.write(to: &w)
        var r = ByteReader(w.bytes)
        let restored = try EpisodeMachine(config: EpisodeConfig(), reading: &r, series: "s", withCause: true)
        #expect(r.isAtEnd && restored.open?.cause == .hour && restored.open?.peakScore == 0.9)
        // The cause is the open episode's last byte.
        var old = ByteReader(Array(w.bytes.dropLast()))
        let fromOld = try EpisodeMachine(config: EpisodeConfig(), reading: &old, series: "s", withCause: false)
        #expect(old.isAtEnd && fromOld.open?.cause == nil && fromOld.open?.peakScore == 0.9)
        #expect(AnomalyCause.allCases.allSatisfy { AnomalyCause(code: $0.code) == $0 })
        #expect(Set(AnomalyCause.allCases.map(\.code)).count == AnomalyCause.allCases.count && AnomalyCause(code: 0) == nil)
    }
}
