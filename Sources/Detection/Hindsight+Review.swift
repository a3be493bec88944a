import Recurrent

/// The hindsight score of one closed episode: how unexplainable its points are from both sides.
public struct HindsightVerdict: Sendable, Equatable {
    public var series: String
    public var episode: Int
    /// In [0, 1], on the detector's score scale (see `Hindsight.score`).
    public var score: Double

    public init(series: String, episode: Int, score: Double) {
        self.series = series
        self.episode = episode
        self.score = score
    }
}

/// A snapshot of one series' window taken when an episode closed, reviewed on any thread (pure, deterministic):
/// a bidirectional model is fitted on the window, and the episode's score is its most surprising point's
/// two-sided score. A deviation the series then kept (a new level) is explained by the points after it and
/// scores low; one the series came back from scores high. It never changes an alert already sent.
public struct HindsightReviewJob: Sendable {
    public let series: String
    public let episode: Int
    /// The episode's first and last timestamps (the close point included).
    public let openedAt: Double
    public let closedAt: Double
    public let values: [Double]
    public let timestamps: [Double]
    public let cell: CellKind
    public let calendar: CalendarFeatures
    public let seed: UInt64

    public init(series: String, episode: Int, openedAt: Double, closedAt: Double, values: [Double],
                timestamps: [Double], cell: CellKind, calendar: CalendarFeatures, seed: UInt64) {
        self.series = series
        self.episode = episode
        self.openedAt = openedAt
        self.closedAt = closedAt
        self.values = values
        self.timestamps = timestamps
        self.cell = cell
        self.calendar = calendar
        self.seed = seed
    }

    public func run() -> HindsightVerdict {
        let first = timestamps.firstIndex { $0 >= openedAt } ?? timestamps.count
        let last = timestamps.lastIndex { $0 <= closedAt } ?? -1
        guard first <= last else { return HindsightVerdict(series: series, episode: episode, score: 0) }
        // The episode is left out of the fit: the model learns the series' normal behaviour around it.
        let review = Hindsight.review(values: values, timestamps: timestamps, normaliser: Normaliser.fit(values),
                                      calendar: Features.calendarApplies(calendar, timestamps: timestamps),
                                      cell: cell, seed: seed, excluded: first..<(last + 1))
        return HindsightVerdict(series: series, episode: episode, score: review.score(of: first..<(last + 1)))
    }
}

extension SeriesDetector {
    /// A review of the episode `event` closed (an event of kind `.close` from this detector), over the current
    /// window; nil for any other event.
    public func makeReviewJob(for event: EpisodeEvent) -> HindsightReviewJob? {
        guard event.kind == .close, let closedAt = event.closedAt else { return nil }
        return makeReviewJob(episode: event.number, openedAt: event.openedAt, closedAt: closedAt)
    }

    /// A review of episode `episode` spanning [openedAt, closedAt], over the current window (replay also uses it
    /// for an episode still open when its file ends).
    public func makeReviewJob(episode: Int, openedAt: Double, closedAt: Double) -> HindsightReviewJob {
        let points = window.arrays()
        return HindsightReviewJob(
            series: key, episode: episode, openedAt: openedAt, closedAt: closedAt,
            values: points.values, timestamps: points.timestamps, cell: config.model.cell,
            calendar: config.model.calendar,
            seed: Self.seed(key: key, base: config.model.seed, version: episode) ^ 0x7265_7669_6577)
    }
}
