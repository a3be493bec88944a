import Testing
@testable import Detection

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The default episode threshold (what the daemon alerts at).
private let defaultThreshold = EpisodeConfig().threshold

/// Runs the default scorer over `values` (one point every `spacing` seconds), with the model's predictions.
private func defaultScores(_ values: [Double], predicted: (Int) -> Double?, spacing: Double = 300,
                           spread: Double = 1, config: ScoringConfig = ScoringConfig.untimed()) -> [Double] {
    var scorer = Scorer(config: config)
    return values.indices.map { t in
        let p = predicted(t)
        return scorer.score(ScoreInput(timestamp: 1_700_000_000 + Double(t) * spacing, value: values[t], predicted: p,
                                       predictedSpread: p == nil ? nil : spread)).score
    }
}

struct ScoringRateTests {
    /// A burst of five high points every 150 points (a batch job, a bursty count): the first bursts alert, and once
    /// the series has had it a dozen times it is this series' normal and no longer does.
    @Test func recurringBurstStopsAlertingOnceNormal() {
        var noise = Noise(seed: 41)
        let burst = { (t: Int) in t >= 600 && t % 150 < 5 }
        let values = (0..<4000).map { t in 50 + noise.gaussian() + (burst(t) ? 8 : 0) }
        let s = defaultScores(values, predicted: { $0 < 300 ? nil : 50 })
        let firstBurst = s[600..<605].max() ?? 0
        #expect(firstBurst >= defaultThreshold, "first burst scored \(firstBurst)")
        let late = stride(from: 3000, to: 4000, by: 150).map { s[$0..<($0 + 5)].max() ?? 1 }
        #expect(late.allSatisfy { $0 < defaultThreshold }, "late bursts scored \(late)")
        let quiet = (1000..<4000).filter { !burst($0) && !burst($0 - 1) }.map { s[$0] }
        #expect((quiet.max() ?? 1) < defaultThreshold)
    }

    /// A first real level shift (+10 standard deviations) alerts within a few points, at the default threshold.
    @Test func firstLevelShiftAlertsWithinAFewPoints() {
        var noise = Noise(seed: 43)
        let values = (0..<3000).map { t in 50 + noise.gaussian() + (t >= 2500 ? 10 : 0) }
        // A model that has learnt the old level and follows the new one from the next point on.
        let s = defaultScores(values, predicted: { t in t < 300 ? nil : (t > 2500 ? values[t - 1] : 50) })
        #expect((s[400..<2500].max() ?? 1) < defaultThreshold)
        let hit = firstFlag(s, from: 2500, threshold: defaultThreshold)
        #expect(hit != nil && (hit ?? .max) - 2500 <= 3, "first flag \(hit.map { $0 - 2500 } ?? -1) points after the shift")
    }

    /// A slow drift (+20 standard deviations over 400 points, then flat) alerts while it is still drifting, not
    /// only once it is a plateau: with a model that keeps predicting the level it learnt (until it is retrained,
    /// as the daemon's is every 500 points), at the default threshold.
    @Test func slowDriftAlertsBeforeItIsAPlateau() {
        var noise = Noise(seed: 47)
        let start = 2400, ramp = 400
        let values = (0..<3200).map { t in
            50 + noise.gaussian() + 20 * Double(min(max(t - start, 0), ramp)) / Double(ramp)
        }
        let s = defaultScores(values, predicted: { $0 < 300 ? nil : 50 })
        #expect((s[400..<start].max() ?? 1) < defaultThreshold)
        let hit = firstFlag(s, from: start, threshold: defaultThreshold)
        #expect(hit != nil && (hit ?? .max) < start + ramp / 2,
                "first flag \(hit.map { $0 - start } ?? -1) points into the drift; scores \(stride(from: start, to: start + ramp + 100, by: 25).map { s[$0] })")
        // Without the lag the calibration widens the head's spread as fast as the drift grows, and the first half of
        // the ramp scores lower. (With the Student-t tail the head's term no longer decides whether it flags.)
        var unlagged = ScoringConfig.untimed()
        unlagged.gaussianCalibrationLag = false
        let u = defaultScores(values, predicted: { $0 < 300 ? nil : 50 }, config: unlagged)
        #expect((u[start..<(start + ramp / 2)].max() ?? 1) < (s[start..<(start + ramp / 2)].max() ?? 0))
    }

    /// A clean periodic series (sine of amplitude 10, noise of sd 0.5, a point a minute) stays below the default
    /// threshold for days, new extremes of its noise included, while one spike on it is flagged.
    @Test func cleanSeriesIsQuietAndASpikeIsNot() {
        for seed in UInt64(1)...5 {
            var noise = Noise(seed: seed)
            let clean = (0..<6000).map { t in 10 * sin(2 * Double.pi * Double(t) / 50) }
            var values = clean.map { $0 + 0.5 * noise.gaussian() }
            values[5000] += 30
            let s = defaultScores(values, predicted: { $0 < 300 ? nil : clean[$0] }, spacing: 60, spread: 0.5)
            let quiet = s[0..<5000].max() ?? 1
            #expect(quiet < defaultThreshold, "seed \(seed): clean stretch reached \(quiet)")
            #expect(s[5000] >= defaultThreshold, "seed \(seed): spike scored \(s[5000])")
        }
    }

    /// A point inside the range of the series' remembered values keeps `inRangeFactor` of its surprise; a new
    /// maximum or minimum keeps all of it. The discount comes after the onset rule, so it moves no onset.
    @Test func anOnsetInsideTheRangeKeepsHalfItsSurprise() {
        var noise = Noise(seed: 53)
        // A daily cycle (5 minutes apart) whose model predicts it; at 2583 the noon level appears at midnight for
        // 20 points (inside the range: the cycle reaches it every day), at 2900 a spike beyond every value.
        let clean = (0..<3000).map { t in 50 - 20 * cos(2 * Double.pi * Double(t % 288) / 288) }
        var values = clean.map { $0 + noise.gaussian() }
        for t in 2583..<2603 { values[t] = 70 + noise.gaussian() }
        values[2900] = 120
        var off = ScoringConfig.untimed()
        off.inRangeFactor = 1
        off.recordTerms = true
        var on = off
        on.inRangeFactor = 0.5
        var a = Scorer(config: off), b = Scorer(config: on)
        var sa: [Double] = [], sb: [Double] = [], beyond: [Bool] = []
        for t in values.indices {
            let input = ScoreInput(timestamp: 1_700_000_000 + Double(t) * 300, value: values[t],
                                   predicted: t < 300 ? nil : clean[t], predictedSpread: t < 300 ? nil : 1)
            sa.append(a.score(input).score)
            sb.append(b.score(input).score)
            beyond.append(b.lastTerms?.range == .beyond)
        }
        // The surprise a score stands for: score = k / (k + 4).
        let kept = { (x: Double) in 4 * x / (1 - x) }
        let onset = (2583..<2603).max { sa[$0] < sa[$1] } ?? 2583
        #expect(!beyond[onset] && sa[onset] > 0.2, "the daytime level at night scored \(sa[onset])")
        #expect(abs(kept(sb[onset]) - 0.5 * kept(sa[onset])) < 1e-9 * kept(sa[onset]))
        #expect(beyond[2900] && sa[2900] > 0.3 && sb[2900] == sa[2900])
        // The same onsets: a point scores above 0 with the discount exactly where it does without.
        #expect(sa.indices.allSatisfy { (sa[$0] > 0) == (sb[$0] > 0) })
        // The first values before the history has `minHistory` of them are never "beyond".
        #expect(!beyond[0..<ScoringConfig.untimed().minHistory].contains(true))
    }

    /// A new maximum shortly after a larger spike is a new event (an onset), not a repeat of the spike; a ramp
    /// that sets a record at every step is one excursion, whose later points must beat the window as before.
    @Test func aNewExtremeIsAnOnsetButARampIsOneExcursion() throws {
        var noise = Noise(seed: 61)
        var values = (0..<1700).map { _ in 50 + noise.gaussian() }
        values[1500] = 100 // far beyond everything: the window's largest surprise for the next 200 points
        values[1550] = 105 // a new maximum again, less surprising than the spike
        for t in 1600..<1610 { values[t] = 110 + 0.5 * Double(t - 1600) } // a ramp of records and ties
        var off = ScoringConfig.untimed()
        off.newExtremeOnsets = false
        let on = defaultScores(values, predicted: { $0 < 300 ? nil : 50 })
        let before = defaultScores(values, predicted: { $0 < 300 ? nil : 50 }, config: off)
        #expect(before[1500] > 0.3 && on[1500] == before[1500])
        #expect(before[1550] == 0, "without the rule the second maximum was kept: \(before[1550])")
        #expect(on[1550] > 0, "the second maximum was dropped as a repeat")
        #expect(on[1600] > 0 && before[1600] == 0)
        #expect(on[1601..<1610].allSatisfy { $0 == 0 }, "later records of the ramp: \(Array(on[1601..<1610]))")
        // Everything else is as before, but for new extremes of the noise itself (each the first of its excursion).
        let changed = values.indices.filter { on[$0] != before[$0] }
        let noiseRecords = changed.filter { t in t != 1550 && t != 1600 }
        #expect(noiseRecords.allSatisfy { t in values[t] > values[..<t].max() ?? 0 || values[t] < values[..<t].min() ?? 0 },
                "scores moved at \(changed)")
        // A checkpoint taken inside the ramp remembers that the last point was beyond the range.
        var a = Scorer(config: ScoringConfig.untimed()), input = { (t: Int) in
            ScoreInput(timestamp: 1_700_000_000 + Double(t) * 300, value: values[t], predicted: t < 300 ? nil : 50,
                       predictedSpread: t < 300 ? nil : 1)
        }
        for t in 0...1600 { _ = a.score(input(t)) }
        var b = try Scorer(config: ScoringConfig.untimed(), checkpoint: a.checkpoint())
        #expect(b.previousAtEdge)
        for t in 1601..<1700 { #expect(a.score(input(t)) == b.score(input(t))) }
    }

    /// A noisy sensor that freezes is flagged within two points at the default threshold, and its run counts only
    /// when its evidence squares (a few times over 200 points), not at every point; a checkpoint taken inside the
    /// run continues it identically.
    @Test func aFrozenRunIsOneEventFlaggedWithinTwoPoints() throws {
        var noise = Noise(seed: 59)
        var values = (0..<3000).map { _ in 50 + noise.gaussian() }
        for t in 2500..<2700 { values[t] = 50.25 }
        let predicted = { (t: Int) -> Double? in t < 300 ? nil : 50 }
        let on = defaultScores(values, predicted: predicted)
        var offConfig = ScoringConfig.untimed()
        offConfig.frozenDetection = false
        let off = defaultScores(values, predicted: predicted, config: offConfig)
        #expect(on[2502] >= EpisodeConfig().threshold, "the second repeat scored \(on[2502])")
        #expect(off[2501...2502].allSatisfy { $0 < 0.1 })
        let counted = (2500..<2700).filter { on[$0] > off[$0] }
        #expect(counted.first == 2501 && counted.count <= 9, "counted at \(counted)")
        // Before the run nothing moves; after it nothing alerts (its counts are onsets the same-day rule remembers,
        // so later onsets may shift).
        #expect(on[..<2500] == off[..<2500] && on[2800...].allSatisfy { $0 < EpisodeConfig().threshold })
        var a = Scorer(config: ScoringConfig.untimed()), input = { (t: Int) in
            ScoreInput(timestamp: 1_700_000_000 + Double(t) * 300, value: values[t], predicted: predicted(t),
                       predictedSpread: predicted(t) == nil ? nil : 1)
        }
        for t in 0...2505 { _ = a.score(input(t)) }
        var b = try Scorer(config: ScoringConfig.untimed(), checkpoint: a.checkpoint())
        for t in 2506..<2800 { #expect(a.score(input(t)) == b.score(input(t))) }
    }

    /// A checkpoint of the builds that kept the frozen-run tracker as a ring of bits (scorer version 8 and earlier)
    /// restores: its transitions are counted again, and within the tracker's memory the restored series' chain is
    /// the one that never stopped, through a frozen run that goes on counting. A ring written with the tracker off (no bits)
    /// restores into a scorer with it on, where it used to fail the whole scorer.
    @Test func aRingOfBitsFromEarlierBuildsRestores() throws {
        var noise = Noise(seed: 61)
        // Rounded to 0.5: the series repeats now and then, so the chain has something to count.
        var values = (0..<3000).map { _ in (2 * (50 + noise.gaussian())).rounded() / 2 }
        for t in 2500..<2600 { values[t] = 50.5 }
        let input = { (t: Int) in
            ScoreInput(timestamp: 1_700_000_000 + Double(t) * 300, value: values[t], predicted: t < 300 ? nil : 50,
                       predictedSpread: t < 300 ? nil : 1)
        }
        /// The section the earlier builds wrote for `values[..<n]`: capacity, head, count, the repeats' count, run,
        /// longest run, last value, then one bit per remembered step.
        func ring(_ n: Int, capacity: Int) -> [UInt8] {
            var bits = [UInt64](repeating: 0, count: (capacity + 63) / 64)
            var head = 0, count = 0, run = 0, maxRun = 0, last = Double.nan
            for v in values[..<n] where capacity > 0 {
                let isRepeat = v == last
                if !isRepeat { maxRun = max(maxRun, run) }
                run = isRepeat ? run + 1 : 0
                last = v
                count = min(count + 1, capacity)
                if isRepeat { bits[head >> 6] |= 1 << UInt64(head & 63) } else { bits[head >> 6] &= ~(1 << UInt64(head & 63)) }
                head = (head + 1) % capacity
            }
            var w = ByteWriter()
            w.int(capacity); w.int(head); w.int(count); w.int(bits.reduce(0) { $0 + $1.nonzeroBitCount })
            w.int(run); w.int(maxRun); w.double(capacity > 0 ? last : .nan)
            for b in bits { w.u64(b) }
            return w.bytes
        }
        func withRing(_ scorer: Scorer, _ section: [UInt8]) throws -> [UInt8] {
            let blob = scorer.checkpoint()
            var current = ByteWriter()
            scorer.frozen.encode(into: &current)
            let at = try #require(blob.firstRange(of: current.bytes))
            var old = Array(blob[..<at.lowerBound]) + section + Array(blob[at.upperBound...].dropLast(onsetTrailer(scorer)))
            old[0] = 8
            return old
        }
        // The same-day onset rule off: its onsets (version 10) start empty in a version-8 restore; so do the shift
        // term's hourly means (version 12), which count again 200 hours' worth of points after it.
        var config = ScoringConfig.untimed()
        config.onsetFactor = 1
        config.shiftWeight = 0
        var a = Scorer(config: config)
        for t in 0...2502 { _ = a.score(input(t)) }
        #expect(a.frozen.run == 2 && a.frozen.steps == 2503)
        var b = try Scorer(config: config, checkpoint: try withRing(a, ring(2503, capacity: 6000)))
        #expect(b.frozen.afterChange == a.frozen.afterChange && b.frozen.repeatAfterRepeat == a.frozen.repeatAfterRepeat)
        // A ring has no times, so the restored tracker's hourly chains start empty and it judges runs by the
        // series-wide chain alone until they fill (a run can then only score higher than in the scorer that never
        // stopped); its series-wide counts keep in step exactly.
        #expect(b.frozen.hourCounts.allSatisfy { $0 == 0 } && b.frozen.runHourQ11.isEmpty)
        var fired = 0
        for t in 2503..<3000 {
            _ = a.score(input(t))
            if b.score(input(t)).cause == .frozen { fired += 1 }
        }
        #expect(fired >= 1, "the run went on counting after the restore")
        #expect(b.frozen.afterRepeat == a.frozen.afterRepeat && b.frozen.repeatAfterChange == a.frozen.repeatAfterChange)
        // Written with the tracker off: restores, and the tracker starts from nothing.
        var off = ScoringConfig.untimed()
        off.frozenDetection = false
        var c = Scorer(config: off)
        for t in 0..<1000 { _ = c.score(input(t)) }
        let d = try Scorer(config: ScoringConfig.untimed(), checkpoint: try withRing(c, ring(0, capacity: 0)))
        #expect(d.points == 1000 && d.frozen.steps == 0 && d.frozen.maxRun == 0)
    }

    /// Within a day of points a second event must square the first's per-day p-value to be an onset
    /// (`onsetFactor` 2): a stronger repeat of it (13σ four hours after 7σ, inside the series' range) is no news, a
    /// far stronger one (35σ) is. Two days apart the second is an onset as before; with the factor at 1 it always is.
    @Test func aSecondEventTheSameDayNeedsSquaredEvidence() {
        var noise = Noise(seed: 89)
        var values = (0..<2000).map { _ in 50 + noise.gaussian() }
        values[400] = 90  // the range is wide: the events below lie inside it
        values[450] = 10
        values[1500] = 57
        values[1550] = 70
        values[1600] = 85
        var off = ScoringConfig.untimed()
        off.onsetFactor = 1
        let predicted = { (t: Int) -> Double? in t < 300 ? nil : 50 }
        // Five-minute points: 288 a day, so the three events share a day.
        let one = defaultScores(values, predicted: predicted, config: off), two = defaultScores(values, predicted: predicted)
        #expect(one[1500] > 0 && two[1500] > 0, "the first event: \(one[1500]), \(two[1500])")
        #expect(one[1550] > 0, "a stronger second event is an onset with the factor at 1: \(one[1550])")
        #expect(two[1550] == 0, "but not the same day at 2: \(two[1550])")
        #expect(two[1600] > 0, "a far stronger third is: \(two[1600])")
        // The factor only ever holds an onset back.
        #expect(zip(one, two).allSatisfy { $0 == $1 || $1 == 0 })
        // Hourly points: 24 a day, and the second event comes two days after the first.
        let hourlyOne = defaultScores(values, predicted: predicted, spacing: 3600, config: off)
        let hourlyTwo = defaultScores(values, predicted: predicted, spacing: 3600)
        #expect(hourlyOne[1550] > 0 && hourlyTwo[1550] == hourlyOne[1550], "\(hourlyOne[1550]), \(hourlyTwo[1550])")
    }

    /// The day's bar is set by its onsets, not by any point: a point that was no onset (a bigger one came shortly
    /// before it) does not hold back the next onset, whose own day holds no alarm yet.
    @Test func theDaysBarIsItsOnsets() {
        var noise = Noise(seed: 91)
        var values = (0..<1300).map { _ in 50 + noise.gaussian() }
        values[400] = 90  // the range is wide: the events below lie inside it
        values[450] = 10
        values[1000] = 62  // A
        values[1100] = 55  // B
        values[1110] = 62  // C
        var off = ScoringConfig.untimed()
        off.onsetFactor = 1
        let predicted = { (t: Int) -> Double? in t < 300 ? nil : 50 }
        // Hourly points: a day is 24 of them.
        let one = defaultScores(values, predicted: predicted, spacing: 3600, config: off)
        let two = defaultScores(values, predicted: predicted, spacing: 3600)
        var raw = ScoringConfig.untimed()
        raw.onsetWindow = 0
        let r = defaultScores(values, predicted: predicted, spacing: 3600, config: raw)
        // Each point's surprise (before the onset rule; both inside the range, so discounted alike).
        let k = { (t: Int) in 4 * r[t] / (1 - r[t]) }
        #expect(one[1000] > 0 && two[1000] > 0, "A is an onset: \(one[1000])")
        #expect(one[1100] == 0 && two[1100] == 0, "B is none: the bigger A came 100 hours before")
        #expect(k(1110) > k(1000) && k(1110) < 2 * k(1100), "C beats A, but not twice B: \(k(1000)) \(k(1100)) \(k(1110))")
        #expect(two[1110] > 0 && two[1110] == one[1110], "C is an onset: its day (B, 10 hours before) held no alarm")
    }

    /// Points stamped a hair apart (hostile or broken timestamps) make the cadence's points a day astronomically
    /// large; the same-day onset rule's span must not overflow on its way to an integer.
    @Test func pointsAHairApartDoNotOverflowTheDay() {
        var noise = Noise(seed: 97)
        var scorer = Scorer(config: ScoringConfig.untimed())
        var scored = 0
        for t in 0..<400 {
            // Spikes a million spreads out: surprising enough per point to stay news over 10^19 points a day.
            let v = 50 + noise.gaussian() * (1 + Double(t)) + (t % 97 == 0 ? 1e6 * Double(t) : 0)
            let out = scorer.score(ScoreInput(timestamp: Double(t + 1) * 1e-15, value: v, predicted: t < 100 ? nil : 50,
                                              predictedSpread: t < 100 ? nil : 1))
            if out.score > 0 { scored += 1 }
        }
        #expect(scorer.cadence.log10PointsPerDay > 19 && scored > 0, "\(scorer.cadence.log10PointsPerDay), \(scored)")
    }

    /// An idle series whose zeros come in long stretches is not surprised by one more, even a little longer than
    /// every one before: its repeats persist (q11 near 1).
    @Test func idleStretchesAreNotAFrozenSensor() {
        var noise = Noise(seed: 67)
        var values: [Double] = []
        for cycle in 0..<25 {
            for _ in 0..<50 { values.append(50 + 5 * noise.gaussian()) }
            values += [Double](repeating: 0, count: cycle == 24 ? 130 : 100)
        }
        let s = defaultScores(values, predicted: { $0 < 300 ? nil : 25 })
        let last = values.count - 130
        #expect((s[last...].max() ?? 1) < EpisodeConfig().threshold, "the longest stretch scored \(s[last...].max() ?? 1)")
    }

    /// Poisson counts, one a minute, at `rate(t)` per point (Knuth's method; the rates here are small).
    private func counts(_ n: Int, seed: UInt64, rate: (Int) -> Double) -> [Double] {
        var noise = Noise(seed: seed)
        return (0..<n).map { t in
            let limit = exp(-rate(t))
            var k = 0.0, p = noise.uniform()
            while p > limit { k += 1; p *= noise.uniform() }
            return k
        }
    }

    /// An error counter, a point a minute, busy by day and silent at night: each night's longest run of zeros is
    /// no frozen sensor. One chain of repeats for the whole day paged each new longest night at about 0.8
    /// (`scripts/synthetic-check.py`, `sparse_errors`); judged by the hour's chain as well, none pages as frozen
    /// over 14 days (the default config: the series' first day is silent, as in the daemon). The same counter stuck
    /// at zero from a busy noon until it is the series' longest run still pages as frozen.
    @Test func quietNightsOfACounterAreNotAFrozenSensor() {
        let day = 1_440
        let rate = { (t: Int) in 0.25 * pow(1 + sin(2 * Double.pi * Double(t % day) / Double(day)), 2) }
        func frozenPages(_ values: [Double]) -> [Int] {
            var scorer = Scorer(config: ScoringConfig())
            return values.indices.filter { t in
                let out = scorer.score(ScoreInput(timestamp: 1_700_000_000 + Double(t) * 60, value: values[t],
                                                  predicted: nil, predictedSpread: nil))
                return out.score >= defaultThreshold && out.cause == .frozen
            }
        }
        for seed in [71, 72, 73] as [UInt64] {
            let values = counts(14 * day, seed: seed, rate: rate)
            let quiet = frozenPages(values)
            #expect(quiet.isEmpty, "seed \(seed): frozen pages at \(quiet.map { "day \($0 / day) minute \($0 % day)" })")
            // Stuck at zero from noon of day 12 (the rate there is at its peak, 1 a minute) for 20 hours.
            var stuck = values
            let noon = 12 * day + day / 4
            for t in noon..<(noon + 1_200) { stuck[t] = 0 }
            let pages = frozenPages(stuck).filter { $0 >= noon }
            #expect(pages.first.map { $0 < noon + 1_200 } == true, "seed \(seed): the stuck counter paged at \(pages)")
        }
    }

    /// The hour's chain only ever makes a run less surprising: on a continuous series whose repeats have no hour
    /// the frozen runs score as the series-wide chain alone scores them, and the tracker's checkpoint (version 13)
    /// carries its hours through a run.
    @Test func theHourlyChainIsNeverStricterAndRestores() throws {
        var noise = Noise(seed: 79)
        // Rounded to 0.5 so the series repeats now and then; a stuck stretch at 50.5 late in it.
        var values = (0..<4000).map { _ in (2 * (50 + noise.gaussian())).rounded() / 2 }
        for t in 3500..<3600 { values[t] = 50.5 }
        var tracker = FrozenTracker(memory: 6000)
        var a = Scorer(config: ScoringConfig.untimed())
        let input = { (t: Int) in
            ScoreInput(timestamp: 1_700_000_000 + Double(t) * 300, value: values[t], predicted: t < 300 ? nil : 50,
                       predictedSpread: t < 300 ? nil : 1)
        }
        // The series-wide chain alone, as the tracker reads it when a run begins (its counts before the step).
        var q01 = 1.0, q11 = 1.0, fired = 0
        for t in values.indices {
            let before = tracker
            tracker.observe(values[t], at: 1_700_000_000 + Double(t) * 300)
            if tracker.run == 1 && before.afterChange + before.afterRepeat >= 50 {
                q01 = (before.repeatAfterChange + 1) / (before.afterChange + 2)
                q11 = (before.repeatAfterRepeat + 2 * q01) / (before.afterRepeat + 2)
            }
            if tracker.surprise > 0 {
                fired += 1
                let alone = -log10(q01) - Double(tracker.run - 1) * log10(q11)
                #expect(tracker.surprise <= alone + 1e-9, "step \(t): \(tracker.surprise) against \(alone)")
            }
            if t <= 3550 { _ = a.score(input(t)) }
        }
        #expect(fired >= 2, "the stuck stretch counted \(fired) times")
        var b = try Scorer(config: ScoringConfig.untimed(), checkpoint: a.checkpoint())
        #expect(b.frozen.hourCounts == a.frozen.hourCounts && b.checkpoint() == a.checkpoint())
        for t in 3551..<3700 { #expect(a.score(input(t)) == b.score(input(t))) }
    }

    /// The same per-point evidence is worth less on a series with more points a day: a score is a rate per day.
    @Test func aScoreIsARatePerDay() {
        var perMinute = Cadence(), hourly = Cadence()
        for t in 0..<100 {
            perMinute.observe(Double(t) * 60)
            hourly.observe(Double(t) * 3600)
        }
        #expect(abs(perMinute.log10PointsPerDay - log10(1440)) < 1e-9)
        #expect(abs(hourly.log10PointsPerDay - log10(24)) < 1e-9)
        // Rare points: p_day ≈ N p.
        #expect(abs(perMinute.perDay(20) - (20 - log10(1440))) < 1e-6)
        #expect(abs(hourly.perDay(20) - (20 - log10(24))) < 1e-6)
        // Common ones stay ordered and positive, and a day-apart series keeps its per-point surprise.
        let grid = stride(from: 0.0, through: 12, by: 0.25).map { perMinute.perDay($0) }
        #expect(zip(grid, grid.dropFirst()).allSatisfy { $0 <= $1 })
        #expect(grid.allSatisfy { $0 >= 0 && $0.isFinite })
        let tail = stride(from: 2.0, through: 12, by: 0.25).map { perMinute.perDay($0) }
        #expect(zip(tail, tail.dropFirst()).allSatisfy { $0 < $1 })
        var daily = Cadence()
        for t in 0..<10 { daily.observe(Double(t) * 86_400 * 2) }
        #expect(daily.perDay(3) == 3)
    }

    /// The predictive tail equals the exponential at the threshold and falls as a power far beyond it.
    @Test func predictiveTailIsHeavierThanTheExponential() {
        #expect(TailShape.predictive.factor(0, k: 10) == 1)
        #expect(abs(TailShape.predictive.factor(20, k: 10) - pow(1 + 20.0 / 9, -9)) < 1e-12)
        for z in stride(from: 0.5, through: 50, by: 0.5) {
            #expect(TailShape.predictive.factor(z, k: 10) > TailShape.exponential.factor(z, k: 10))
        }
        // More values in the fit: closer to the exponential.
        #expect(TailShape.predictive.factor(5, k: 200) < TailShape.predictive.factor(5, k: 10))
    }

    /// A level shift inside the range (`shift_weight`): 1.5 standard deviations of a noisy level, so each point of
    /// it is an ordinary value for the series, but an hour of points all ranking high is not. Within the hour the
    /// shift surprise reaches what an ordinary hour of the series almost never does.
    @Test func aSustainedShiftInsideTheRangeIsEvidence() {
        var noise = Noise(seed: 9)
        let shiftAt = 2_028
        let values = (0..<2_100).map { t in 50 + 2 * noise.gaussian() + (t >= shiftAt ? 3 : 0) }
        var config = ScoringConfig()
        config.recordTerms = true
        var scorer = Scorer(config: config)
        var shifts: [Double] = []
        var inside = 0
        for (t, v) in values.enumerated() {
            _ = scorer.score(ScoreInput(timestamp: 1_700_000_000 + Double(t) * 300, value: v, predicted: nil,
                                        predictedSpread: nil))
            shifts.append(scorer.lastTerms?.shift ?? 0)
            if t >= shiftAt && t < shiftAt + 12 && scorer.lastTerms?.range == .inside { inside += 1 }
        }
        let before = shifts[600..<shiftAt], after = shifts[shiftAt..<(shiftAt + 12)]
        #expect(inside >= 10, "the shifted values lie inside the range")
        #expect((after.max() ?? 0) >= 3, "within the hour: \(Array(after))")
        #expect(before.filter { $0 >= 2.5 }.count < before.count / 100, "ordinary hours: \(before.max() ?? 0)")
    }

    /// A new series scores nothing before its history spans a day (`min_history_span`). A daily cycle that starts at
    /// night makes its first morning a new maximum of the night's values, which alone alerts at the default threshold;
    /// after the day, a spike still alerts. Restored from a checkpoint in the middle of its first day the series stays
    /// silent until the day is over (a checkpoint from before version 11 counts as past it), and a series that brings
    /// a whole history of points before a day has passed scores from then on.
    @Test func aNewSeriesIsSilentForItsFirstDay() throws {
        var noise = Noise(seed: 5)
        // 5-minute points, 288 a day: 20 at night, 80 from point 108 of each day on, and a spike to 150 at 500.
        let values = (0..<700).map { t in (t % 288 < 108 ? 20 : 80) + noise.gaussian() + (t == 500 ? 70 : 0) }
        let untimed = defaultScores(values, predicted: { _ in nil }, config: .untimed())
        #expect(untimed[100..<120].contains { $0 >= defaultThreshold }, "the first morning: \(untimed[100..<120])")
        #expect(untimed[500] >= defaultThreshold)
        let timed = defaultScores(values, predicted: { _ in nil }, config: ScoringConfig())
        #expect(timed[0..<288].allSatisfy { $0 == 0 })
        #expect(timed[500] >= defaultThreshold, "the spike after the first day: \(timed[500])")
        #expect(timed.indices.filter { timed[$0] >= defaultThreshold } == [500], "only the spike alerts")

        func input(_ t: Int) -> ScoreInput {
            ScoreInput(timestamp: 1_700_000_000 + Double(t) * 300, value: values[t], predicted: nil, predictedSpread: nil)
        }
        var a = Scorer(config: ScoringConfig())
        for t in 0..<100 { _ = a.score(input(t)) }
        var b = try Scorer(config: ScoringConfig(), checkpoint: a.checkpoint())
        #expect((100..<700).map { b.score(input($0)).score } == Array(timed[100...]))
        var older = Array(a.checkpoint().dropLast(8 + shiftTrailer(a)))
        older[0] = 10
        var c = try Scorer(config: ScoringConfig(), checkpoint: older)
        #expect((100..<120).contains { c.score(input($0)).score >= defaultThreshold },
                "a series from an older build is past its first day")

        // Points 10 s apart: the history's 6,000 points come before a day (17 hours).
        var quick = Noise(seed: 6)
        let fast = (0..<6_600).map { t in 50 + quick.gaussian() + (t == 3_000 ? 100 : t == 6_500 ? 200 : 0) }
        let scores = defaultScores(fast, predicted: { _ in nil }, spacing: 10, config: ScoringConfig())
        let history = ScoringConfig().history
        #expect(scores[..<history].allSatisfy { $0 == 0 })
        #expect(scores[6_500] >= defaultThreshold, "after a whole history: \(scores[6_500])")
        let early = defaultScores(fast, predicted: { _ in nil }, spacing: 10, config: .untimed())[3_000]
        #expect(early >= defaultThreshold, "the same spike before it, without the silence: \(early)")
    }
}
