import Detection

/// Everything the writer stores in one transaction: episode events, series summaries and model checkpoints.
public struct WriteBatch: Sendable {
    public var events: [EpisodeEvent]
    public var series: [SeriesUpdate]
    public var checkpoints: [ModelCheckpoint]
    /// Hindsight scores of closed episodes, written after the events.
    public var hindsight: [HindsightVerdict]

    public init(events: [EpisodeEvent] = [], series: [SeriesUpdate] = [], checkpoints: [ModelCheckpoint] = [],
                hindsight: [HindsightVerdict] = []) {
        self.events = events
        self.series = series
        self.checkpoints = checkpoints
        self.hindsight = hindsight
    }

    public var isEmpty: Bool { events.isEmpty && series.isEmpty && checkpoints.isEmpty && hindsight.isEmpty }
}

/// The latest summary of one series, upserted by key into the `series` table.
public struct SeriesUpdate: Sendable, Equatable {
    public var key: String
    /// Timestamp of the first point; an existing row keeps the earlier of the two.
    public var firstSeen: Double
    /// Timestamp of the latest point.
    public var lastSeen: Double
    /// Points seen since the series appeared (a running total, not a delta).
    public var points: Int
    public var state: SeriesModelState
    public var modelVersion: Int
    /// Anomaly score of the latest point, nil while the series cannot score yet.
    public var lastScore: Double?
    /// When the model was last retrained; nil keeps the stored value.
    public var lastRetrain: Double?

    public init(key: String, firstSeen: Double, lastSeen: Double, points: Int, state: SeriesModelState,
                modelVersion: Int, lastScore: Double? = nil, lastRetrain: Double? = nil) {
        self.key = key
        self.firstSeen = firstSeen
        self.lastSeen = lastSeen
        self.points = points
        self.state = state
        self.modelVersion = modelVersion
        self.lastScore = lastScore
        self.lastRetrain = lastRetrain
    }
}

/// One series' saved detector, stored whole as opaque bytes so the store need not know its layout.
public struct ModelCheckpoint: Sendable, Equatable {
    public var key: String
    /// Recurrent cell kind ("lstm", "gru", "rnn").
    public var cell: String
    public var inputSize: Int
    public var hiddenSize: Int
    public var version: Int
    public var trainedAt: Double?
    public var trainLoss: Double?
    public var validationLoss: Double?
    /// The detector's whole checkpoint (weights, recurrent state, normaliser, window, episode state).
    public var blob: [UInt8]

    public init(key: String, cell: String, inputSize: Int, hiddenSize: Int, version: Int, trainedAt: Double? = nil,
                trainLoss: Double? = nil, validationLoss: Double? = nil, blob: [UInt8]) {
        self.key = key
        self.cell = cell
        self.inputSize = inputSize
        self.hiddenSize = hiddenSize
        self.version = version
        self.trainedAt = trainedAt
        self.trainLoss = trainLoss
        self.validationLoss = validationLoss
        self.blob = blob
    }
}

/// Filters for `Store.anomalies(_:)`; every filter left nil matches everything.
public struct AnomalyQuery: Sendable, Equatable {
    /// SQLite GLOB on the series key (`*`, `?`, `[...]`; case-sensitive).
    public var seriesGlob: String?
    /// Episodes still open at or after this time (closed at or after it, or not closed yet).
    public var since: Double?
    /// Episodes opened at or before this time.
    public var until: Double?
    /// Episodes whose peak score is at least this.
    public var minScore: Double?
    /// Only episodes that are not closed yet.
    public var openOnly: Bool
    /// At most this many rows, newest first; 0 or less means no limit.
    public var limit: Int
    /// Order by hindsight score, highest first (episodes not reviewed last), instead of newest first.
    public var byHindsight: Bool

    public init(seriesGlob: String? = nil, since: Double? = nil, until: Double? = nil, minScore: Double? = nil,
                openOnly: Bool = false, limit: Int = 100, byHindsight: Bool = false) {
        self.seriesGlob = seriesGlob
        self.since = since
        self.until = until
        self.minScore = minScore
        self.openOnly = openOnly
        self.limit = limit
        self.byHindsight = byHindsight
    }
}

/// One anomaly episode as stored: where it opened, its peak, and how it ended.
public struct AnomalyRecord: Sendable, Equatable, Codable {
    /// Database row id, the `id` the alerts carry.
    public var id: Int64
    public var series: String
    public var episode: Int
    public var openedAt: Double
    /// Nil while the episode is open.
    public var closedAt: Double?
    public var peakAt: Double
    public var peakScore: Double
    /// Value, prediction and expected band at the peak (NaN when the detector reported none).
    public var value: Double
    public var predicted: Double
    public var lower: Double
    public var upper: Double
    public var threshold: Double
    public var points: Int
    public var modelVersion: Int
    public var closeReason: String?
    /// The hindsight review's score of the closed episode (nil while open or not reviewed yet).
    public var hindsightScore: Double?

    public init(id: Int64, series: String, episode: Int, openedAt: Double, closedAt: Double?, peakAt: Double,
                peakScore: Double, value: Double, predicted: Double, lower: Double, upper: Double, threshold: Double,
                points: Int, modelVersion: Int, closeReason: String?, hindsightScore: Double? = nil) {
        self.id = id
        self.series = series
        self.episode = episode
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
        self.hindsightScore = hindsightScore
    }

    enum CodingKeys: String, CodingKey {
        case id, series, episode
        case openedAt = "opened_at"
        case closedAt = "closed_at"
        case peakAt = "peak_at"
        case peakScore = "peak_score"
        case value, predicted, lower, upper, threshold, points
        case modelVersion = "model_version"
        case closeReason = "close_reason"
        case hindsightScore = "hindsight_score"
    }

    // Written out so that open episodes carry `"closed_at": null` rather than no key, and NaN/inf become null
    // instead of failing the whole encode.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id)
        try c.encode(series, forKey: .series)
        try c.encode(episode, forKey: .episode)
        try c.encode(openedAt.finiteOrNil, forKey: .openedAt)
        try c.encode(closedAt?.finiteOrNil, forKey: .closedAt)
        try c.encode(peakAt.finiteOrNil, forKey: .peakAt)
        try c.encode(peakScore.finiteOrNil, forKey: .peakScore)
        try c.encode(value.finiteOrNil, forKey: .value)
        try c.encode(predicted.finiteOrNil, forKey: .predicted)
        try c.encode(lower.finiteOrNil, forKey: .lower)
        try c.encode(upper.finiteOrNil, forKey: .upper)
        try c.encode(threshold.finiteOrNil, forKey: .threshold)
        try c.encode(points, forKey: .points)
        try c.encode(modelVersion, forKey: .modelVersion)
        try c.encode(closeReason, forKey: .closeReason)
        try c.encode(hindsightScore?.finiteOrNil, forKey: .hindsightScore)
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        id = try c.decode(Int64.self, forKey: .id)
        series = try c.decode(String.self, forKey: .series)
        episode = try c.decode(Int.self, forKey: .episode)
        openedAt = try c.decodeIfPresent(Double.self, forKey: .openedAt) ?? .nan
        closedAt = try c.decodeIfPresent(Double.self, forKey: .closedAt)
        peakAt = try c.decodeIfPresent(Double.self, forKey: .peakAt) ?? .nan
        peakScore = try c.decodeIfPresent(Double.self, forKey: .peakScore) ?? .nan
        value = try c.decodeIfPresent(Double.self, forKey: .value) ?? .nan
        predicted = try c.decodeIfPresent(Double.self, forKey: .predicted) ?? .nan
        lower = try c.decodeIfPresent(Double.self, forKey: .lower) ?? .nan
        upper = try c.decodeIfPresent(Double.self, forKey: .upper) ?? .nan
        threshold = try c.decodeIfPresent(Double.self, forKey: .threshold) ?? .nan
        points = try c.decode(Int.self, forKey: .points)
        modelVersion = try c.decode(Int.self, forKey: .modelVersion)
        closeReason = try c.decodeIfPresent(String.self, forKey: .closeReason)
        hindsightScore = try c.decodeIfPresent(Double.self, forKey: .hindsightScore)
    }
}

/// One series as `omen series` shows it.
public struct SeriesRecord: Sendable, Equatable, Codable {
    /// The series key.
    public var series: String
    public var firstSeen: Double
    public var lastSeen: Double
    public var points: Int
    public var state: SeriesModelState
    public var modelVersion: Int
    public var lastScore: Double?
    public var lastRetrain: Double?

    public init(series: String, firstSeen: Double, lastSeen: Double, points: Int, state: SeriesModelState,
                modelVersion: Int, lastScore: Double?, lastRetrain: Double?) {
        self.series = series
        self.firstSeen = firstSeen
        self.lastSeen = lastSeen
        self.points = points
        self.state = state
        self.modelVersion = modelVersion
        self.lastScore = lastScore
        self.lastRetrain = lastRetrain
    }

    enum CodingKeys: String, CodingKey {
        case series
        case firstSeen = "first_seen"
        case lastSeen = "last_seen"
        case points, state
        case modelVersion = "model_version"
        case lastScore = "last_score"
        case lastRetrain = "last_retrain"
    }

    // Written out so that missing scores and retrains are `null` rather than absent keys.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(series, forKey: .series)
        try c.encode(firstSeen.finiteOrNil, forKey: .firstSeen)
        try c.encode(lastSeen.finiteOrNil, forKey: .lastSeen)
        try c.encode(points, forKey: .points)
        try c.encode(state, forKey: .state)
        try c.encode(modelVersion, forKey: .modelVersion)
        try c.encode(lastScore?.finiteOrNil, forKey: .lastScore)
        try c.encode(lastRetrain?.finiteOrNil, forKey: .lastRetrain)
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        series = try c.decode(String.self, forKey: .series)
        firstSeen = try c.decodeIfPresent(Double.self, forKey: .firstSeen) ?? .nan
        lastSeen = try c.decodeIfPresent(Double.self, forKey: .lastSeen) ?? .nan
        points = try c.decode(Int.self, forKey: .points)
        state = try c.decode(SeriesModelState.self, forKey: .state)
        modelVersion = try c.decode(Int.self, forKey: .modelVersion)
        lastScore = try c.decodeIfPresent(Double.self, forKey: .lastScore)
        lastRetrain = try c.decodeIfPresent(Double.self, forKey: .lastRetrain)
    }
}

extension Double {
    /// JSON has no NaN or infinity; they are written as null.
    var finiteOrNil: Double? { isFinite ? self : nil }
}
