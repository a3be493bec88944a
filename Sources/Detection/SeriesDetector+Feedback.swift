#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// Operator feedback, applied AFTER the scorer: the scorer's score is left as it is, and this layer only
// discounts a point that deviates from its prediction like an episode the operator labelled "not an anomaly".
//
// A label teaches the series the labelled episode's peak residual r = value - prediction (signed, in the series'
// units). A later point is "like" it when its own residual has the same sign and a size of at most
// |r| × (1 + tolerance); such a point keeps only (1 - w) of its score, where w is the label's weight, 1 when it
// was labelled and halving every `halfLife` of the series' own time (point timestamps), so an old label fades
// unless the pattern is labelled again. A point that deviates further, or the other way, keeps its full score:
// a label never silences a series, it only moves its notion of normal.
//
// Residuals, not surprises: a surprise (-log10 p) is relative to the history at the time, and the first
// occurrence of a pattern is its most surprising one (later ones are ranked against it), so a labelled first
// spike's surprise would excuse a much larger later spike. The residual is what the operator saw in the plot.

/// How operator labels change a series' scores.
public struct FeedbackConfig: Sendable, Equatable {
    /// A point is like a labelled episode when its residual has the same sign and is at most the episode's peak
    /// residual × (1 + tolerance). Default 0.25.
    public var tolerance: Double = 0.25
    /// Seconds of series time after which a label's weight has halved. 0 = never fades. Default 30 days.
    public var halfLife: Double = 30 * 86_400

    public init() {}
}

/// The labelled residuals of one series: one entry per episode labelled not-anomaly.
public struct SeriesFeedback: Sendable, Equatable {
    /// One labelled episode: its id, its peak residual (value - prediction) and when the peak was (series time).
    public struct Entry: Sendable, Equatable {
        public var anomalyID: Int64
        public var residual: Double
        public var peakAt: Double
    }

    /// At most this many labels count per series (the newest).
    public static let capacity = 16

    public private(set) var entries: [Entry] = []

    public init() {}

    public var isEmpty: Bool { entries.isEmpty }

    /// Adds or replaces the entry of `anomalyID`: a labelled episode whose peak residual was `residual` at `peakAt`.
    public mutating func learn(anomalyID: Int64, residual: Double, peakAt: Double) {
        guard residual.isFinite, residual != 0, peakAt.isFinite else { return }
        entries.removeAll { $0.anomalyID == anomalyID }
        entries.append(Entry(anomalyID: anomalyID, residual: residual, peakAt: peakAt))
        if entries.count > Self.capacity { entries.removeFirst(entries.count - Self.capacity) }
    }

    /// Removes the entry of `anomalyID` (relabelled as confirmed); true if there was one.
    @discardableResult
    public mutating func forget(_ anomalyID: Int64) -> Bool {
        let before = entries.count
        entries.removeAll { $0.anomalyID == anomalyID }
        return entries.count != before
    }

    /// The weight in [0, 1] of the strongest label that residual `r` at series time `t` is like (0: none).
    public func weight(residual r: Double, at t: Double, config: FeedbackConfig) -> Double {
        var best = 0.0
        for e in entries where (e.residual > 0) == (r > 0) && abs(r) <= abs(e.residual) * (1 + config.tolerance) {
            let age = Swift.max(0, t - e.peakAt)
            best = Swift.max(best, config.halfLife > 0 ? exp2(-age / config.halfLife) : 1)
        }
        return best
    }

    /// `score` after the feedback: (1 - weight) of it when the residual is like a labelled one, unchanged otherwise
    /// (also when there is no prediction to take a residual from).
    public func adjust(score: Double, residual r: Double?, at t: Double, config: FeedbackConfig) -> Double {
        guard !entries.isEmpty, let r, r.isFinite, r != 0 else { return score }
        return score * (1 - weight(residual: r, at: t, config: config))
    }
}

extension SeriesDetector {
    /// Learns that the episode `anomalyID`, whose peak at `peakAt` had `value` against a prediction of
    /// `predicted`, was not an anomaly: later points that deviate like it are discounted. Labelling the same
    /// episode again replaces its entry; a peak without a finite residual teaches nothing.
    public func learnNotAnomaly(anomalyID: Int64, value: Double, predicted: Double, peakAt: Double) {
        feedback.learn(anomalyID: anomalyID, residual: value - predicted, peakAt: peakAt)
    }

    /// Drops what a not-anomaly label of `anomalyID` taught (it was relabelled as confirmed).
    public func forgetLabel(anomalyID: Int64) {
        feedback.forget(anomalyID)
    }

    /// The score the episode machine sees: the scorer's, after the operator feedback.
    @inline(__always)
    func scoreAfterFeedback(_ score: Double, value: Double, predicted: Double?, at timestamp: Double) -> Double {
        if feedback.isEmpty { return score }
        return feedback.adjust(score: score, residual: predicted.map { value - $0 }, at: timestamp,
                               config: config.feedback)
    }

    /// Mutes or unmutes the series. A muted series opens no episode and its points get loss weight 0 in
    /// training (as points inside episodes); it is still scored, so `omen series` shows its score. An episode
    /// open when the mute starts is closed with reason "muted"; that close is returned for the caller to store.
    public func setMuted(_ muted: Bool) -> EpisodeEvent? {
        guard muted != isMuted else { return nil }
        isMuted = muted
        guard muted, lastTimestamp.isFinite else { return nil }
        var event = episodes.forceClose(timestamp: lastTimestamp, reason: "muted")
        event?.series = key
        return event
    }
}
