/// Which evidence made a point anomalous, as an operator reads it: the term that carried most of its surprise.
/// Stored with the episode (its peak's cause) and published in alerts as `cause`.
public enum AnomalyCause: String, Sendable, Codable, CaseIterable {
    /// Far from the model's one-step prediction (the residual and the Gaussian head).
    case prediction
    /// A sudden step from the previous value (the step-change term).
    case jump
    /// A value rare for this series overall, though inside its range.
    case rareValue = "rare-value"
    /// A value unusual for its time of day (the time-of-day term).
    case hour
    /// Above every value the series remembers.
    case newHigh = "new-high"
    /// Below every value the series remembers.
    case newLow = "new-low"
    /// The same value repeated for longer than any earlier run of the series (a frozen sensor or a stuck feed).
    case frozen
}

extension AnomalyCause {
    /// Every cause's name, comma-separated (help texts and errors).
    public static var names: String { allCases.map(\.rawValue).joined(separator: ", ") }

    /// What the cause means, for people (`omen show`).
    public var explanation: String {
        switch self {
        case .prediction: "far from the model's prediction"
        case .jump: "a sudden step from the previous value"
        case .rareValue: "a value rare for this series, inside its range"
        case .hour: "a value unusual for its time of day"
        case .newHigh: "above every value the series remembers"
        case .newLow: "below every value the series remembers"
        case .frozen: "the same value repeated longer than any earlier run (a frozen sensor or stuck feed)"
        }
    }

    /// The causes named by `--cause` arguments (each one name, or several separated by commas); nil when none
    /// was given. An unknown name is an error that lists the known ones.
    public static func parseArguments(_ arguments: [String]) throws(CauseArgumentError) -> Set<AnomalyCause>? {
        guard !arguments.isEmpty else { return nil }
        var causes: Set<AnomalyCause> = []
        for name in arguments.flatMap({ $0.split(separator: ",") }) {
            guard let cause = AnomalyCause(rawValue: String(name)) else {
                throw CauseArgumentError(name: String(name))
            }
            causes.insert(cause)
        }
        return causes
    }

    /// A byte for checkpoints (0 is no cause); codes are never reused.
    var code: UInt8 {
        switch self {
        case .prediction: 1
        case .jump: 2
        case .rareValue: 3
        case .hour: 4
        case .newHigh: 5
        case .newLow: 6
        case .frozen: 7
        }
    }

    /// The cause of a checkpoint byte; nil for 0 and for a code this build does not know.
    init?(code: UInt8) {
        guard let cause = Self.allCases.first(where: { $0.code == code }) else { return nil }
        self = cause
    }
}

/// A `--cause` argument that names no cause.
public struct CauseArgumentError: Error, CustomStringConvertible {
    public var name: String
    public var description: String {
        "--cause must be one of \(AnomalyCause.names), not \(name)"
    }
}

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
    /// The evidence behind the peak (nil for episodes stored by builds before it was recorded).
    public var cause: AnomalyCause?

    public init(series: String, number: Int, openedAt: Double, closedAt: Double? = nil, peakAt: Double,
                peakScore: Double, value: Double, predicted: Double, lower: Double, upper: Double, threshold: Double,
                points: Int, modelVersion: Int, closeReason: String? = nil, cause: AnomalyCause? = nil) {
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
        self.cause = cause
    }

    /// Equal field by field, counting NaN equal to NaN (non-finite numbers travel as JSON null and come back NaN).
    public func matches(_ o: Episode) -> Bool {
        func same(_ a: Double, _ b: Double) -> Bool { a == b || (a.isNaN && b.isNaN) }
        let closed = closedAt.map { c in o.closedAt.map { same(c, $0) } ?? false } ?? (o.closedAt == nil)
        return series == o.series && number == o.number && same(openedAt, o.openedAt) && closed
            && same(peakAt, o.peakAt) && same(peakScore, o.peakScore) && same(value, o.value)
            && same(predicted, o.predicted) && same(lower, o.lower) && same(upper, o.upper)
            && same(threshold, o.threshold) && points == o.points && modelVersion == o.modelVersion
            && closeReason == o.closeReason && cause == o.cause
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
