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

/// Whether a series' model has been trained yet.
public enum SeriesModelState: String, Sendable, Codable {
    /// Collecting points before the first training; only value-level evidence may score.
    case learning
    /// Predicting with a trained model.
    case trained
}
