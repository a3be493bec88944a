import Detection
import Foundation

/// What an operator said about an episode.
public enum LabelKind: String, Sendable, CaseIterable, Codable {
    /// A false positive: deviations like this one are normal for the series, and its detector learns so.
    case notAnomaly = "not_anomaly"
    /// A real anomaly: stored and listed; detection is unchanged.
    case confirmed
}

/// One label of one episode, with what the daemon needs to learn from it (the episode's series and peak).
public struct LabelRecord: Sendable, Equatable {
    /// Row id; grows with every new or replaced label, so the daemon can poll for ids above the last it saw.
    public var id: Int64
    /// The labelled episode's row id (`omen anomalies` ID, the alerts' `id`).
    public var anomalyID: Int64
    public var series: String
    public var kind: LabelKind
    public var note: String?
    /// Wall time of the label, Unix seconds.
    public var createdAt: Double
    /// The episode's peak: when (data time), its score, the value and the prediction (NaN when not stored).
    public var peakAt: Double
    public var peakScore: Double
    public var peakValue: Double
    public var peakPredicted: Double

    public init(id: Int64, anomalyID: Int64, series: String, kind: LabelKind, note: String?, createdAt: Double,
                peakAt: Double, peakScore: Double, peakValue: Double = .nan, peakPredicted: Double = .nan) {
        self.id = id
        self.anomalyID = anomalyID
        self.series = series
        self.kind = kind
        self.note = note
        self.createdAt = createdAt
        self.peakAt = peakAt
        self.peakScore = peakScore
        self.peakValue = peakValue
        self.peakPredicted = peakPredicted
    }
}

/// A mute: series whose key matches `pattern` open no episodes and are not learned from between the two times.
public struct MuteRecord: Sendable, Equatable {
    public var id: Int64
    /// Glob over series keys: `*` any run of characters, `?` one character (as `[[override]]`).
    public var pattern: String
    /// Wall time, Unix seconds.
    public var startsAt: Double
    public var endsAt: Double
    public var reason: String?
    public var createdAt: Double
    /// When `omen unmute` ended it early; nil otherwise.
    public var liftedAt: Double?

    public init(id: Int64, pattern: String, startsAt: Double, endsAt: Double, reason: String?, createdAt: Double,
                liftedAt: Double?) {
        self.id = id
        self.pattern = pattern
        self.startsAt = startsAt
        self.endsAt = endsAt
        self.reason = reason
        self.createdAt = createdAt
        self.liftedAt = liftedAt
    }

    /// Whether the mute holds at wall time `now`.
    public func isActive(at now: Double) -> Bool {
        liftedAt == nil && startsAt <= now && now < endsAt
    }
}

/// `omen anomalies --label`: which episodes to list by their label.
public enum LabelFilter: Sendable, Equatable {
    /// Labelled with this kind.
    case kind(LabelKind)
    /// Labelled with any kind.
    case labelled
    /// Not labelled.
    case none
    /// Every episode (no filter).
    case any

    /// `not_anomaly`, `confirmed`, `labelled`, `none` or `any` (also with hyphens); nil for anything else.
    public init?(argument: String) {
        let text = argument.replacingOccurrences(of: "-", with: "_")
        if let kind = LabelKind(rawValue: text) {
            self = .kind(kind)
            return
        }
        switch text {
        case "labelled", "labeled": self = .labelled
        case "none", "unlabelled", "unlabeled": self = .none
        case "any", "all": self = .any
        default: return nil
        }
    }
}
