// Alerts on the PUB socket: topic `anomaly/<event>/<series key>`, then one JSON object.
//
// The body is written by hand (one per episode event; cheap and byte-stable) and read back with Foundation's
// JSONDecoder, which is only used by `omen tail` and tests.
import Detection
import Foundation

/// An alert as a subscriber sees it: the decoded JSON body of one published episode event, with the database id
/// of its episode. Reads of the event's and the episode's fields go through (`alert.kind`, `alert.series`).
@dynamicMemberLookup
public struct Alert: Sendable, Equatable, Decodable {
    /// The episode's database id.
    public var id: Int64
    public var event: EpisodeEvent
    /// The version of the omen that published the alert (nil from publishers before 0.13).
    public var omenVersion: String?

    /// The alert `AlertCodec.body(for:id:)` describes, for comparisons in tests and tools.
    public init(event: EpisodeEvent, id: Int64) {
        self.event = event
        self.id = id
        omenVersion = OmenVersion.string
    }

    public subscript<T>(dynamicMember path: WritableKeyPath<EpisodeEvent, T>) -> T {
        get { event[keyPath: path] }
        set { event[keyPath: path] = newValue }
    }

    enum CodingKeys: String, CodingKey {
        case event, id, series, ts, value, predicted, lower, upper, score, threshold, points, episode, reason, cause
        case openedAt = "opened_at", closedAt = "closed_at", modelVersion = "model_version"
        case peakAt = "peak_at", peakScore = "peak_score"
        case omenVersion = "omen_version"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        // Non-finite numbers travel as JSON null.
        func number(_ key: CodingKeys) throws -> Double { try c.decodeIfPresent(Double.self, forKey: key) ?? .nan }
        id = try c.decode(Int64.self, forKey: .id)
        event = EpisodeEvent(
            kind: try c.decode(EpisodeEventKind.self, forKey: .event), timestamp: try number(.ts),
            score: try number(.score),
            episode: Episode(
                series: try c.decode(String.self, forKey: .series),
                number: try c.decodeIfPresent(Int.self, forKey: .episode) ?? 0, openedAt: try number(.openedAt),
                closedAt: try c.decodeIfPresent(Double.self, forKey: .closedAt), peakAt: try number(.peakAt),
                peakScore: try number(.peakScore), value: try number(.value), predicted: try number(.predicted),
                lower: try number(.lower), upper: try number(.upper), threshold: try number(.threshold),
                points: try c.decode(Int.self, forKey: .points),
                modelVersion: try c.decode(Int.self, forKey: .modelVersion),
                closeReason: try c.decodeIfPresent(String.self, forKey: .reason),
                // A cause this build does not know (a newer publisher's) reads as none, not as a bad alert.
                cause: (try c.decodeIfPresent(String.self, forKey: .cause)).flatMap(AnomalyCause.init(rawValue:))))
        omenVersion = try c.decodeIfPresent(String.self, forKey: .omenVersion)
    }

    /// Equal, counting NaN equal to NaN (non-finite numbers come back as NaN).
    public func matches(_ other: Alert) -> Bool {
        id == other.id && event.matches(other.event)
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

    /// The JSON body: one object, non-finite numbers as null, `closed_at`, `cause` and `reason` only when set.
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
        out.append(contentsOf: String(event.number).utf8)
        number("peak_at", event.peakAt)
        number("peak_score", event.peakScore)
        if let cause = event.cause {
            key("cause")
            appendJSONString(cause.rawValue, to: &out)
        }
        if let reason = event.closeReason {
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
        guard alert.kind == kind, alert.series == series else {
            throw .alertTopicMismatch(topic: topicText, event: alert.kind.rawValue, series: alert.series)
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
