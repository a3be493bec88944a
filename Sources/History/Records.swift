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
    /// Points the series refused since the previous update (deltas, added to the stored totals): not newer than
    /// its last point, and too far ahead of their receive time.
    public var refusedOutOfOrder = 0
    public var refusedFuture = 0

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
    /// Only episodes with (or without) this kind of label.
    public var label: LabelFilter?
    /// Order by hindsight score, highest first (episodes not reviewed last), instead of newest first.
    public var byHindsight: Bool
    /// Only episodes whose peak has one of these causes (nil: any, including none).
    public var causes: Set<AnomalyCause>?

    public init(seriesGlob: String? = nil, since: Double? = nil, until: Double? = nil, minScore: Double? = nil,
                openOnly: Bool = false, limit: Int = 100, label: LabelFilter? = nil, byHindsight: Bool = false,
                causes: Set<AnomalyCause>? = nil) {
        self.seriesGlob = seriesGlob
        self.since = since
        self.until = until
        self.minScore = minScore
        self.openOnly = openOnly
        self.limit = limit
        self.label = label
        self.byHindsight = byHindsight
        self.causes = causes
    }
}

/// One anomaly episode as stored: the episode and its database row id. Reads and writes of the episode's fields
/// go through to `episode` (`record.series`, `record.closeReason`).
@dynamicMemberLookup
public struct AnomalyRecord: Sendable, Equatable, Codable {
    /// Database row id, the `id` the alerts carry.
    public var id: Int64
    /// The episode; `closedAt` is nil while it is open; value, prediction and band are NaN when the detector
    /// reported none.
    public var episode: Episode
    /// What an operator said about the episode (`omen label`), nil when unlabelled.
    public var label: LabelKind?
    /// The hindsight review's score of the closed episode (nil while open or not reviewed yet).
    public var hindsightScore: Double?

    public init(id: Int64, episode: Episode, label: LabelKind? = nil, hindsightScore: Double? = nil) {
        self.id = id
        self.episode = episode
        self.label = label
        self.hindsightScore = hindsightScore
    }

    public subscript<T>(dynamicMember path: WritableKeyPath<Episode, T>) -> T {
        get { episode[keyPath: path] }
        set { episode[keyPath: path] = newValue }
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
        case label
        case hindsightScore = "hindsight_score"
        case cause
    }

    // Written out so that open episodes carry `"closed_at": null` rather than no key, and NaN/inf become null
    // instead of failing the whole encode.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id)
        try c.encode(episode.series, forKey: .series)
        try c.encode(episode.number, forKey: .episode)
        try c.encode(episode.openedAt.finiteOrNil, forKey: .openedAt)
        try c.encode(episode.closedAt?.finiteOrNil, forKey: .closedAt)
        try c.encode(episode.peakAt.finiteOrNil, forKey: .peakAt)
        try c.encode(episode.peakScore.finiteOrNil, forKey: .peakScore)
        try c.encode(episode.value.finiteOrNil, forKey: .value)
        try c.encode(episode.predicted.finiteOrNil, forKey: .predicted)
        try c.encode(episode.lower.finiteOrNil, forKey: .lower)
        try c.encode(episode.upper.finiteOrNil, forKey: .upper)
        try c.encode(episode.threshold.finiteOrNil, forKey: .threshold)
        try c.encode(episode.points, forKey: .points)
        try c.encode(episode.modelVersion, forKey: .modelVersion)
        try c.encode(episode.closeReason, forKey: .closeReason)
        try c.encode(label, forKey: .label)
        try c.encode(hindsightScore?.finiteOrNil, forKey: .hindsightScore)
        try c.encode(episode.cause, forKey: .cause)
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        func number(_ key: CodingKeys) throws -> Double { try c.decodeIfPresent(Double.self, forKey: key) ?? .nan }
        id = try c.decode(Int64.self, forKey: .id)
        episode = Episode(
            series: try c.decode(String.self, forKey: .series), number: try c.decode(Int.self, forKey: .episode),
            openedAt: try number(.openedAt), closedAt: try c.decodeIfPresent(Double.self, forKey: .closedAt),
            peakAt: try number(.peakAt), peakScore: try number(.peakScore), value: try number(.value),
            predicted: try number(.predicted), lower: try number(.lower), upper: try number(.upper),
            threshold: try number(.threshold), points: try c.decode(Int.self, forKey: .points),
            modelVersion: try c.decode(Int.self, forKey: .modelVersion),
            closeReason: try c.decodeIfPresent(String.self, forKey: .closeReason),
            cause: (try c.decodeIfPresent(String.self, forKey: .cause)).flatMap(AnomalyCause.init(rawValue:)))
        label = try c.decodeIfPresent(LabelKind.self, forKey: .label)
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
    /// Points refused by the series since it was first stored: not newer than its last point, and stamped more
    /// than `[clock] max_future` after they arrived.
    public var refusedOutOfOrder: Int
    public var refusedFuture: Int

    public init(series: String, firstSeen: Double, lastSeen: Double, points: Int, state: SeriesModelState,
                modelVersion: Int, lastScore: Double?, lastRetrain: Double?, refusedOutOfOrder: Int = 0,
                refusedFuture: Int = 0) {
        self.refusedOutOfOrder = refusedOutOfOrder
        self.refusedFuture = refusedFuture
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
        case refusedOutOfOrder = "refused_out_of_order"
        case refusedFuture = "refused_future"
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
        try c.encode(refusedOutOfOrder, forKey: .refusedOutOfOrder)
        try c.encode(refusedFuture, forKey: .refusedFuture)
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
        refusedOutOfOrder = try c.decodeIfPresent(Int.self, forKey: .refusedOutOfOrder) ?? 0
        refusedFuture = try c.decodeIfPresent(Int.self, forKey: .refusedFuture) ?? 0
    }
}

extension Double {
    /// JSON has no NaN or infinity; they are written as null.
    var finiteOrNil: Double? { isFinite ? self : nil }
}
