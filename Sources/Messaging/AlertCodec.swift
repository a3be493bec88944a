// Alerts on the PUB socket: topic `anomaly/<event>/<series key>`, then one JSON object.
//
// The body is written by hand (one per episode event; cheap and byte-stable) and read back with Foundation's
// JSONDecoder, which is only used by `omen tail` and tests.
import Detection
import Foundation

/// An alert as a subscriber sees it: the decoded JSON body of one published episode event.
public struct Alert: Sendable, Equatable, Codable {
    /// `open`, `update` or `close`.
    public var event: EpisodeEventKind
    /// The episode's database id.
    public var id: Int64
    public var series: String
    /// Timestamp (Unix seconds) of the point that caused the event.
    public var ts: Double
    public var openedAt: Double
    /// Set on `close`.
    public var closedAt: Double?
    /// Value, prediction and expected band at the episode's peak (NaN when the publisher had none).
    public var value: Double
    public var predicted: Double
    public var lower: Double
    public var upper: Double
    public var score: Double
    public var threshold: Double
    public var modelVersion: Int
    /// Points in the episode so far.
    public var points: Int
    /// Per-series episode number.
    public var episode: Int?
    public var peakAt: Double?
    public var peakScore: Double?
    /// Why a close happened other than by `close_after` normal points (e.g. "restart").
    public var reason: String?
    /// The version of the omen that published the alert (nil from publishers before 0.13).
    public var omenVersion: String?

    enum CodingKeys: String, CodingKey {
        case event, id, series, ts, value, predicted, lower, upper, score, threshold, points, episode, reason
        case omenVersion = "omen_version"
        case openedAt = "opened_at", closedAt = "closed_at", modelVersion = "model_version"
        case peakAt = "peak_at", peakScore = "peak_score"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        // Non-finite numbers travel as JSON null.
        func number(_ key: CodingKeys) throws -> Double { try c.decodeIfPresent(Double.self, forKey: key) ?? .nan }
        event = try c.decode(EpisodeEventKind.self, forKey: .event)
        id = try c.decode(Int64.self, forKey: .id)
        series = try c.decode(String.self, forKey: .series)
        ts = try number(.ts)
        openedAt = try number(.openedAt)
        closedAt = try c.decodeIfPresent(Double.self, forKey: .closedAt)
        value = try number(.value)
        predicted = try number(.predicted)
        lower = try number(.lower)
        upper = try number(.upper)
        score = try number(.score)
        threshold = try number(.threshold)
        modelVersion = try c.decode(Int.self, forKey: .modelVersion)
        points = try c.decode(Int.self, forKey: .points)
        episode = try c.decodeIfPresent(Int.self, forKey: .episode)
        peakAt = try c.decodeIfPresent(Double.self, forKey: .peakAt)
        peakScore = try c.decodeIfPresent(Double.self, forKey: .peakScore)
        reason = try c.decodeIfPresent(String.self, forKey: .reason)
        omenVersion = try c.decodeIfPresent(String.self, forKey: .omenVersion)
    }

    /// The alert `AlertCodec.body(for:id:)` describes, for comparisons in tests and tools.
    public init(event: EpisodeEvent, id: Int64) {
        self.event = event.kind
        self.id = id
        series = event.series
        ts = event.timestamp
        openedAt = event.openedAt
        closedAt = event.closedAt
        value = event.value
        predicted = event.predicted
        lower = event.lower
        upper = event.upper
        score = event.score
        threshold = event.threshold
        modelVersion = event.modelVersion
        points = event.points
        episode = event.episode
        peakAt = event.peakAt
        peakScore = event.peakScore
        reason = event.reason
        omenVersion = OmenVersion.string
    }

    /// Equal, counting NaN equal to NaN (non-finite numbers come back as NaN).
    public func matches(_ other: Alert) -> Bool {
        func same(_ a: Double, _ b: Double) -> Bool { a == b || (a.isNaN && b.isNaN) }
        func same(_ a: Double?, _ b: Double?) -> Bool {
            switch (a, b) {
            case (nil, nil): return true
            case let (x?, y?): return same(x, y)
            default: return false
            }
        }
        return event == other.event && id == other.id && series == other.series && same(ts, other.ts)
            && same(openedAt, other.openedAt) && same(closedAt, other.closedAt) && same(value, other.value)
            && same(predicted, other.predicted) && same(lower, other.lower) && same(upper, other.upper)
            && same(score, other.score) && same(threshold, other.threshold) && modelVersion == other.modelVersion
            && points == other.points && episode == other.episode && same(peakAt, other.peakAt)
            && same(peakScore, other.peakScore) && reason == other.reason
    }
}

/// Why an alert message could not be read.
public enum MessagingError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The topic is not `anomaly/<open|update|close>/<series>`.
    case badAlertTopic(String)
    /// The body is not the alert JSON Omen publishes.
    case badAlertBody(String)
    /// Topic and body disagree on the event or the series.
    case alertTopicMismatch(topic: String, event: String, series: String)
    /// An input file for `omen publish` could not be read.
    case unreadableInput(path: String, reason: String)

    public var description: String {
        switch self {
        case .badAlertTopic(let topic):
            return "Alert topic \"\(topic.prefix(200))\" is not anomaly/<open|update|close>/<series>; is the endpoint an Omen alert socket?"
        case .badAlertBody(let reason):
            return "Alert body is not Omen's alert JSON (\(reason)); check that publisher and subscriber run the same Omen version."
        case let .alertTopicMismatch(topic, event, series):
            return "Alert topic \"\(topic.prefix(200))\" does not match its body (event \(event), series \(series.prefix(200))); the publisher is inconsistent."
        case let .unreadableInput(path, reason):
            return "Cannot read \(path): \(reason). Check the path and permissions, or pass - for standard input."
        }
    }
}

/// Topic and body of alert messages, and their decoding.
public enum AlertCodec {
    /// Every alert topic starts with this; subscribe to it (or `anomaly/open/` …) on the alert PUB.
    public static let topicPrefix = "anomaly/"

    /// `anomaly/<event>/<series key>`, so subscribers filter by event and series prefix.
    public static func topic(for event: EpisodeEvent) -> String {
        "\(topicPrefix)\(event.kind.rawValue)/\(event.series)"
    }

    /// The subscription prefix for one event kind and a series-key prefix.
    public static func subscription(event: EpisodeEventKind, seriesPrefix: String = "") -> String {
        "\(topicPrefix)\(event.rawValue)/\(seriesPrefix)"
    }

    /// The JSON body: one object, non-finite numbers as null, `closed_at` and `reason` only when set.
    public static func body(for event: EpisodeEvent, id: Int64) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(320 + event.series.utf8.count)
        func key(_ name: String, first: Bool = false) {
            if !first { out.append(ASCII.comma) }
            out.append(ASCII.quote)
            out.append(contentsOf: name.utf8)
            out.append(contentsOf: [ASCII.quote, ASCII.colon])
        }
        func number(_ name: String, _ value: Double) {
            key(name)
            if value.isFinite { appendNumber(value, to: &out) } else { out.append(contentsOf: Array("null".utf8)) }
        }
        out.append(ASCII.openBrace)
        key("event", first: true)
        appendJSONString(event.kind.rawValue, to: &out)
        key("id")
        out.append(contentsOf: String(id).utf8)
        key("series")
        appendJSONString(event.series, to: &out)
        number("ts", event.timestamp)
        number("opened_at", event.openedAt)
        if let closedAt = event.closedAt { number("closed_at", closedAt) }
        number("value", event.value)
        number("predicted", event.predicted)
        number("lower", event.lower)
        number("upper", event.upper)
        number("score", event.score)
        number("threshold", event.threshold)
        key("model_version")
        out.append(contentsOf: String(event.modelVersion).utf8)
        key("points")
        out.append(contentsOf: String(event.points).utf8)
        key("episode")
        out.append(contentsOf: String(event.episode).utf8)
        number("peak_at", event.peakAt)
        number("peak_score", event.peakScore)
        if let reason = event.reason {
            key("reason")
            appendJSONString(reason, to: &out)
        }
        key("omen_version")
        appendJSONString(OmenVersion.string, to: &out)
        out.append(ASCII.closeBrace)
        return out
    }

    /// Both frames of an alert message, ready for `ZMQSocket.send(frames:)`.
    public static func frames(for event: EpisodeEvent, id: Int64) -> [[UInt8]] {
        [Array(topic(for: event).utf8), body(for: event, id: id)]
    }

    /// Reads an alert message back, checking that topic and body agree.
    public static func decode(topic: [UInt8], body: [UInt8]) throws(MessagingError) -> Alert {
        let topicText = String(decoding: topic, as: UTF8.self)
        guard topicText.hasPrefix(topicPrefix) else { throw .badAlertTopic(topicText) }
        let rest = topicText.dropFirst(topicPrefix.count)
        guard let slash = rest.firstIndex(of: "/"), let kind = EpisodeEventKind(rawValue: String(rest[..<slash])) else {
            throw .badAlertTopic(topicText)
        }
        let series = String(rest[rest.index(after: slash)...])
        let alert: Alert
        do {
            alert = try JSONDecoder().decode(Alert.self, from: Data(body))
        } catch {
            throw .badAlertBody(Self.describe(error))
        }
        guard alert.event == kind, alert.series == series else {
            throw .alertTopicMismatch(topic: topicText, event: alert.event.rawValue, series: alert.series)
        }
        return alert
    }

    /// Reads an alert message given as text frames.
    public static func decode(topic: String, body: String) throws(MessagingError) -> Alert {
        try decode(topic: Array(topic.utf8), body: Array(body.utf8))
    }

    private static func describe(_ error: any Error) -> String {
        switch error as? DecodingError {
        case .keyNotFound(let key, _)?: return "missing \"\(key.stringValue)\""
        case .typeMismatch(_, let context)?, .valueNotFound(_, let context)?:
            return "wrong type at \"\(context.codingPath.map(\.stringValue).joined(separator: "."))\""
        case .dataCorrupted(let context)?:
            let path = context.codingPath.map(\.stringValue).joined(separator: ".")
            return path.isEmpty ? "not valid JSON" : "bad value at \"\(path)\""
        default: return "\(error)"
        }
    }
}
