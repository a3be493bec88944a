import Detection
import Testing
@testable import Messaging

@Suite struct JSONLinesTests {
    /// The documented object yields its point.
    @Test func documentedForm() {
        let (points, summary) = parse(#"{"series":"web01.cpu.user","value":12.5,"ts":1700000000.25}"#, format: .json)
        #expect(points == [Point(key: "web01.cpu.user", timestamp: 1_700_000_000.25, value: 12.5)])
        #expect(summary.rejected == 0)
    }

    /// Aliases `key`/`timestamp`/`time`, ISO-8601 strings, unknown members of any shape.
    @Test func aliasesAndExtras() {
        let text = """
        { "key" : "a", "value" : 3.5, "timestamp" : "2026-11-27T10:00:00Z" , "tags": {"x": [1, {"y": "}"}]}, "ok": true}
        {"time":1700000000,"extra":null,"value":-2,"series":"b"}
        {"series":"c","value":1e2,"ts":"2026-11-27T11:00:00.5+01:00"}
        """
        let (points, summary) = parse(text, format: .json)
        #expect(summary.rejected == 0)
        #expect(points == [
            Point(key: "a", timestamp: 1_795_773_600, value: 3.5),
            Point(key: "b", timestamp: 1_700_000_000, value: -2),
            Point(key: "c", timestamp: 1_795_773_600.5, value: 100),
        ])
    }

    /// Escapes in the series name are decoded, including surrogate pairs, and a missing ts takes the receive time;
    /// an escape that decodes to a control character (`\n`, `\u0000`) makes the key refused.
    @Test func escapedKey() {
        let (points, _) = parse(#"{"series":"a\"b\\c\/d\u00e9\ud83d\ude00","value":1}"#, format: .json, receivedAt: 1_700_000_000)
        #expect(points == [Point(key: "a\"b\\c/dé😀", timestamp: 1_700_000_000, value: 1)])
        let (refused, summary) = parse(#"{"series":"a\n","value":1}"# + "\n" + #"{"series":"b\u0000","value":1}"#, format: .json)
        #expect(refused.isEmpty && summary.controlCharacter == 2)
    }

    /// Broken JSON, missing members, wrong types and trailing junk are malformed; null/NaN values are non-finite.
    @Test func rejections() {
        let text = """
        {"series":"a","value":1
        {"value":1}
        {"series":"a"}
        {"series":1,"value":1}
        {"series":"a","value":1} x
        {"series":"a","value":"abc"}
        {}
        {"series":"a","value":null}
        {"series":"a","value":NaN}
        {"series":"a","value":1,"ts":"yesterday"}
        {"series":"a\\ud800","value":1}
        """
        let (points, summary) = parse(text, format: .json)
        #expect(points.isEmpty)
        #expect(summary.malformed == 7)
        #expect(summary.nonFinite == 2)
        #expect(summary.badTimestamp == 1)
        #expect(summary.invalidUTF8 == 1)
    }

    /// Only JSON numbers are numbers: a number in a string, hex, a leading `+` or zero, a bare `.5` or `5.`, and a
    /// NUL inside the token are malformed (value and ts alike); ISO-8601 strings stay valid times.
    @Test func onlyJSONNumbers() {
        var payload: [UInt8] = []
        for value in [#""5""#, "0x1p3", "+5", "05", ".5", "5.", "1e", "0x10", "true"] {
            payload += Array(#"{"series":"a","value":\#(value),"ts":1700000000}"#.utf8) + [0x0A]
        }
        for ts in [#""1700000000""#, "+1700000000", "0x1p3"] {
            payload += Array(#"{"series":"a","value":1,"ts":\#(ts)}"#.utf8) + [0x0A]
        }
        payload += Array(#"{"series":"a","value":1"#.utf8) + [0x00] + Array(#"2,"ts":1700000000}"#.utf8) + [0x0A]
        payload += Array(#"{"series":"ok","value":-0.5e1,"ts":1700000000}"#.utf8) + [0x0A]
        var parser = PayloadParser(format: .json)
        var points: [Point] = []
        let summary = parser.parse(payload, receivedAt: now, into: &points)
        #expect(points == [Point(key: "ok", timestamp: 1_700_000_000, value: -5)])
        #expect(summary.malformed == 9 + 2 + 1)
        #expect(summary.badTimestamp == 1)
    }
}
