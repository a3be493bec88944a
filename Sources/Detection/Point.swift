/// One observation of one series, as ingest hands it to detection.
public struct Point: Sendable, Equatable {
    /// The series key (graphite path, influx measurement+tags+field, …), at most 1024 bytes of UTF-8.
    public var key: String
    /// Seconds since the Unix epoch.
    public var timestamp: Double
    public var value: Double
    /// A dense id for `key` given by the ingest thread's key table (`noSeriesID` when none was given): a cache
    /// of the key for routing and shard lookups, not part of the point's identity (`==` ignores it).
    public var seriesID: UInt32

    /// The `seriesID` of a point whose key was not interned.
    public static let noSeriesID = UInt32.max

    public init(key: String, timestamp: Double, value: Double, seriesID: UInt32 = Point.noSeriesID) {
        self.key = key
        self.timestamp = timestamp
        self.value = value
        self.seriesID = seriesID
    }

    public static func == (a: Point, b: Point) -> Bool {
        a.key == b.key && a.timestamp == b.timestamp && a.value == b.value
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

/// An episode transition, as the detector reports it; the writer stores it and publishes it as an alert.
public struct EpisodeEvent: Sendable, Equatable {
    public var kind: EpisodeEventKind
    public var series: String
    /// Per-series sequence number of the episode (1, 2, …); the store maps it to a database id.
    public var episode: Int
    /// Timestamp of the point that caused the event.
    public var timestamp: Double
    public var openedAt: Double
    /// Set on `.close`.
    public var closedAt: Double?
    /// Peak of the episode so far: when, score, value, prediction and expected band at the peak.
    public var peakAt: Double
    public var peakScore: Double
    public var value: Double
    public var predicted: Double
    public var lower: Double
    public var upper: Double
    /// Score of the point that caused the event (equals the peak on open/update).
    public var score: Double
    public var threshold: Double
    /// Points in the episode so far.
    public var points: Int
    public var modelVersion: Int
    /// Why a close happened when it was not `close_after` normal points (e.g. "restart").
    public var reason: String?

    public init(kind: EpisodeEventKind, series: String, episode: Int, timestamp: Double, openedAt: Double,
                closedAt: Double? = nil, peakAt: Double, peakScore: Double, value: Double, predicted: Double,
                lower: Double, upper: Double, score: Double, threshold: Double, points: Int, modelVersion: Int,
                reason: String? = nil) {
        self.kind = kind
        self.series = series
        self.episode = episode
        self.timestamp = timestamp
        self.openedAt = openedAt
        self.closedAt = closedAt
        self.peakAt = peakAt
        self.peakScore = peakScore
        self.value = value
        self.predicted = predicted
        self.lower = lower
        self.upper = upper
        self.score = score
        self.threshold = threshold
        self.points = points
        self.modelVersion = modelVersion
        self.reason = reason
    }
}

/// Whether a series' model has been trained yet.
public enum SeriesModelState: String, Sendable, Codable {
    /// Collecting points before the first training; only value-level evidence may score.
    case learning
    /// Predicting with a trained model.
    case trained
}
