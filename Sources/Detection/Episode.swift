/// One anomaly episode of one series as it stands: when it opened (and closed), its peak, how many points.
///
/// The one definition of an episode: the detector's `EpisodeEvent` carries it, the store's `AnomalyRecord` and
/// the published `Alert` wrap it, so a field added here reaches all three.
public struct Episode: Sendable, Equatable {
    /// The series key.
    public var series: String
    /// Per-series sequence number (1, 2, …); the store maps it to a database id.
    public var number: Int
    public var openedAt: Double
    /// Set once the episode closed.
    public var closedAt: Double?
    /// Peak so far: when, its score, and the value, prediction and expected band at the peak (NaN when unknown).
    public var peakAt: Double
    public var peakScore: Double
    public var value: Double
    public var predicted: Double
    public var lower: Double
    public var upper: Double
    /// The alerting threshold in force when the episode opened.
    public var threshold: Double
    /// Points in the episode so far.
    public var points: Int
    /// Version of the model that predicted the peak.
    public var modelVersion: Int
    /// Why it closed when it was not `close_after` normal points (e.g. "restart").
    public var closeReason: String?

    public init(series: String, number: Int, openedAt: Double, closedAt: Double? = nil, peakAt: Double,
                peakScore: Double, value: Double, predicted: Double, lower: Double, upper: Double, threshold: Double,
                points: Int, modelVersion: Int, closeReason: String? = nil) {
        self.series = series
        self.number = number
        self.openedAt = openedAt
        self.closedAt = closedAt
        self.peakAt = peakAt
        self.peakScore = peakScore
        self.value = value
        self.predicted = predicted
        self.lower = lower
        self.upper = upper
        self.threshold = threshold
        self.points = points
        self.modelVersion = modelVersion
        self.closeReason = closeReason
    }

    /// Equal field by field, counting NaN equal to NaN (non-finite numbers travel as JSON null and come back NaN).
    public func matches(_ o: Episode) -> Bool {
        func same(_ a: Double, _ b: Double) -> Bool { a == b || (a.isNaN && b.isNaN) }
        let closed = closedAt.map { c in o.closedAt.map { same(c, $0) } ?? false } ?? (o.closedAt == nil)
        return series == o.series && number == o.number && same(openedAt, o.openedAt) && closed
            && same(peakAt, o.peakAt) && same(peakScore, o.peakScore) && same(value, o.value)
            && same(predicted, o.predicted) && same(lower, o.lower) && same(upper, o.upper)
            && same(threshold, o.threshold) && points == o.points && modelVersion == o.modelVersion
            && closeReason == o.closeReason
    }
}

/// What happened to an anomaly episode at one point.
public enum EpisodeEventKind: String, Sendable, Codable, CaseIterable {
    /// The score crossed the threshold: a new episode.
    case open
    /// The episode is still open and reached a new peak score.
    case update
    /// `close_after` normal points in a row ended the episode.
    case close
}

/// An episode transition, as the detector reports it: the point that caused it and the episode after it. The
/// writer stores it and publishes it as an alert. Reads and writes of the episode's fields go through to
/// `episode` (`event.series`, `event.peakScore`).
@dynamicMemberLookup
public struct EpisodeEvent: Sendable, Equatable {
    public var kind: EpisodeEventKind
    /// Timestamp of the point that caused the event.
    public var timestamp: Double
    /// Score of the point that caused the event (equals the peak on open and update).
    public var score: Double
    /// The episode as it stands after the event.
    public var episode: Episode

    public init(kind: EpisodeEventKind, timestamp: Double, score: Double, episode: Episode) {
        self.kind = kind
        self.timestamp = timestamp
        self.score = score
        self.episode = episode
    }

    @inlinable
    public subscript<T>(dynamicMember path: WritableKeyPath<Episode, T>) -> T {
        get { episode[keyPath: path] }
        set { episode[keyPath: path] = newValue }
    }

    /// Equal, counting NaN equal to NaN.
    public func matches(_ other: EpisodeEvent) -> Bool {
        kind == other.kind && (timestamp == other.timestamp || timestamp.isNaN && other.timestamp.isNaN)
            && (score == other.score || score.isNaN && other.score.isNaN) && episode.matches(other.episode)
    }
}
