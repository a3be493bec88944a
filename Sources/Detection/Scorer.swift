// PUBLIC API CONTRACT of the scoring seam. The detector calls exactly these names.
//
// How to read a score: every stage produces a surprise s = −log10(p), the (estimated) probability of seeing
// evidence at least this extreme in this series' own past. The score is s / (s + surpriseHalf), so with the
// default surpriseHalf = 4: score 0.5 ⇔ p = 1e-4, 0.6 ⇔ 1e-6, 0.667 ⇔ 1e-8, 0.75 ⇔ 1e-12; a threshold t
// means p ≤ 10^(−surpriseHalf · t / (1 − t)). Scores never saturate at 1, so thresholds can be swept.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What a scorer sees for one point of one series.
public struct ScoreInput: Sendable, Equatable {
    public var timestamp: Double
    public var value: Double
    /// The model's prediction of this value in raw units, made after the previous point; nil while learning.
    public var predicted: Double?
    /// The model's predicted standard deviation in raw units (Gaussian head), nil when unavailable.
    public var predictedSpread: Double?

    public init(timestamp: Double, value: Double, predicted: Double?, predictedSpread: Double?) {
        self.timestamp = timestamp
        self.value = value
        self.predicted = predicted
        self.predictedSpread = predictedSpread
    }
}

/// A scorer's verdict on one point.
public struct ScoreOutput: Sendable, Equatable {
    /// Anomaly score in [0, 1]; continuous, so a threshold can be swept over it.
    public var score: Double
    /// Expected band for the value, in raw units.
    public var lower: Double
    public var upper: Double
    /// The evidence that carried the point's score, set where the score is above 0.
    public var cause: AnomalyCause?

    public init(score: Double, lower: Double, upper: Double, cause: AnomalyCause? = nil) {
        self.score = score
        self.lower = lower
        self.upper = upper
        self.cause = cause
    }
}

/// Each term's surprise (−log10 p) for one point of the calibrated stage, before the terms are averaged, the daily
/// rate applied and onsets picked (`omen replay --terms`; `scripts/nab-terms.py` recombines them offline).
public struct ScoreTerms: Sendable, Equatable {
    /// The value, two-sided, against all its history (0 until `minHistory` values).
    public var value: Double
    /// The value against the same time of day: nil when the term is off or the spacing gives no time of day; 0 while
    /// the bin has fewer values than `contextMinHistory` and `contextMinDays` ask.
    public var context: Double?
    /// The calibrated |residual| (0 until `minHistory` residuals); nil without a prediction or before the value
    /// history has `minHistory` values (the stage then counts 0).
    public var residual: Double?
    /// The Gaussian head's calibrated z on its tail; nil where `residual` is, or with `gaussianWeight` 0.
    public var head: Double?
    /// |value − previous value|; nil when the term is off or has too little history.
    public var change: Double?
    /// The series has only ever been this one value: the residual terms count 0.
    public var flat: Bool
    /// The combined surprise before the daily rate (what the terms average to, capped at 300; with `selfWeight`
    /// the second level is in it too).
    public var combined: Double
    /// log10 of the points a day the daily rate counts (0: no correction).
    public var log10PointsPerDay: Double
    /// The sustained-shift surprise (`shiftWeight`) before its weight; nil when the term is off.
    public var shift: Double?
    /// Where the value lies against the values the series remembers: beyond all of them (a new maximum or
    /// minimum), its score keeps the whole surprise; otherwise `inRangeFactor` of it.
    public var range: RangePosition

    public init(value: Double, context: Double?, residual: Double?, head: Double?, change: Double?, flat: Bool,
                combined: Double, log10PointsPerDay: Double, range: RangePosition = .inside, shift: Double? = nil) {
        self.value = value
        self.context = context
        self.residual = residual
        self.head = head
        self.change = change
        self.flat = flat
        self.combined = combined
        self.log10PointsPerDay = log10PointsPerDay
        self.range = range
        self.shift = shift
    }
}

/// Which scoring stage turns predictions and values into a score.
public enum ScorerKind: String, Sendable, CaseIterable, Codable {
    /// v1: |residual| over a running spread of residuals.
    case residual
    /// Calibrated surprise of the residual (and of the value) against the series' own history.
    case calibrated
    /// HTM-style anomaly likelihood.
    case likelihood
    /// Telemanom-style dynamic threshold on smoothed errors.
    case dynamic
    /// |residual| in units of the model's predicted standard deviation (Gaussian head), two-sided tail.
    case gaussian
}

/// Configuration of the scoring stage.
public struct ScoringConfig: Sendable, Equatable {
    public var kind: ScorerKind = .calibrated
    /// Past residuals (and past values) each new one is ranked against, in points (at most 65535).
    public var history: Int = 6000
    /// Most extreme past values the exponential tail is fitted to.
    public var tailSize: Int = 10
    /// Weight of the value's own two-sided surprise, averaged with the stage's residual surprise once the
    /// model predicts (0 = residual only). While the model is learning only the value's surprise scores.
    public var valueWeight: Double = 0.5
    /// Points of history before any score other than 0 is given.
    public var minHistory: Int = 50
    /// Seconds from a series' first point before any score other than 0 is given (besides `minHistory` points), or
    /// until it has brought `history` points, whichever comes first. A value is news only against a history that
    /// has seen the series' whole day: before that, a daily cycle's first morning is a new maximum of a night's
    /// values, and the per-day rate has counted no day yet. On NAB's 40 files at the default threshold (0.25) the
    /// first day of each series held 20 episodes, 17 of them new highs (0 with this; every file's first day lies in
    /// NAB's unscored probation, so its scores are unchanged). 0 = off (only `minHistory`).
    public var minHistorySpan: Double = 86_400
    /// A point keeps its score only if its surprise beats every surprise of this many previous points
    /// (onsets, not repeats); 0 = off.
    public var onsetWindow: Int = 200
    /// Within the last day of points (N a day, from the series' own spacing, as the daily rate counts them; at most
    /// the onset window), an onset must also beat this many times the most surprising onset of that day: at 2 its
    /// per-day p-value must be the square of the day's first alarm's, as rare as the day holding two such events. The
    /// daily rate makes a score an expected rate of false alarms per series per day; a second alarm the same day must
    /// then be news beyond the first, not another draw like it. New extremes are onsets whatever it says
    /// (`newExtremeOnsets`); 1 = off, and off without `dailyRate`. NAB, 40 files, 3 seeds: 75.8 / 62.1 / 82.4,
    /// cross-validated 73.9, 211 false positives, against 73.0 / 57.8 / 80.5, 71.5 and 237 at 1; at the pager's
    /// threshold 0.25, 39.0 windows hit with 22.7 false positives against 40.3 with 31 (docs/detection-variants.md,
    /// "A second onset the same day").
    public var onsetFactor: Double = 2
    /// Fraction of its score a repeat (a point that is not an onset) keeps: 0 drops it to 0.
    public var repeatFactor: Double = 0
    /// The first point of an excursion beyond every remembered value (a new maximum or minimum of the series,
    /// after a point inside the range) is an onset even when an earlier point of the onset window was more
    /// surprising: a new extreme is a new event, not a repeat of the last one. Later points of the same excursion
    /// (a ramp that sets a record or ties the last one at every step) still have to beat the window.
    public var newExtremeOnsets: Bool = true
    /// Fraction of its surprise (after the daily rate) a point keeps when its value lies inside the range of the
    /// series' remembered values; a new maximum or minimum keeps all of it (1 = off). Unusual for its hour or for
    /// the model, but inside what the series has already shown, a point needs twice the evidence at 0.5 (its
    /// per-day p squared) to score as high as a new extreme: among the onsets NAB's labelled anomalies are far
    /// more often new extremes than the false positives are.
    public var inRangeFactor: Double = 0.5
    /// Surprise (−log10 p) that maps to score 0.5: score = s / (s + surpriseHalf).
    public var surpriseHalf: Double = 4
    /// Flag a run of exactly repeated values (a frozen sensor) when it becomes the series' longest, by how rare
    /// such a run is for this series' repeats (`FrozenTracker`).
    public var frozenDetection: Bool = true
    /// Surprise at the edge of the expected band [lower, upper] (2 = the band holds ~99 % of points).
    public var bandSurprise: Double = 2
    /// Span (points) of an exponentially smoothed signed residual whose calibrated surprise also counts
    /// (max with the residual's): catches drifts and shifts the predictor follows; 0 = off.
    public var driftSpan: Int = 0
    /// Weight of the calibrated surprise of the step change |value − previous value| (a persistence
    /// forecast's residual) averaged into the stage's residual surprise; 0 = off.
    public var changeWeight: Double = 0.3
    /// Calibrated stage: weight of the Gaussian-head surprise averaged with the calibrated residual surprise.
    public var gaussianWeight: Double = 0.3
    /// Gaussian and calibrated stages: rescale the Gaussian head's z by how far this series' own past z's reach beyond what a
    /// Gaussian would give: z is divided by max(1, z_k / g_k), where z_k is the `gaussianTail`-th largest past
    /// |z| and g_k the |z| a Gaussian exceeds with the same probability. A head that is overconfident on this
    /// series (recurring spikes far outside its predicted spread) is discounted; a calibrated one is left alone.
    public var gaussianCalibration: Bool = true
    /// Rank of the past |z| the Gaussian calibration compares with its Gaussian counterpart (the k-th largest; at
    /// most 255).
    public var gaussianTail: Int = 10
    /// The Gaussian calibration reads only the completed sixteenths of its window, not the one being filled, so
    /// the last few hundred |z| do not widen the head's spread yet (a drift stays news while it grows).
    public var gaussianCalibrationLag: Bool = true
    /// Degrees of freedom of the Student-t tail the Gaussian head's (calibrated) z is read against; 0 = a Gaussian
    /// tail. The head's spread is an estimate, and the calibration's scale rests on the `gaussianTail` largest |z|,
    /// so z is t-distributed, not Gaussian: its tail falls as |z|^−ν, and a spike 40 spreads out reads p ≈ 1e-12
    /// (ν = 9), not 1e-350. Default gaussianTail − 1.
    public var gaussianDof: Int = 9
    /// Calibrated stage: rank |residual| / predicted spread (model units) instead of raw |residual|.
    public var standardise: Bool = false
    /// Memory of the running spread (residual and likelihood stages), in points.
    public var spreadMemory: Int = 1000
    /// Likelihood stage: raw scores averaged over this many recent points.
    public var likelihoodWindow: Int = 10
    /// Dynamic stage: smoothed errors the threshold is chosen over.
    public var dynamicWindow: Int = 2000
    /// Dynamic stage: EWMA span of the error smoothing, in points.
    public var dynamicSmoothing: Int = 30
    /// Dynamic stage: points between threshold choices.
    public var dynamicRefresh: Int = 100
    /// Weight of the second-level calibration: the combined surprise is ranked against this series' own
    /// history of combined surprises (same history length and tail), and that rank's surprise is blended in,
    /// so a series that is always surprising (bursty, noisy) cannot keep firing at the rate of a quiet one;
    /// 0 = off.
    public var selfWeight: Double = 0
    /// Scores of history before the second-level calibration applies (before it, the surprise is used as is).
    public var selfMinHistory: Int = 200
    /// Weight, inside the value term, of the value's two-sided surprise against the series' own past values at
    /// the same time of day (contextual anomalies: a normal level at an unusual hour, a daily peak that does
    /// not come); used once the model predicts, when points are 1 s to 6 h apart. 0 = off.
    public var contextWeight: Double = 0.5
    /// Time-of-day bins the day is cut into for the contextual term.
    public var contextBins: Int = 24
    /// Past values each time-of-day bin remembers.
    public var contextHistory: Int = 250
    /// Values a time-of-day bin needs before its surprise counts (until then it contributes 0), whatever
    /// `contextMinDays` asks.
    public var contextMinHistory: Int = 2
    /// Days of its hour a time-of-day bin needs before its surprise counts: a bin says what is unusual for this
    /// hour on other days, and the points of one day's hour rise and fall together, so a bin of one or two days
    /// is a tail fitted to one or two bursts. Counted as the points of that many visits at the series' spacing
    /// (at least one a visit), capped at what a bin keeps once full (a series with points seconds apart fills
    /// its bins within a day). Values, not days, were the unit before (20: 1.7 days at 5-minute spacing, 20 days
    /// at hourly).
    public var contextMinDays: Double = 4
    /// Every calibrated tail (values, residuals, changes, time of day, second level) beyond its k-th most extreme
    /// value falls as the posterior predictive of the fitted exponential, (1 + z/(k−1))^−(k−1), instead of
    /// exp(−z): the k−1 excesses the fit rests on leave its scale uncertain (see `TailShape`).
    public var predictiveTail: Bool = true
    /// Count surprise per day, not per point: a point's p becomes the probability that a day of this series'
    /// points (N, from its own typical spacing) holds at least one as extreme, 1 − (1 − p)^N, so a score means an
    /// expected false-alarm rate per series per day, the same for a series sampled every second and one sampled
    /// every hour. Series sampled a day apart or more keep their per-point surprise.
    public var dailyRate: Bool = true
    /// The value is ranked against the values up to `valueDelay` points ago, not up to the previous point, so a
    /// drift or a shift the model follows stays news while it lasts instead of being absorbed point by point
    /// (0 = the history takes each value in at once).
    public var valueDelay: Int = 0
    /// Weight of the sustained-shift surprise added to the combined one: each value's rank among the series' values
    /// (its PIT), the mean of the last hour of them (points a day / 24, 2-240 points), ranked two-sided against the
    /// series' own earlier means (`ShiftTracker`). An hour of values all ranking high or low is news however
    /// ordinary each is alone (a level shift or a halving inside the range). 0 = off. NAB, 40 files, 10 seeds:
    /// see config/omen.toml.
    public var shiftWeight: Double = 0.05
    /// Keep each point's terms apart (`Scorer.lastTerms`) for `omen replay --terms`; not a file key (it costs a
    /// second evaluation of the stage's terms per point).
    public var recordTerms = false

    public init() {}

    public init(kind: ScorerKind) { self.kind = kind }

    /// Whether the scorer follows the series' spacing (`Cadence`): the daily rate counts points a day with it, the
    /// sustained shift an hour of points. The checkpoint holds it exactly then.
    var tracksCadence: Bool { dailyRate || shiftWeight > 0 }

    /// Whether the Gaussian calibration keeps a history: the gaussian stage, and the calibrated stage when it
    /// blends the Gaussian head in.
    var usesGaussianCalibration: Bool {
        gaussianCalibration && (kind == .gaussian || (kind == .calibrated && gaussianWeight > 0))
    }

    /// Bytes of scorer state one series holds with this configuration (for capacity planning).
    public var bytesPerSeries: Int {
        // Rank histories hold counts over the bins their values occupy (4 bytes a bin), not the values, so the
        // history length does not count: typically ~350 bins of values and ~100-300 of a magnitude (bench memory's
        // series: 1.4 KB, 0.65 KB, 0.45 KB); at most ~2,500 and 513.
        let magnitudeHistory = 4 * 200 + 64
        var b = 4 * 350 + 64 // value history
        if kind == .calibrated { b += magnitudeHistory }
        if driftSpan > 0 { b += magnitudeHistory }
        if changeWeight > 0 { b += magnitudeHistory }
        if selfWeight > 0 { b += magnitudeHistory }
        if usesGaussianCalibration {
            let k = min(max(2, gaussianTail), 255)
            b += GaussianCalibration.blocks * (4 * k + 1 + 4) + 64
        }
        if contextWeight > 0 {
            let g = min(max(contextHistory, 2), Int(UInt16.max)) / 2
            let slots = TimeOfDayContext.header + TimeOfDayContext.thinnedCount(g, edge: max(2, tailSize)) + g
            b += max(contextBins, 1) * 2 * slots
        }
        if onsetWindow > 0 { b += 8 * (onsetWindow + 1) }
        if valueDelay > 0 { b += 8 * valueDelay }
        if shiftWeight > 0 { b += ShiftTracker.maxWindow + 4 * 350 + 64 } // the ring and the means (bench memory: +1.7 KB)
        if kind == .likelihood { b += 8 * likelihoodWindow }
        if kind == .dynamic { b += 4 * dynamicWindow }
        return b + 256
    }
}

/// Why a scorer checkpoint could not be restored.
public typealias ScorerRestoreError = CheckpointError

/// The scoring stage of one series: stateful, deterministic, no I/O.
public struct Scorer: Sendable {
    /// The configuration (shared with every series that has the same one: `Shared`).
    private let parameters: Shared<ScoringConfig>
    public var config: ScoringConfig { parameters.value }
    /// Calibration of the value against its own history (every stage; the only evidence while learning).
    var values: Calibrator
    /// The histories of the residual stages: |residual| (calibrated) and the Gaussian head's |z| (`StageHistories`).
    var histories: StageHistories
    /// The stage-specific evidence of the residual (`ScoringStage`: the one seam `kind` selects).
    var stage: ScoringStage
    /// Calibration of the smoothed residual's magnitude (drift term).
    var drift: Calibrator
    var driftLevel = 0.0
    /// Calibration of |value − previous value| (change term).
    var changes: Calibrator
    var previousValue = Double.nan
    /// Calibration of the combined surprise against its own past (second-level calibration).
    var selfScores: Calibrator
    /// Values per time of day (contextual term).
    var context: TimeOfDayContext
    var spread: SpreadTracker
    var onset: OnsetFilter
    var frozen: FrozenTracker
    /// Points seen.
    var points = 0
    /// Timestamp of the series' first point (`minHistorySpan`); nan before it, −∞ for a series restored from a
    /// checkpoint older than version 11 (it has had its first day).
    var firstTimestamp = Double.nan
    /// The previous point lay beyond or at the edge of the remembered values (`newExtremeOnsets`: a ramp is one
    /// excursion, not a new one at each record).
    var previousAtEdge = false
    /// Typical spacing of timestamps (daily-rate correction).
    var cadence = Cadence()
    /// Values on their way into `values` (value delay).
    var delayed: DelayLine
    /// The sustained-shift evidence (`shiftWeight`).
    var shift: ShiftTracker
    /// The last point's terms, with `recordTerms` (nil otherwise, and for a non-finite value).
    public private(set) var lastTerms: ScoreTerms?

    /// Version 2 adds the second-level calibration history, version 3 the time-of-day histories, version 4 the
    /// Gaussian calibration's history of |z|, version 5 the cadence and the value delay line, version 6 the compact
    /// rank and time-of-day histories (counts per bin, 16-bit codes; each encoding tells its own format, and
    /// rings of versions 1-5 are counted again in arrival order), version 7 whether the last point lay at or beyond
    /// the edge of the remembered values, version 8 the current frozen run's last surprise and its chain, version 9
    /// the frozen-run tracker's decayed transition counts in place of its ring of bits (the section tells its own
    /// format, so either restores whatever the version), version 10 the onsets of the window (`onset_factor`'s
    /// same-day rule), version 11 the series' first timestamp (`minHistorySpan`); older checkpoints still restore
    /// (what they lack starts empty; a series from before version 11 counts as past its first day), version 12 the
    /// sustained-shift window and means (`shiftWeight`), version 13 the frozen-run tracker's hourly chains.
    static let checkpointVersion: UInt8 = 13
    /// Surprises below this (p > 0.1) are no evidence; the second level leaves them as they are, so that the
    /// largest wiggle of a flat or quiet series is not promoted to a rare event by its rank alone.
    static let selfFloor = 1.0

    public init(config: ScoringConfig) {
        parameters = Shared.interned(config)
        let h = min(max(config.history, 1), Int(UInt16.max))
        values = Calibrator(signed: true, capacity: h, tailSize: config.tailSize)
        histories = StageHistories(config: config, history: h)
        stage = ScoringStage(config: config, history: h)
        drift = config.driftSpan > 0
            ? Calibrator(signed: false, capacity: h, tailSize: config.tailSize)
            : Calibrator(unusedSigned: false)
        changes = config.changeWeight > 0
            ? Calibrator(signed: false, capacity: h, tailSize: config.tailSize)
            : Calibrator(unusedSigned: false)
        selfScores = config.selfWeight > 0
            ? Calibrator(signed: false, capacity: h, tailSize: config.tailSize, refreshEvery: 1)
            : Calibrator(unusedSigned: false)
        context = config.contextWeight > 0
            ? TimeOfDayContext(bins: config.contextBins, capacity: config.contextHistory, tailSize: config.tailSize)
            : TimeOfDayContext(unused: ())
        spread = SpreadTracker(memory: config.spreadMemory)
        delayed = DelayLine(delay: config.valueDelay)
        shift = config.shiftWeight > 0 ? ShiftTracker(capacity: h) : ShiftTracker(unused: ())
        onset = OnsetFilter(window: config.onsetWindow)
        frozen = FrozenTracker(memory: config.frozenDetection ? h : 0, minSteps: max(config.minHistory, 1))
        if config.predictiveTail {
            values.tailShape = .predictive
            drift.tailShape = .predictive
            changes.tailShape = .predictive
            selfScores.tailShape = .predictive
            context.tailShape = .predictive
        }
    }

    /// Scores one point. Called once per point in order, also while the model is learning (predicted == nil).
    public mutating func score(_ input: ScoreInput) -> ScoreOutput {
        let v = input.value
        guard v.isFinite else {
            // A non-finite value carries no evidence the statistics could absorb; report it unscored.
            return ScoreOutput(score: 0, lower: v, upper: v)
        }
        points += 1
        prefetch(input)
        if config.tracksCadence { cadence.observe(input.timestamp) }
        if firstTimestamp.isNaN { firstTimestamp = input.timestamp }
        let ready = values.count >= config.minHistory && warmedUp(at: input.timestamp)
        var s = 0.0
        var lower = v, upper = v

        // Both against the history before this value enters it (the value delay line's history with `valueDelay`).
        let ranked = values.count >= config.minHistory ? values.twoSidedSurprisePositionAndPIT(v) : nil
        let (ownSurprise, range, aboveAll) = ready ? (ranked?.surprise ?? 0, ranked?.position ?? .inside,
                                                      ranked?.aboveAll ?? false) : (0, RangePosition.inside, false)
        // The sustained shift is tracked from `minHistory` values on, also while the series is silent for its
        // first day (its means then exist when the day is over); it counts from `ready` on.
        let shiftSurprise = config.shiftWeight > 0
            // Clamped before the conversion (points stamped a hair apart would overflow an Int).
            ? shift.observe(pit: ranked?.pit, window: Int(min(pow(10, cadence.log10PointsPerDay) / 24,
                                                              Double(ShiftTracker.maxWindow)).rounded()))
            : 0
        var valueSurprise = ownSurprise
        // Each term's share of the combined surprise, for the point's cause (`AnomalyCause`); without a prediction
        // the value alone scores.
        var share = CauseShares(rareValue: ownSurprise)
        let useContext = config.contextWeight > 0 && context.applies
        var terms = config.recordTerms
            ? ScoreTerms(value: valueSurprise, context: nil, residual: nil, head: nil, change: nil, flat: false,
                         combined: 0, log10PointsPerDay: config.dailyRate ? cadence.log10PointsPerDay : 0,
                         range: range)
            : nil
        if let p = input.predicted, p.isFinite {
            if useContext {
                let c = min(config.contextWeight, 1)
                let needed = context.valuesNeeded(days: config.contextMinDays, minValues: config.contextMinHistory)
                let cs = context.count(at: input.timestamp) >= needed ? context.surprise(v, at: input.timestamp) : 0
                valueSurprise = (1 - c) * valueSurprise + c * cs
                share.rareValue = (1 - c) * ownSurprise
                share.hour = c * cs
                terms?.context = cs
            }
            let r = v - p
            // Recording only: the stage's two terms apart (the stage itself returns them blended).
            if terms != nil, ready, case .calibrated(let st) = stage {
                let t = st.terms(residual: r, hint: input.predictedSpread, spread: spread, histories: histories)
                terms?.residual = t.calibrated
                terms?.head = t.gaussian
            }
            var stageSurprise = ready
                ? stage.surprise(residual: r, value: v, hint: input.predictedSpread, spread: &spread,
                                 histories: histories) : 0
            let change = config.changeWeight > 0 && previousValue.isFinite && changes.count >= config.minHistory
                ? changes.upperSurprise(abs(v - previousValue)) : nil
            if let change {
                let c = min(config.changeWeight, 1)
                stageSurprise = (1 - c) * stageSurprise + c * change
            }
            if config.driftSpan > 0 {
                driftLevel += 2 / (Double(config.driftSpan) + 1) * (r - driftLevel)
                if drift.count >= config.minHistory {
                    stageSurprise = max(stageSurprise, drift.upperSurprise(abs(driftLevel)))
                }
                drift.insert(abs(driftLevel))
            }
            // A series that has never varied, and does not now, shows nothing unusual: a residual then measures
            // only the model's jitter around the constant (a retrained model's small offset would otherwise be
            // a new extreme of a history of near-zero residuals).
            let flat = ready && values.history.allShareBin(of: v)
            if flat { stageSurprise = 0 }
            terms?.change = change
            terms?.flat = flat
            let w = min(max(config.valueWeight, 0), 1)
            s = (1 - w) * stageSurprise + w * valueSurprise
            share.jump = flat ? 0 : (1 - w) * min(config.changeWeight, 1) * (change ?? 0)
            share.prediction = (1 - w) * stageSurprise - share.jump
            share.rareValue *= w
            share.hour *= w
            let half = stage.bandHalfWidth(hint: input.predictedSpread, spread: spread, bandSurprise: config.bandSurprise,
                                           gaussian: histories.gaussian)
            if spread.n > 0 && half > 0 && half.isFinite {
                lower = p - half
                upper = p + half
            } else if let band = valueBand() {
                // No residual seen yet (a series' first predicted point): a band of width 0 around the prediction
                // would claim a certainty nothing supports; the band of the values, as before a prediction.
                (lower, upper) = band
            }
            stage.absorb(residual: r, value: v, hint: input.predictedSpread, spread: &spread, histories: &histories)
        } else {
            s = valueSurprise
            if let band = valueBand() { (lower, upper) = band }
            spread.update(value: v)
        }
        if config.changeWeight > 0 {
            if previousValue.isFinite { changes.insert(abs(v - previousValue)) }
            previousValue = v
        }
        if config.contextWeight > 0 {
            context.observe(timestamp: input.timestamp)
            if context.applies { context.insert(v, at: input.timestamp) }
        }
        if ready && config.shiftWeight > 0 {
            s += min(config.shiftWeight, 1) * shiftSurprise
            terms?.shift = shiftSurprise
        }
        frozen.observe(v, at: input.timestamp)
        // A run that has just become the series' longest (a frozen sensor); inside the range by definition, it is
        // discounted like any other evidence there.
        if ready && config.frozenDetection && frozen.surprise > s {
            s = frozen.surprise
            share.frozen = true
        }
        if let old = delayed.push(v) { values.insert(old) }

        // Cap at p = 1e-300 so that scores stay below 1 and a threshold can always be swept.
        s = s.isFinite ? min(max(s, 0), 300) : 0
        if config.selfWeight > 0 {
            let raw = s
            if selfScores.count >= max(config.selfMinHistory, 1) && s >= Self.selfFloor {
                let b = min(config.selfWeight, 1)
                s = min((1 - b) * s + b * selfScores.upperSurprise(s), 300)
            }
            selfScores.insert(raw)
        }
        if terms != nil {
            terms?.combined = s
            lastTerms = terms
        }
        if config.dailyRate { s = cadence.perDay(s) }
        var kept = s
        if config.onsetWindow > 0 {
            var bar = onset.previousMax()
            // Only a point that beats the whole window can be held back by its day.
            let sameDay = config.onsetFactor != 1 && config.dailyRate
            if sameDay && Float(s) > bar {
                // Clamped before the conversion: points stamped nanoseconds apart would overflow an Int.
                let day = max(1, Int(min(pow(10, cadence.log10PointsPerDay), Double(config.onsetWindow))))
                bar = max(bar, onset.recentOnsetMax(span: day) * Float(config.onsetFactor))
            }
            onset.push(Float(s))
            let newExcursion = config.newExtremeOnsets && range == .beyond && !previousAtEdge
            if Float(s) <= bar && !newExcursion {
                kept = s * config.repeatFactor
            } else if sameDay {
                onset.recordOnset(Float(s))
            }
        }
        previousAtEdge = range != .inside
        // After the onset rule, which compares undiscounted surprises: a point inside the range does not become
        // an onset by being discounted less than an earlier one.
        if range != .beyond { kept *= min(max(config.inRangeFactor, 0), 1) }
        let score = kept / (kept + config.surpriseHalf)
        guard score.isFinite, score > 0 else { return ScoreOutput(score: 0, lower: lower, upper: upper) }
        let cause: AnomalyCause = share.frozen ? .frozen
            : range == .beyond ? (aboveAll ? .newHigh : .newLow) : share.largest
        return ScoreOutput(score: score, lower: lower, upper: upper, cause: cause)
    }

    /// The central band of the remembered values that holds all but 10^-bandSurprise of them (nil while empty).
    private func valueBand() -> (lower: Double, upper: Double)? {
        guard let lo = values.quantile(pow(10, -config.bandSurprise) / 2),
              let hi = values.quantile(1 - pow(10, -config.bandSurprise) / 2) else { return nil }
        return (lo, hi)
    }

    /// Whether the series has had its first day (`minHistorySpan`) or brought a whole history of points.
    func warmedUp(at timestamp: Double) -> Bool {
        config.minHistorySpan <= 0 || points > config.history || timestamp - firstTimestamp >= config.minHistorySpan
    }

    /// The residual history of the calibrated stage (an unused one for the others).
    var residuals: Calibrator { histories.residuals }
    /// The Gaussian calibration of the calibrated and gaussian stages (an unused one for the others).
    var gaussian: GaussianCalibration { histories.gaussian }

    /// The scorer's state (history, statistics) as bytes, for checkpoints.
    public func checkpoint() -> [UInt8] {
        var w = ByteWriter()
        w.u8(Self.checkpointVersion)
        w.u8(stage.checkpointTag)
        w.int(points)
        w.double(stage.residualBand)
        values.encode(into: &w)
        if config.kind == .calibrated { histories.residuals.encode(into: &w) }
        if config.driftSpan > 0 { drift.encode(into: &w); w.double(driftLevel) }
        if config.changeWeight > 0 { changes.encode(into: &w); w.double(previousValue) }
        if config.selfWeight > 0 { selfScores.encode(into: &w) }
        if config.contextWeight > 0 { context.encode(into: &w) }
        if config.usesGaussianCalibration { histories.gaussian.encode(into: &w) }
        spread.encode(into: &w)
        onset.encode(into: &w)
        frozen.encode(into: &w)
        stage.encodeTail(into: &w)
        if config.tracksCadence { cadence.encode(into: &w) }
        if config.valueDelay > 0 { delayed.encode(into: &w) }
        w.bool(previousAtEdge)
        w.double(frozen.fired); w.double(frozen.runQ01); w.double(frozen.runQ11)
        onset.encodeOnsets(into: &w)
        w.double(firstTimestamp)
        if config.shiftWeight > 0 { shift.encode(into: &w) }
        frozen.encodeHours(into: &w)
        return w.bytes
    }

    /// Restores a scorer from `checkpoint()` bytes written with the same config kind (this version or an older one).
    public init(config: ScoringConfig, checkpoint: [UInt8]) throws(ScorerRestoreError) {
        self.init(config: config)
        var r = ByteReader(checkpoint)
        let version = try r.u8()
        guard (1...Self.checkpointVersion).contains(version) else {
            throw ScorerRestoreError("scorer checkpoint has format version \(version), this build reads version \(Self.checkpointVersion); the series will recalibrate")
        }
        let tag = try r.u8()
        guard tag == stage.checkpointTag else {
            throw ScorerRestoreError("scorer checkpoint was written by another scoring stage than '\(config.kind.rawValue)'; the series will recalibrate")
        }
        points = try r.int()
        let band = try r.double()
        try values.decode(from: &r)
        stage.restore(residualBand: band)
        if config.kind == .calibrated { try histories.residuals.decode(from: &r) }
        if config.driftSpan > 0 { try drift.decode(from: &r); driftLevel = try r.double() }
        if config.changeWeight > 0 { try changes.decode(from: &r); previousValue = try r.double() }
        if config.selfWeight > 0 && version >= 2 { try selfScores.decode(from: &r) }
        if config.contextWeight > 0 && version >= 3 { try context.decode(from: &r) }
        if version >= 4 && config.usesGaussianCalibration { try histories.gaussian.decode(from: &r) }
        try spread.decode(from: &r)
        try onset.decode(from: &r)
        try frozen.decode(from: &r)
        try stage.decodeTail(from: &r)
        // Versions 5-11 held the cadence only with the daily rate (the shift term came in version 12).
        if config.tracksCadence && (config.dailyRate || version >= 12) && version >= 5 { try cadence.decode(from: &r) }
        if config.valueDelay > 0 && version >= 5 { try delayed.decode(from: &r) }
        if version >= 7 { previousAtEdge = try r.bool() }
        if version >= 8 {
            let fired = try r.double(), q01 = try r.double(), q11 = try r.double()
            guard fired.isFinite && fired >= 0, q01 > 0 && q01 <= 1, q11 > 0 && q11 <= 1 else {
                throw ScorerRestoreError("scorer checkpoint has an inconsistent frozen run (surprise \(fired), q01 \(q01), q11 \(q11)); the series will recalibrate")
            }
            frozen.fired = fired; frozen.runQ01 = q01; frozen.runQ11 = q11
        }
        if version >= 10 { try onset.decodeOnsets(from: &r) }
        if version >= 11 {
            firstTimestamp = try r.double()
            guard !firstTimestamp.isInfinite || firstTimestamp < 0 else {
                throw ScorerRestoreError("scorer checkpoint has a first point at \(firstTimestamp); the series will recalibrate")
            }
        } else if points > 0 {
            firstTimestamp = -.infinity
        }
        if version >= 12 && config.shiftWeight > 0 { try shift.decode(from: &r) }
        if version >= 13 { try frozen.decodeHours(from: &r) }
        guard r.isAtEnd else {
            throw ScorerRestoreError("scorer checkpoint has \(r.remaining) unexpected trailing bytes; the series will recalibrate")
        }
    }
}

/// The shares of a point's combined surprise by term, before the daily rate and the onset rule (which scale all of
/// them alike), and whether a frozen run's surprise replaced them.
struct CauseShares {
    var rareValue: Double
    var hour = 0.0
    var prediction = 0.0
    var jump = 0.0
    var frozen = false

    /// The term with the largest share (ties: the prediction, then the step, the hour, the value).
    var largest: AnomalyCause {
        var cause = AnomalyCause.prediction, best = prediction
        if jump > best { cause = .jump; best = jump }
        if hour > best { cause = .hour; best = hour }
        if rareValue > best { cause = .rareValue }
        return cause
    }
}
