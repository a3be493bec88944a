import Testing
@testable import Detection

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Bytes versions 10-13 appended to a scorer checkpoint (the onsets of the window, the first timestamp, the
/// sustained-shift tracker, the frozen-run tracker's hours), to cut one back to an older version's layout.
func onsetTrailer(_ scorer: Scorer) -> Int { 8 + 12 * scorer.onset.onsetIndices.count + 8 + shiftTrailer(scorer) }

/// Bytes versions 12-13 appended to a scorer checkpoint (the sustained-shift tracker, none with `shiftWeight` 0;
/// the frozen-run tracker's hours).
func shiftTrailer(_ scorer: Scorer) -> Int {
    var w = ByteWriter()
    if scorer.config.shiftWeight > 0 { scorer.shift.encode(into: &w) }
    scorer.frozen.encodeHours(into: &w)
    return w.bytes.count
}

/// Deterministic Gaussian noise (SplitMix64 + Box-Muller) so every run sees the same signals.
struct Noise {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func uniform() -> Double { (Double(next() >> 11) + 0.5) / Double(1 << 53) }
    mutating func gaussian() -> Double { (-2 * log(uniform())).squareRoot() * cos(2 * Double.pi * uniform()) }
}

/// A synthetic series: values, what a well-trained model would predict, and where the anomaly starts.
struct Scenario: CustomStringConvertible, Sendable {
    var name: String
    var values: [Double]
    /// The model's prediction per point (a model that learned the normal behaviour), nil while learning.
    var predicted: [Double?]
    var spread: Double
    var anomalyAt: Int
    /// Points after `anomalyAt` within which the anomaly must be flagged.
    var within: Int
    var description: String { name }

    static let learning = 300
    static let length = 3000
    static let onset = 2500

    static func make(_ name: String, within: Int = 5, at: Int = onset,
                     _ f: (_ t: Int, _ noise: inout Noise) -> (value: Double, clean: Double)) -> Scenario {
        var noise = Noise(seed: 7)
        var values: [Double] = []
        var predicted: [Double?] = []
        for t in 0..<length {
            let (v, clean) = f(t, &noise)
            values.append(v)
            predicted.append(t < learning ? nil : clean)
        }
        return Scenario(name: name, values: values, predicted: predicted, spread: 1, anomalyAt: at, within: within)
    }

    static let all: [Scenario] = [
        make("spike") { t, n in
            let base = 50 + n.gaussian()
            return (t == onset ? base + 12 : base, 50)
        },
        make("level shift") { t, n in
            (50 + n.gaussian() + (t >= onset ? 10 : 0), 50)
        },
        make("variance change", within: 10) { t, n in
            (50 + n.gaussian() * (t >= onset ? 6 : 1), 50)
        },
        // A day is 288 points; the anomaly puts the noon level around midnight for 20 points (from 2583), a
        // level the series reaches every day, so only a model that knows the time of day can tell.
        make("seasonal, daytime level at night", at: 2583) { t, n in
            let phase = 2 * Double.pi * Double(t % 288) / 288
            let clean = 50 - 20 * cos(phase)
            let v = (t >= 2583 && t < 2603) ? 70 + n.gaussian() : clean + n.gaussian()
            return (v, clean)
        },
    ]
}

/// Runs a scorer over a scenario; returns every score.
func scores(_ scenario: Scenario, _ config: ScoringConfig) -> [Double] {
    var scorer = Scorer(config: config)
    var out: [Double] = []
    for t in scenario.values.indices {
        let p = scenario.predicted[t]
        let o = scorer.score(ScoreInput(timestamp: Double(t) * 300, value: scenario.values[t], predicted: p,
                                        predictedSpread: p == nil ? nil : scenario.spread))
        out.append(o.score)
    }
    return out
}

/// The first point at or after `from` whose score reaches `threshold`, if any.
func firstFlag(_ s: [Double], from: Int, threshold: Double) -> Int? {
    (from..<s.count).first { s[$0] >= threshold }
}

/// The default scoring configuration with per-point surprise (no daily-rate correction) and a Gaussian tail for the head: these tests pin each
/// stage's evidence on the −log10 p-per-point scale that `flagThreshold` reads (ScoringRateTests covers the rate
/// per day the daemon alerts on).
func perPointConfig(_ kind: ScorerKind = .calibrated) -> ScoringConfig {
    var config = ScoringConfig.untimed(kind)
    config.dailyRate = false
    // The Gaussian head's z on a Gaussian tail, as these tests' thresholds were set for (ScoringRateTests and
    // StudentTailTests cover the default Student-t tail).
    config.gaussianDof = 0
    // Each point's own surprise: no discount for lying inside the remembered range (ScoringRateTests pin it).
    config.inRangeFactor = 1
    // Nor the sustained shift of the last hour's values (ScoringRateTests pin it).
    config.shiftWeight = 0
    return config
}

/// Threshold at which the synthetic tests read "flagged": score 0.55 is p ≈ 1e-4.9 (surpriseHalf 4); every
/// stage's surprise is on the same −log10 p scale.
let flagThreshold = 0.55


struct ScoringStageTests {
    /// Every stage flags each synthetic anomaly within a few points and stays below threshold on the normal stretch.
    @Test(arguments: [ScorerKind.calibrated, .residual, .gaussian, .likelihood, .dynamic], Scenario.all)
    func flagsAnomalyAndNotNormal(kind: ScorerKind, scenario: Scenario) {
        var config = perPointConfig(kind)
        config.history = 2000
        config.selfWeight = 0 // the stage's own evidence; the second level has its own tests
        // The HTM-style stage averages raw scores: with the predictive tail's heavier value tail its spike stays
        // below this per-point threshold (p ≈ 1e-5 where the exponential tail said 1e-9).
        if kind == .likelihood { config.predictiveTail = false }
        let s = scores(scenario, config)
        let onset = scenario.anomalyAt
        let normalMax = s[(Scenario.learning + 100)..<onset].max() ?? 0
        #expect(normalMax < flagThreshold, "normal stretch reached \(normalMax)")
        let hit = firstFlag(s, from: onset, threshold: flagThreshold)
        #expect(hit != nil && (hit ?? .max) - onset <= scenario.within,
                "first flag at \(hit.map { $0 - onset } ?? -1) points after the anomaly")
    }

    /// A noisy signal that freezes (exact repeats) is flagged within a few points when frozen detection is on.
    @Test(arguments: [ScorerKind.calibrated, .residual, .gaussian, .likelihood, .dynamic])
    func frozenSignalIsFlagged(kind: ScorerKind) {
        var config = perPointConfig(kind)
        config.frozenDetection = true
        config.history = 2000
        var noise = Noise(seed: 3)
        var scorer = Scorer(config: config)
        var s: [Double] = []
        var last = 0.0
        for t in 0..<3000 {
            let v = t >= 2500 ? last : 50 + noise.gaussian()
            last = v
            s.append(scorer.score(ScoreInput(timestamp: Double(t), value: v, predicted: t < 300 ? nil : 50,
                                             predictedSpread: 1)).score)
        }
        #expect((s[400..<2500].max() ?? 1) < flagThreshold)
        let hit = firstFlag(s, from: 2500, threshold: flagThreshold * 0.9)
        #expect(hit != nil && (hit ?? .max) - 2500 <= 3)
    }

    /// A series that has only ever been one value stays quiet however its model jitters around it (a retrained
    /// model's small offset is the model's error, not the data's), and its first real change is still flagged.
    @Test func constantSeriesIgnoresModelJitter() {
        var scorer = Scorer(config: perPointConfig())
        var s: [Double] = []
        for t in 0..<1200 {
            // Predictions within 1e-4 of the constant, then a retrained model 0.05 off from point 1000 on.
            let p = t < 1000 ? 42 + (t % 2 == 0 ? 1e-4 : -1e-4) : 42.05
            let v = t == 1150 ? 45.0 : 42.0
            s.append(scorer.score(ScoreInput(timestamp: Double(t) * 60, value: v, predicted: t < 300 ? nil : p,
                                             predictedSpread: t < 1000 ? 1e-4 : 1e-3)).score)
        }
        // Quiet below the daemon's default threshold, not only below the tests' flag level.
        #expect((s[0..<1150].max() ?? 1) < EpisodeConfig().threshold)
        #expect(s[1150] >= flagThreshold)
    }

    /// While the model is learning (no prediction) the value's own surprise scores a spike, from ~50 points on.
    @Test func valueEvidenceScoresWhileLearning() {
        var scorer = Scorer(config: perPointConfig())
        var noise = Noise(seed: 11)
        var s: [Double] = []
        for t in 0..<200 {
            let v = 10 + noise.gaussian() + (t == 150 ? 15 : 0)
            s.append(scorer.score(ScoreInput(timestamp: Double(t), value: v, predicted: nil, predictedSpread: nil)).score)
        }
        #expect(s[0..<50].allSatisfy { $0 == 0 })
        #expect(s[150] >= flagThreshold)
        #expect((s[60..<150].max() ?? 1) < flagThreshold)
    }

    /// A discrete series (integer readings 50-56, so its ten largest remembered values tie) still has a tail: the gap
    /// to the next value sets its scale, so a reading of 500 is far out, not a new maximum at the rank bound 1/(n+1)
    /// (score 0.33 before), while 57, one step beyond, stays unremarkable.
    @Test func aDiscreteSeriesHasATail() {
        func scores(_ extra: Double) -> [Double] {
            var scorer = Scorer(config: perPointConfig())
            return (0..<250).map { t in
                let v = Double(50 + (t * 37) % 7) + (t == 200 ? extra : 0)
                return scorer.score(ScoreInput(timestamp: Double(t), value: v, predicted: nil, predictedSpread: nil)).score
            }
        }
        let spike = scores(500 - 50 - Double((200 * 37) % 7)), step = scores(57 - 50 - Double((200 * 37) % 7))
        #expect(spike[200] >= flagThreshold, "500 after 50-56: \(spike[200])")
        #expect(step[200] < flagThreshold, "57 after 50-56: \(step[200])")
        #expect(spike[200] > step[200])
    }

    /// A constant warm-up (all zeros) never divides by a zero spread: scores stay finite, in [0, 1), and a change is flagged.
    @Test(arguments: ScorerKind.allCases)
    func constantStretchHasAFiniteRule(kind: ScorerKind) {
        var config = perPointConfig(kind)
        config.selfWeight = kind == .calibrated ? config.selfWeight : 0 // the default stack, and each stage alone
        var scorer = Scorer(config: config)
        var s: [Double] = []
        for t in 0..<1000 {
            let v = t < 900 ? 0.0 : 1.0
            let o = scorer.score(ScoreInput(timestamp: Double(t), value: v, predicted: t < 300 ? nil : 0,
                                            predictedSpread: t < 300 ? nil : 0))
            #expect(o.score.isFinite && o.score >= 0 && o.score < 1)
            #expect(o.lower.isFinite && o.upper.isFinite)
            s.append(o.score)
        }
        #expect((s[0..<900].max() ?? 1) < 0.2)
        #expect(s[900] > 0.3)
    }

    /// Scores are continuous: many distinct values, so a threshold can be swept.
    @Test func scoresDoNotSaturate() {
        var config = perPointConfig()
        config.onsetWindow = 0
        let s = scores(Scenario.all[0], config)
        #expect(Set(s).count > 1000)
        #expect(s.allSatisfy { $0 < 1 })
    }

    /// The onset filter keeps a score only when it beats every score of the previous window: a level shift
    /// whose residual stays large is reported at its onset and then only when it gets more extreme.
    @Test func onsetsNotRepeats() {
        var config = perPointConfig()
        config.contextWeight = 0 // the time-of-day term absorbs a shift within its hour bins; this is about onsets
        config.onsetWindow = 0
        let unfiltered = scores(Scenario.all[1], config) // level shift: the residual stays large after the onset
        config.onsetWindow = 200
        let filtered = scores(Scenario.all[1], config)
        let range = (Scenario.onset + 1)..<(Scenario.onset + 150)
        #expect(filtered[Scenario.onset] >= flagThreshold)
        #expect(unfiltered[range].filter { $0 >= flagThreshold }.count >= 15)
        #expect(filtered[range].filter { $0 >= flagThreshold }.count <= 5)
    }

    /// The expected band brackets the prediction and holds most normal values, from the first predicted point.
    @Test(arguments: ScorerKind.allCases)
    func bandHoldsNormalValues(kind: ScorerKind) {
        var scorer = Scorer(config: perPointConfig(kind))
        var noise = Noise(seed: 5)
        var inside = 0
        for t in 0..<2500 {
            let v = 100 + 3 * noise.gaussian()
            let o = scorer.score(ScoreInput(timestamp: Double(t), value: v, predicted: t < 300 ? nil : 100,
                                            predictedSpread: t < 300 ? nil : 3))
            #expect(o.lower <= o.upper)
            // The first predicted point has no residual yet: its band is the values', not one of width 0.
            if t == 300 { #expect(o.upper - o.lower > 6, "first predicted point: \(o.lower) ... \(o.upper)") }
            if t >= 1000 && o.lower <= v && v <= o.upper { inside += 1 }
        }
        #expect(inside >= 1350) // >= 90 % of 1500
    }
}

struct ScoringSelfCalibrationTests {
    /// Scores (no onset filter) of a noisy series with a spike of +`size` every 150 points from point 450.
    static func recurringSpikes(selfWeight: Double, size: Double = 10) -> [Double] {
        var config = perPointConfig()
        config.history = 2000
        config.onsetWindow = 0
        config.selfWeight = selfWeight
        config.gaussianCalibration = false // it discounts these spikes too; this measures the second level alone
        var scorer = Scorer(config: config)
        var noise = Noise(seed: 13)
        var s: [Double] = []
        for t in 0..<3000 {
            let v = 50 + noise.gaussian() + (t >= 450 && t % 150 == 0 ? size : 0)
            s.append(scorer.score(ScoreInput(timestamp: Double(t), value: v, predicted: t < 300 ? nil : 50,
                                             predictedSpread: t < 300 ? nil : 1)).score)
        }
        return s
    }

    /// Ranking the surprise against the series' own past surprises discounts a kind of event the series
    /// produces all the time, while the first such event is still flagged at once.
    @Test func recurringEventsAreDiscounted() {
        let off = Self.recurringSpikes(selfWeight: 0)
        let on = Self.recurringSpikes(selfWeight: 0.7)
        #expect(on[450] >= flagThreshold, "first spike scored \(on[450])")
        let late = [2550, 2700, 2850]
        for t in late {
            #expect(on[t] < off[t] - 0.05, "spike \(t): \(on[t]) with, \(off[t]) without the second level")
        }
        // Ordinary points of the quiet stretches stay quiet.
        let ordinary = (1000..<3000).filter { $0 % 150 != 0 && $0 % 150 != 1 }
        #expect((ordinary.map { on[$0] }.max() ?? 1) < flagThreshold)
    }

    /// Until it has `selfMinHistory` scores, and below its floor, the second level leaves the surprise as is.
    @Test func shortHistoryAndNoEvidenceAreLeftAlone() {
        var a = perPointConfig()
        a.onsetWindow = 0
        a.selfWeight = 0.7
        var b = a
        b.selfWeight = 0
        let sa = scores(Scenario.all[0], a)
        let sb = scores(Scenario.all[0], b)
        #expect(sa[0..<a.selfMinHistory] == sb[0..<a.selfMinHistory])
        let floorScore = Scorer.selfFloor / (Scorer.selfFloor + a.surpriseHalf)
        let weak = (a.selfMinHistory..<sa.count).filter { sb[$0] < floorScore }
        #expect(weak.count > 100)
        #expect(weak.allSatisfy { sa[$0] == sb[$0] })
        #expect(sa[a.selfMinHistory...] != sb[a.selfMinHistory...])
    }
}

struct ScoringGaussianCalibrationTests {
    /// Scores (no onset filter) of a series whose Gaussian head is calibrated on ordinary points (spread 1 for
    /// noise of sd 1) but which spikes by +30 (z = 30) every 50 points from point 400, and by +`last` once at 2900.
    static func overconfidentSpikes(_ kind: ScorerKind = .calibrated, calibrate: Bool, last: Double = 30) -> [Double] {
        var config = perPointConfig(kind)
        config.history = 2000
        config.onsetWindow = 0
        config.gaussianCalibration = calibrate
        var scorer = Scorer(config: config)
        var noise = Noise(seed: 23)
        var s: [Double] = []
        for t in 0..<3000 {
            let spike = t == 2900 ? last : (t >= 400 && t % 50 == 0 && t < 2900 ? 30 : 0)
            let v = 50 + noise.gaussian() + spike
            s.append(scorer.score(ScoreInput(timestamp: Double(t), value: v, predicted: t < 300 ? nil : 50,
                                             predictedSpread: t < 300 ? nil : 1)).score)
        }
        return s
    }

    /// A spike the head calls a z = 30 event stops scoring once the series has had it many times (its own z's
    /// say the head's spread is too narrow for it), while the first one is flagged at once and the normal
    /// stretches stay quiet.
    @Test(arguments: [ScorerKind.calibrated, .gaussian])
    func recurringOverconfidentSpikesAreDiscounted(kind: ScorerKind) {
        let on = Self.overconfidentSpikes(kind, calibrate: true)
        let off = Self.overconfidentSpikes(kind, calibrate: false)
        #expect(on[400] >= flagThreshold, "first spike scored \(on[400])")
        for t in [2700, 2750, 2800, 2850] {
            #expect(on[t] < flagThreshold, "spike \(t) scored \(on[t]) with the calibration")
            #expect(off[t] >= flagThreshold, "spike \(t) scored \(off[t]) without it")
        }
        let ordinary = (1000..<2900).filter { $0 % 50 != 0 && $0 % 50 != 1 }
        #expect((ordinary.map { on[$0] }.max() ?? 1) < flagThreshold)
    }

    /// A spike far beyond the ones the series keeps having is still flagged at once after the calibration has
    /// widened the spread.
    @Test(arguments: [ScorerKind.calibrated, .gaussian])
    func aNewLargerSpikeIsStillFlagged(kind: ScorerKind) {
        let on = Self.overconfidentSpikes(kind, calibrate: true, last: 300)
        #expect(on[2900] >= flagThreshold, "larger spike scored \(on[2900])")
    }

    /// On a head whose spread matches its residuals the calibration stays at 1: its z's reach where a
    /// Gaussian's do, so the scores are those without it.
    @Test func aCalibratedHeadIsLeftAlone() {
        var config = perPointConfig()
        config.history = 2000
        var scorer = Scorer(config: config)
        var noise = Noise(seed: 29)
        for t in 0..<3000 {
            _ = scorer.score(ScoreInput(timestamp: Double(t), value: 50 + noise.gaussian(), predicted: t < 300 ? nil : 50,
                                        predictedSpread: t < 300 ? nil : 1))
        }
        #expect(scorer.gaussian.scale < 1.25, "scale \(scorer.gaussian.scale)")
    }

    /// The correction follows the k largest |z| of the recent window only: two z = 50 points widen the spread at
    /// once, and once their block has left the window the scale is back near 1.
    @Test func calibrationForgetsWithItsWindow() {
        var g = GaussianCalibration(history: 160, k: 2) // 16 blocks of 10 points
        var noise = Noise(seed: 31)
        g.insert(50)
        g.insert(50)
        for _ in 0..<40 { g.insert(abs(noise.gaussian())) }
        #expect(g.scale > 10, "scale \(g.scale) with the spikes in the window")
        for _ in 0..<200 { g.insert(abs(noise.gaussian())) }
        #expect(g.scale < 2, "scale \(g.scale) after they left")
    }

    /// The inverse Gaussian tail returns the |z| whose two-sided surprise was asked for.
    @Test func inverseGaussianTailRoundTrips() {
        for s in [0.5, 1, 3, 10, 50] {
            let z = Surprise.gaussianTwoSidedInverse(surprise: s)
            #expect(abs(Surprise.gaussianTwoSided(z) - s) < 1e-6 * max(1, s), "s \(s): z \(z)")
        }
    }
}

struct ScoringContextTests {
    /// Value-term scores of a daily cycle (288 points a day, 5 minutes apart) whose model predicts it
    /// perfectly, with the noon level appearing around midnight for 20 points from 2583.
    static func daytimeLevelAtNight(contextWeight: Double) -> [Double] {
        var config = perPointConfig()
        config.valueWeight = 1 // the value term alone: the residual would catch it anyway
        config.selfWeight = 0
        config.contextWeight = contextWeight
        var scorer = Scorer(config: config)
        var noise = Noise(seed: 17)
        var s: [Double] = []
        for t in 0..<3000 {
            let phase = 2 * Double.pi * Double(t % 288) / 288
            let clean = 50 - 20 * cos(phase)
            let v = (t >= 2583 && t < 2603) ? 70 + noise.gaussian() : clean + noise.gaussian()
            s.append(scorer.score(ScoreInput(timestamp: Double(t) * 300, value: v, predicted: t < 300 ? nil : v,
                                             predictedSpread: 1)).score)
        }
        return s
    }

    /// A level that is common at noon but appears at midnight is flagged by the time-of-day term within a few
    /// points (and not by the value's surprise against all its history), while normal days stay quiet.
    @Test func unusualLevelForTheTimeOfDayIsFlagged() {
        let on = Self.daytimeLevelAtNight(contextWeight: 0.5)
        let off = Self.daytimeLevelAtNight(contextWeight: 0)
        let normalMax = on[900..<2583].max() ?? 1
        #expect(normalMax < flagThreshold, "normal days reached \(normalMax)")
        let hit = firstFlag(on, from: 2583, threshold: flagThreshold)
        #expect(hit != nil && (hit ?? .max) - 2583 <= 3, "first flag \(hit.map { $0 - 2583 } ?? -1) points in")
        #expect((off[2583..<2603].max() ?? 1) < flagThreshold)
    }

    /// The time-of-day term of the noon level appearing at 23:15 on day `day` of the daily cycle above (the term
    /// alone, recorded; 0 while its bin does not count yet).
    static func contextTermOfNoonLevelAtNight(day: Int, minDays: Double) -> Double {
        var config = perPointConfig()
        config.contextMinDays = minDays
        config.recordTerms = true
        var scorer = Scorer(config: config)
        var noise = Noise(seed: 17)
        let at = day * 288 + 279
        for t in 0...at {
            let phase = 2 * Double.pi * Double(t % 288) / 288
            let v = t == at ? 70 + noise.gaussian() : 50 - 20 * cos(phase) + noise.gaussian()
            _ = scorer.score(ScoreInput(timestamp: Double(t) * 300, value: v, predicted: t < 300 ? nil : v,
                                        predictedSpread: 1))
        }
        return scorer.lastTerms?.context ?? -1
    }

    /// A bin counts once it has seen its hour on `contextMinDays` days (48 points of 5 minutes at the default 4),
    /// not after a number of values: on day 3 the 23:00 bin holds 39 values of three days and says nothing; it
    /// would have called the noon level at night p < 1e-3 from them. On day 5 it does count.
    @Test func aBinCountsOnceItHasSeenItsHourOnFourDays() {
        #expect(Self.contextTermOfNoonLevelAtNight(day: 3, minDays: 4) == 0)
        #expect(Self.contextTermOfNoonLevelAtNight(day: 3, minDays: 0) > 3)
        #expect(Self.contextTermOfNoonLevelAtNight(day: 5, minDays: 4) > 3)
    }

    /// The values a bin needs: four days of points at the series' spacing, at least one a day, at most what a
    /// full bin keeps (half its capacity), at least `minValues`.
    @Test func valuesABinNeeds() {
        func needed(spacing: Double, minValues: Int = 2, days: Double = 4) -> Int {
            var c = TimeOfDayContext(bins: 24, capacity: 250, tailSize: 10)
            for i in 0..<64 { c.observe(timestamp: Double(i) * spacing) }
            return c.valuesNeeded(days: days, minValues: minValues)
        }
        #expect(needed(spacing: 300) == 48)
        #expect(needed(spacing: 3_600) == 4)
        #expect(needed(spacing: 6 * 3_600) == 4) // one point a visit at most: a bin sees a 6-hourly series' hour once a day
        #expect(needed(spacing: 60) == 125) // four days would be 240: more than a full bin keeps
        #expect(needed(spacing: 10) == 125)
        #expect(needed(spacing: 300, minValues: 100) == 100)
        #expect(needed(spacing: 300, days: 0) == 2)
    }

    /// Time-of-day bins: a bin needs its minimum history, and a constant bin gives the rank bound, not a
    /// division by zero.
    @Test func binsRankWithinTheirOwnHour() {
        var c = TimeOfDayContext(bins: 24, capacity: 50, tailSize: 10)
        for day in 0..<60 {
            let t = Double(day) * 86_400
            c.observe(timestamp: t)
            c.insert(5, at: t + 3_600) // 01:00 is always 5
            c.insert(Double(day % 10), at: t + 7_200) // 02:00 varies 0...9
        }
        #expect(c.count(at: 3_600) == 35) // a jumping window of 26-50: the generation of days 50-59 and the one before
        #expect(c.count(at: 10_800) == 0)
        #expect(c.surprise(5, at: 3_600) < 0.1)
        let jump = c.surprise(6, at: 3_600)
        #expect(jump.isFinite && abs(jump - (log10(36) - log10(2))) < 1e-9) // rank bound 1/(n+1), two-sided
        #expect(c.surprise(4.5, at: 7_200) < 0.5)
        #expect(c.surprise(30, at: 7_200) > 3)
    }
}

struct ScoringCheckpointTests {
    /// A restored scorer continues exactly where the original left off, for every stage.
    @Test(arguments: ScorerKind.allCases)
    func roundTripContinuesIdentically(kind: ScorerKind) throws {
        var config = perPointConfig(kind)
        config.frozenDetection = true
        var a = Scorer(config: config)
        let scenario = Scenario.all[3]
        func input(_ t: Int) -> ScoreInput {
            ScoreInput(timestamp: Double(t), value: scenario.values[t], predicted: scenario.predicted[t], predictedSpread: 1)
        }
        for t in 0..<1777 { _ = a.score(input(t)) }
        var b = try Scorer(config: config, checkpoint: a.checkpoint())
        #expect(b.checkpoint() == a.checkpoint())
        for t in 1777..<scenario.values.count { #expect(a.score(input(t)) == b.score(input(t))) }
    }

    /// A checkpoint from another stage, another history size, another version or a truncated blob is rejected.
    @Test func badCheckpointsAreRejected() {
        var a = Scorer(config: ScoringConfig.untimed(.calibrated))
        for t in 0..<100 { _ = a.score(ScoreInput(timestamp: Double(t), value: Double(t % 7), predicted: nil, predictedSpread: nil)) }
        let blob = a.checkpoint()
        #expect(throws: ScorerRestoreError.self) { try Scorer(config: ScoringConfig.untimed(.residual), checkpoint: blob) }
        var other = perPointConfig()
        other.history = 500
        #expect(throws: ScorerRestoreError.self) { try Scorer(config: other, checkpoint: blob) }
        #expect(throws: ScorerRestoreError.self) { try Scorer(config: perPointConfig(), checkpoint: Array(blob.dropLast(3))) }
        var wrongVersion = blob
        wrongVersion[0] = 99
        #expect(throws: ScorerRestoreError.self) { try Scorer(config: perPointConfig(), checkpoint: wrongVersion) }
        #expect(throws: ScorerRestoreError.self) { try Scorer(config: perPointConfig(), checkpoint: []) }
    }

    /// A version-3 checkpoint (before the Gaussian calibration) still restores, with an empty |z| history and
    /// the head's spread trusted as is.
    @Test func versionThreeCheckpointRestores() throws {
        var old = perPointConfig()
        old.gaussianCalibration = false // version 3 wrote exactly what version 4 writes without the |z| history
        var a = Scorer(config: old)
        for t in 0..<600 {
            _ = a.score(ScoreInput(timestamp: Double(t), value: Double(t % 7), predicted: t < 300 ? nil : 3,
                                   predictedSpread: t < 300 ? nil : 2))
        }
        // Without version 7's last byte, version 8's 24 and version 10's onsets.
        var blob = Array(a.checkpoint().dropLast(25 + onsetTrailer(a)))
        blob[0] = 3
        let b = try Scorer(config: perPointConfig(), checkpoint: blob)
        #expect(b.points == 600)
        #expect(b.gaussian.isEmpty && b.gaussian.scale == 1)
        #expect(b.residuals.count == a.residuals.count)
    }

    /// A version-7 checkpoint (before the frozen run's chain) still restores, and scores on as the scorer that
    /// wrote it would have, outside a frozen run (and without the same-day onset rule, whose onsets version 10 added).
    @Test func versionSevenCheckpointRestores() throws {
        var config = ScoringConfig.untimed()
        config.onsetFactor = 1
        config.shiftWeight = 0 // version 12's, which a version-7 checkpoint cannot hold
        var a = Scorer(config: config)
        var noise = Noise(seed: 71)
        let values = (0..<900).map { _ in 50 + noise.gaussian() }
        func input(_ t: Int) -> ScoreInput {
            ScoreInput(timestamp: 1_700_000_000 + Double(t) * 300, value: values[t], predicted: t < 300 ? nil : 50,
                       predictedSpread: t < 300 ? nil : 1)
        }
        for t in 0..<600 { _ = a.score(input(t)) }
        var blob = Array(a.checkpoint().dropLast(24 + onsetTrailer(a)))
        blob[0] = 7
        var b = try Scorer(config: config, checkpoint: blob)
        for t in 600..<900 { #expect(a.score(input(t)) == b.score(input(t))) }
    }

    /// A version-1 checkpoint (before the second level and the time-of-day term) still restores; their
    /// histories start empty.
    @Test func versionOneCheckpointRestores() throws {
        var old = perPointConfig()
        old.selfWeight = 0 // version 1 wrote exactly what version 4 writes without these three stages
        old.contextWeight = 0
        old.gaussianCalibration = false
        var a = Scorer(config: old)
        for t in 0..<300 { _ = a.score(ScoreInput(timestamp: Double(t), value: Double(t % 7), predicted: nil, predictedSpread: nil)) }
        var blob = Array(a.checkpoint().dropLast(25 + onsetTrailer(a))) // without versions 7, 8 and 10's bytes
        blob[0] = 1
        let b = try Scorer(config: perPointConfig(), checkpoint: blob)
        #expect(b.points == 300)
        #expect(b.selfScores.count == 0)
        #expect(b.context.counts.allSatisfy { $0 == 0 })
    }
}

struct ScoringRankTests {
    /// Log bins are monotone in the value, so ranks by bin order values correctly (both signs, zero, extremes).
    @Test func binsAreMonotone() {
        let xs: [Double] = [-1e30, -5, -1.2, -1, -1e-30, 0, 1e-30, 1e-3, 1, 1.2, 2, 1e10, 1e30]
        let bins = xs.map(LogBins.signedBin)
        #expect(bins == bins.sorted())
        #expect(Set(bins).count == bins.count - 2) // ±1e-30 land with 0 below 2^-60
        for b in [1, 17, 500, 2047] { #expect(LogBins.magnitudeBin(LogBins.magnitudeValue(b)) == b) }
    }

    /// A signed history anchors on the series' own level and spread, so a series at 50 ± 1 spans many bins.
    @Test func valuesAreBinnedAroundTheirOwnLevel() {
        var h = RankHistory(signed: true, capacity: 300)
        var noise = Noise(seed: 2)
        var bins = Set<Int>()
        for _ in 0..<600 {
            let x = 50 + noise.gaussian()
            h.insert(x)
            bins.insert(h.bin(of: x))
        }
        #expect(bins.count >= 40)
        #expect(abs(h.value(ofBin: h.bin(of: 51.3)) - 51.3) < 0.1)
    }

    /// Prefix counts and order statistics match a sorted copy of the values kept after generations were dropped.
    @Test func ranksMatchSortedHistory() {
        var h = RankHistory(signed: false, capacity: 300)
        var noise = Noise(seed: 9)
        var all: [Double] = []
        for _ in 0..<1000 {
            let x = abs(noise.gaussian() * 100)
            h.insert(x)
            all.append(x)
        }
        #expect(h.count == 400) // a jumping window of 201-400 values (generations of 200): 601...1,000
        let kept = all.suffix(h.count).map { h.bin(of: $0) }.sorted()
        for k in [1, 2, 200, 399, 400] { #expect(h.bin(ofRank: k) == kept[k - 1]) }
        for b in [kept[0], kept[100], kept[299]] {
            #expect(h.countAtOrBelow(bin: b) == kept.filter { $0 <= b }.count)
        }
    }

    /// Beyond the most extreme past values the fitted tail keeps new extremes ordered instead of tying.
    @Test func tailOrdersNewExtremes() {
        var c = Calibrator(signed: false, capacity: 1000, tailSize: 10)
        var noise = Noise(seed: 4)
        for _ in 0..<1000 { c.insert(abs(noise.gaussian())) }
        c.refreshTails()
        let s5 = c.upperSurprise(5), s8 = c.upperSurprise(8), s20 = c.upperSurprise(20)
        #expect(s5 > 3 && s8 > s5 && s20 > s8 && s20.isFinite)
        #expect(c.upperSurprise(0.1) < 0.1)
    }
}
