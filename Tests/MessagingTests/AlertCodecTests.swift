import Detection
import Foundation
import Testing
@testable import Messaging

@Suite struct AlertCodecTests {
    static func event(series: String, kind: EpisodeEventKind = .open, closedAt: Double? = nil, reason: String? = nil,
                      value: Double = 97.25) -> EpisodeEvent {
        EpisodeEvent(kind: kind, timestamp: 1_700_000_060, score: 0.998, episode: Episode(
            series: series, number: 3, openedAt: 1_700_000_000, closedAt: closedAt, peakAt: 1_700_000_030,
            peakScore: 0.9991, value: value, predicted: 12.5, lower: 10, upper: 15, threshold: 0.99, points: 7,
            modelVersion: 4, closeReason: reason))
    }

    /// The topic is `anomaly/<event>/<series>`.
    @Test func topic() {
        #expect(AlertCodec.topic(for: Self.event(series: "web01.cpu")) == "anomaly/open/web01.cpu")
        #expect(AlertCodec.topic(for: Self.event(series: "a b", kind: .close)) == "anomaly/close/a b")
        #expect(AlertCodec.subscription(event: .update, seriesPrefix: "web") == "anomaly/update/web")
    }

    /// The body carries the documented members, and optional ones only when set.
    @Test func bodyMembers() throws {
        let body = AlertCodec.body(for: Self.event(series: "s"), id: 42)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(body)) as? [String: Any])
        for key in ["event", "id", "series", "ts", "opened_at", "value", "predicted", "lower", "upper", "score",
                    "threshold", "model_version", "points", "omen_version"] {
            #expect(object[key] != nil, "\(key)")
        }
        #expect(object["closed_at"] == nil && object["reason"] == nil)
        #expect(object["id"] as? Int == 42 && object["event"] as? String == "open")
        #expect(object["omen_version"] as? String == OmenVersion.string)
    }

    /// Encode → decode returns the same alert for awkward keys, non-finite numbers (as null) and close details.
    @Test(arguments: ["web01.cpu.user", "quote\"back\\slash", "ctl\u{1}\n\t\u{7F}", "unicodé 😀/with/slashes",
                      #"cpu,host=a\ b usage"#, ""])
    func roundTrip(series: String) throws {
        for event in [Self.event(series: series),
                      Self.event(series: series, kind: .close, closedAt: 1_700_000_120, reason: "restart \"now\""),
                      Self.event(series: series, kind: .update, value: .nan)] {
            let frames = AlertCodec.frames(for: event, id: Int64.max)
            let alert = try AlertCodec.decode(topic: frames[0], body: frames[1])
            #expect(alert.matches(Alert(event: event, id: Int64.max)))
            #expect(String(decoding: frames[1], as: UTF8.self).contains("null") == !event.value.isFinite)
        }
    }

    /// Foreign topics, broken bodies and topic/body disagreements are reported, not crashed on.
    @Test func decodeErrors() {
        let body = AlertCodec.body(for: Self.event(series: "s"), id: 1)
        #expect(throws: MessagingError.badAlertTopic("metrics/x")) { try AlertCodec.decode(topic: Array("metrics/x".utf8), body: body) }
        #expect(throws: MessagingError.badAlertTopic("anomaly/opened/s")) { try AlertCodec.decode(topic: Array("anomaly/opened/s".utf8), body: body) }
        #expect(throws: MessagingError.alertTopicMismatch(topic: "anomaly/open/t", event: "open", series: "s")) {
            try AlertCodec.decode(topic: Array("anomaly/open/t".utf8), body: body)
        }
        #expect(throws: MessagingError.self) { try AlertCodec.decode(topic: "anomaly/open/s", body: "{\"event\":\"open\"}") }
        #expect(throws: MessagingError.self) { try AlertCodec.decode(topic: "anomaly/open/s", body: "not json") }
    }

    /// The text line for `omen tail` names the event, series and score.
    @Test func textFormat() {
        let line = AlertFormatter.text(Alert(event: Self.event(series: "web01.cpu"), id: 9))
        #expect(line.hasPrefix("2023-11-14T22:14:20Z OPEN   web01.cpu value=97.250"))
        #expect(line.contains("score=0.998") && line.contains("id=9"))
    }
}

@Suite struct AlertCauseTests {
    /// The cause travels as `cause` when the episode has one, and is left out when it has none; a cause this build
    /// does not know (a newer publisher's) reads as none rather than failing the alert.
    @Test func causeTravelsAndUnknownCausesReadAsNone() throws {
        var event = AlertCodecTests.event(series: "s")
        event.cause = .newHigh
        let body = String(decoding: AlertCodec.body(for: event, id: 5), as: UTF8.self)
        #expect(body.contains("\"cause\":\"new-high\""), "\(body)")
        let alert = try AlertCodec.decode(topic: AlertCodec.topic(for: event), body: body)
        #expect(alert.cause == .newHigh && alert.matches(Alert(event: event, id: 5)))
        #expect(AlertFormatter.text(alert).contains(" cause=new-high"))
        let without = String(decoding: AlertCodec.body(for: AlertCodecTests.event(series: "s"), id: 5), as: UTF8.self)
        #expect(!without.contains("cause"))
        let future = body.replacingOccurrences(of: "new-high", with: "gremlins")
        #expect(try AlertCodec.decode(topic: AlertCodec.topic(for: event), body: future).cause == nil)
    }
}
